//! What Slurm Factory hands to Spack: the environment, the module files and
//! the container scripts, rendered with minijinja from `templates/`.
//!
//! The built-in templates are the repository's `templates/` directory,
//! embedded at compile time. A user templates dir overrides them file by
//! file (and may add files). Every `*.j2` whose name does not start with `_`
//! is rendered, unless it renders to nothing; `_`-files are includes. Output names drop `.j2`, and
//! `spack/` files land at the top: `spack/spack.yaml.j2` -> `spack.yaml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use include_dir::{include_dir, Dir};
use minijinja::{Environment, ErrorKind, UndefinedBehavior, Value};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::kinds::GpuVendor;
use crate::layout::Paths;
use crate::request::{Compiler, PackageType, ResolvedRequest, SlurmVersion};
use crate::settings::Settings;
use crate::toolchain::Toolchain;

/// Where toolchain files live in the templates.
const TOOLCHAINS_DIR: &str = "toolchains/";

static BUILTIN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../templates");

/// Slurm Factory's own Spack package repository, pushed with the recipe
/// (`spack-repo/spack_repo/slurm_factory/...`) and listed first in repos.yaml.
pub const SPACK_REPO_DIR: &str = "spack-repo/";

/// The environment variable a module reads for a relocated prefix.
pub const PREFIX_ENV: &str = "SLURM_INSTALL_PREFIX";
/// Where a package is installed when nobody relocates it.
pub const DEFAULT_INSTALL_ROOT: &str = "/opt/slurm";
/// `SLURM_CONF` the module sets when the user has none.
pub const DEFAULT_SLURM_CONF: &str = "/etc/slurm/slurm.conf";

/// Where a template's text came from, for error messages.
#[derive(Debug, Clone)]
enum Origin {
    Builtin,
    User(PathBuf),
}

/// The template set: the built-ins with a user's overrides on top.
#[derive(Debug, Clone)]
pub struct Templates {
    /// Template name (relative path with `.j2`) -> (text, origin).
    sources: BTreeMap<String, (String, Origin)>,
}

/// What the templates see. Every field is documented in templates/README.md.
#[derive(Debug, Clone, Serialize)]
pub struct RecipeContext {
    /// `slurm-26.05-default-x86_64_v3`.
    pub artifact_name: String,
    pub slurm: SlurmVersion,
    pub package: PackageContext,
    /// The Spack target for every package.
    pub target: String,
    pub jobs: u32,
    /// `system` or `spack-gcc`.
    pub compiler: &'static str,
    pub spack: SpackContext,
    /// Spack and clingo come from copies pushed into the container, not from the network.
    pub offline: bool,
    /// An `upstream_mirror` is mounted at `paths.upstream_mirror`.
    pub upstream_mirror: bool,
    /// The OS the build runs on, when the request names one.
    pub toolchain: Option<Toolchain>,
    /// How provision installs packages: `apt` (also without a toolchain) or `dnf`.
    pub package_manager: &'static str,
    /// The container layout ([`crate::layout`]).
    pub paths: Paths,
    pub module: ModuleContext,
    /// Published buildcaches Spack installs from besides the local one (`--from`).
    pub install_from: Vec<InstallFrom>,
}

/// A published buildcache a build installs from.
#[derive(Debug, Clone, Serialize)]
pub struct InstallFrom {
    /// The mirror's name in spack.yaml: `install-from-<n>`.
    pub name: String,
    /// Its URL inside the build instance (a `file://` one is mounted).
    pub url: String,
    /// Spack installs only entries signed by a trusted key (`--trust`).
    pub signed: bool,
    /// A registry or bucket that wants the `--from-credentials` login: its
    /// mirror names the variables install.sh sets from `paths.registry_login`.
    pub login: bool,
    /// `file` (a directory), `oci` (a registry) or `s3` (a bucket, which
    /// Spack reads with boto3, at `s3_endpoint` or Amazon S3). install.sh
    /// reads a registry's or bucket's index before the install.
    pub kind: &'static str,
    pub s3_endpoint: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PackageContext {
    /// `default`, `gpu` or `minimal`.
    pub kind: &'static str,
    /// `default`, `cuda`, `rocm` or `minimal`.
    pub label: &'static str,
    /// `cuda`, `rocm`, or none (templates see the lowercase name).
    pub gpu_vendor: Option<GpuVendor>,
    /// `cuda_arch` or `amdgpu_target` values; empty = the templates' defaults.
    pub gpu_arch: Vec<String>,
    pub summary: &'static str,
    /// Sonames of the GPU driver taken from the target system, never bundled
    /// (the verify script allows them; see `package::driver_libraries`).
    pub driver_libraries: Vec<&'static str>,
    /// Soname globs of the base system (glibc's family, the loader,
    /// libgcc_s), never bundled: `package::Allowlist::base_system`.
    pub base_libraries: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SpackContext {
    pub git_url: String,
    pub git_ref: String,
    /// The commit `git_ref` must be (`""`: not pinned); see
    /// [`crate::settings::pinned_commit`].
    pub git_commit: &'static str,
    pub packages_git_url: String,
    pub packages_ref: String,
    pub packages_commit: &'static str,
    /// Spack's `concurrent_packages`: packages built at once.
    pub concurrent_packages: u64,
}

pub use crate::options::ModuleLayout;
use crate::settings::pinned_commit;

/// Where each module file goes in the package: the layout, and the
/// versions only the solved environment knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleTree {
    pub layout: ModuleLayout,
    /// The module version of Slurm (`slurm.name`).
    pub slurm: String,
    /// (gcc, openmpi) versions when the package has OpenMPI.
    pub mpi: Option<(String, String)>,
}

impl ModuleTree {
    /// The tree for a package whose environment `spack.lock` solved (no lock,
    /// as for a recipe without Spack: no OpenMPI).
    pub fn new(layout: ModuleLayout, slurm: &str, lock: &Path) -> ModuleTree {
        let versions = std::fs::read(lock)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|lock| {
                let specs = lock["concrete_specs"].as_object()?;
                let version = |name: &str| {
                    specs
                        .values()
                        .find(|s| s["name"] == name)
                        .and_then(|s| s["version"].as_str().map(String::from))
                };
                Some((version("gcc")?, version("openmpi")?))
            });
        ModuleTree {
            layout,
            slurm: slurm.into(),
            mpi: versions,
        }
    }

    /// The package path of a rendered module file; `None`: not packaged.
    fn place(&self, rendered: &str) -> Option<String> {
        match (self.layout, rendered, &self.mpi) {
            (_, "modules/slurm.tcl", _) => Some("modules/tcl/slurm".into()),
            (ModuleLayout::Flat, "modules/slurm.lua", _) => Some("modules/lmod/slurm.lua".into()),
            (ModuleLayout::Hierarchy, "modules/slurm.lua", _) => {
                Some(format!("modules/lmod/Core/slurm/{}.lua", self.slurm))
            }
            (ModuleLayout::Hierarchy, "modules/gcc.lua", Some((gcc, _))) => {
                Some(format!("modules/lmod/Core/gcc/{gcc}.lua"))
            }
            (ModuleLayout::Hierarchy, "modules/openmpi.lua", Some((gcc, openmpi))) => Some(
                format!("modules/lmod/Compiler/gcc/{gcc}/openmpi/{openmpi}.lua"),
            ),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ModuleContext {
    /// The install prefix used when `prefix_env` is unset.
    pub prefix: String,
    /// The variable that relocates the module: [`PREFIX_ENV`].
    pub prefix_env: &'static str,
    /// `SLURM_CONF` when the user has none.
    pub slurm_conf: &'static str,
    /// Module names this one cannot be loaded with.
    pub conflicts: Vec<&'static str>,
    /// `flat` or `hierarchy` ([`ModuleLayout`]).
    pub layout: &'static str,
}

impl RecipeContext {
    pub fn new(req: &ResolvedRequest, settings: &Settings, offline: bool) -> RecipeContext {
        let (kind, gpu_vendor) = match req.package_type {
            PackageType::Default => ("default", None),
            PackageType::Gpu(v) => ("gpu", Some(v)),
            PackageType::Minimal => ("minimal", None),
        };
        let artifact_name = req.artifact_name();
        RecipeContext {
            module: ModuleContext {
                prefix: format!("{DEFAULT_INSTALL_ROOT}/{artifact_name}"),
                prefix_env: PREFIX_ENV,
                slurm_conf: DEFAULT_SLURM_CONF,
                conflicts: vec!["slurm", "slurm-wlm"],
                layout: ModuleLayout::Flat.as_str(),
            },
            artifact_name,
            slurm: req.slurm.clone(),
            package: PackageContext {
                kind,
                label: req.package_type.label(),
                gpu_vendor,
                gpu_arch: req.gpu_arch.clone(),
                summary: req.package_type.summary(),
                driver_libraries: crate::package::driver_libraries(req.gpu_vendor()).to_vec(),
                base_libraries: crate::package::Allowlist::base_system().patterns().to_vec(),
            },
            target: req.target.clone(),
            jobs: req.jobs,
            compiler: match req.compiler {
                Compiler::System => "system",
                Compiler::SpackGcc => "spack-gcc",
            },
            spack: SpackContext {
                git_url: settings.spack_git_url.clone(),
                git_ref: settings.spack_ref.clone(),
                git_commit: pinned_commit(&settings.spack_git_url, &settings.spack_ref),
                packages_git_url: settings.spack_packages_git_url.clone(),
                packages_ref: settings.spack_packages_ref.clone(),
                packages_commit: pinned_commit(
                    &settings.spack_packages_git_url,
                    &settings.spack_packages_ref,
                ),
                concurrent_packages: settings.spack_concurrent_packages,
            },
            offline,
            upstream_mirror: settings.upstream_mirror.is_some(),
            toolchain: None,
            package_manager: "apt",
            paths: Paths::container(),
            install_from: Vec::new(),
        }
    }

    /// This context with the modules laid out as `layout`.
    pub fn with_module_layout(mut self, layout: ModuleLayout) -> RecipeContext {
        self.module.layout = layout.as_str();
        self
    }

    /// This context for a build that installs from published buildcaches too.
    pub fn with_install_from(self, install_from: Vec<InstallFrom>) -> RecipeContext {
        RecipeContext {
            install_from,
            ..self
        }
    }

    /// The context of a request, with its toolchain (looked up in `templates`).
    pub fn for_request(
        templates: &Templates,
        req: &ResolvedRequest,
        settings: &Settings,
        offline: bool,
    ) -> Result<RecipeContext> {
        let toolchain = templates.toolchain_of(req)?;
        Ok(RecipeContext::new(req, settings, offline).with_toolchain(toolchain))
    }

    /// This context for a build on `toolchain`'s OS.
    pub fn with_toolchain(self, toolchain: Option<Toolchain>) -> RecipeContext {
        RecipeContext {
            package_manager: toolchain
                .as_ref()
                .map_or(self.package_manager, |t| t.package_manager.as_str()),
            toolchain,
            ..self
        }
    }
}

/// Rendered files, keyed by relative output path (`spack.yaml`,
/// `scripts/install.sh`, `modules/slurm.lua`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rendered {
    pub files: BTreeMap<String, String>,
}

impl Rendered {
    /// Writes every file under `dir` (scripts executable), creating folders.
    pub fn write_to(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let mut written = Vec::with_capacity(self.files.len());
        for (name, text) in &self.files {
            let path = dir.join(name);
            write_file(&path, text, name.ends_with(".sh"))?;
            written.push(path);
        }
        Ok(written)
    }
}

impl Rendered {
    /// The rendered files that travel inside the package, by their path in
    /// it: everything under `package/` as it is (config examples, systemd
    /// units), and the modules, one tree per module system (`module use
    /// <prefix>/modules/lmod`, or `modules/tcl`, then `module load slurm`;
    /// `modules/lmod/Core` for the hierarchy), placed by `modules`.
    pub fn package_files(&self, modules: &ModuleTree) -> Vec<(String, &str)> {
        self.files
            .iter()
            .filter_map(|(name, text)| {
                let packaged = match name.strip_prefix("package/") {
                    Some(rest) => rest.to_string(),
                    None if name.starts_with("modules/") => modules.place(name)?,
                    None => return None,
                };
                Some((packaged, text.as_str()))
            })
            .collect()
    }

    /// Writes [`Rendered::package_files`] into the package tree at `root`.
    /// The tree is the build's work: nothing in it is followed (see
    /// [`crate::fsutil::Beneath`]).
    pub fn write_package_files(&self, root: &Path, modules: &ModuleTree) -> Result<()> {
        const WHAT: &str = "writing the package's files";
        let tree = crate::fsutil::Beneath::open(root, WHAT)?;
        for (packaged, text) in self.package_files(modules) {
            tree.write(Path::new(&packaged), &mut text.as_bytes(), 0o644, WHAT)?;
        }
        Ok(())
    }
}

fn write_file(path: &Path, text: &str, executable: bool) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::io("cannot create directory", parent, e))?;
    }
    std::fs::write(path, text).map_err(|e| Error::io("cannot write file", path, e))?;
    if executable {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| Error::io("cannot make executable", path, e))?;
    }
    Ok(())
}

impl Templates {
    /// The built-in templates, with the files of `user_dir` (if any) replacing
    /// or adding to them. Syntax errors are reported here, with file and line.
    pub fn load(user_dir: Option<&Path>) -> Result<Templates> {
        let mut sources = BTreeMap::new();
        for file in builtin_files() {
            let text = file.contents_utf8().unwrap_or_default().to_string();
            sources.insert(path_name(file.path()), (text, Origin::Builtin));
        }
        if let Some(dir) = user_dir {
            let mut found = Vec::new();
            walk(dir, &mut found)?;
            for path in found {
                let rel = path.strip_prefix(dir).unwrap_or(&path);
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| Error::io("cannot read template", &path, e))?;
                let name = path_name(rel);
                // A user's `package.py` replaces a built-in `package.py.j2`
                // (and the other way round): both would write the same file.
                let twin = name
                    .strip_suffix(".j2")
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{name}.j2"));
                if matches!(sources.get(&twin), Some((_, Origin::Builtin))) {
                    sources.remove(&twin);
                }
                sources.insert(name, (text, Origin::User(path)));
            }
        }
        let templates = Templates { sources };
        templates.environment()?;
        Ok(templates)
    }

    /// Writes the built-in templates (not the user's) under `dir`.
    pub fn export(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let mut written = Vec::new();
        for file in builtin_files() {
            let path = dir.join(file.path());
            write_file(&path, file.contents_utf8().unwrap_or_default(), false)?;
            written.push(path);
        }
        Ok(written)
    }

    /// The relative paths `export` writes (`spack/spack.yaml.j2`, ...).
    pub fn builtin_names() -> Vec<String> {
        builtin_files().map(|f| path_name(f.path())).collect()
    }

    /// Every toolchain of these templates (built-in and the user's), by name.
    pub fn toolchains(&self) -> Result<Vec<Toolchain>> {
        parse_toolchains(
            self.sources
                .iter()
                .map(|(f, (text, _))| (f.as_str(), text.as_str())),
        )
    }

    /// The built-in toolchains, read without loading every template (for `--help`).
    pub fn builtin_toolchains() -> Result<Vec<Toolchain>> {
        let files: Vec<(String, &str)> = builtin_files()
            .map(|f| (path_name(f.path()), f.contents_utf8().unwrap_or_default()))
            .collect();
        parse_toolchains(files.iter().map(|(name, text)| (name.as_str(), *text)))
    }

    /// The toolchain `name`: `toolchains/<name>.toml`.
    pub fn toolchain(&self, name: &str) -> Result<Toolchain> {
        let file = format!("{TOOLCHAINS_DIR}{name}.toml");
        match self.source(&file) {
            Some(text) => Toolchain::parse(name, &file, text),
            None => Err(Error::UnknownToolchain {
                name: name.into(),
                known: self
                    .sources
                    .keys()
                    .filter_map(|f| toolchain_name(f).map(String::from))
                    .collect(),
            }),
        }
    }

    /// The toolchain a request names, if any.
    pub fn toolchain_of(&self, req: &ResolvedRequest) -> Result<Option<Toolchain>> {
        req.toolchain
            .as_deref()
            .map(|name| self.toolchain(name))
            .transpose()
    }

    /// The text of one template (the user's where it overrides the built-in).
    pub fn source(&self, name: &str) -> Option<&str> {
        self.sources.get(name).map(|(text, _)| text.as_str())
    }

    /// The text of one built-in template, to start an override from.
    pub fn builtin_source(name: &str) -> Option<&'static str> {
        BUILTIN.get_file(name).and_then(|f| f.contents_utf8())
    }

    /// Renders every non-include template and checks the Spack environment.
    pub fn render(&self, ctx: &RecipeContext) -> Result<Rendered> {
        let env = self.environment()?;
        let mut files = BTreeMap::new();
        for (name, (text, _)) in &self.sources {
            // Plain scripts (relocate.sh, check-libs.sh, sources.py,
            // mpi-allreduce.c) and the Spack package repository's Python
            // recipes are pushed as they are (a recipe ending in .j2 is
            // rendered, like slurm's).
            let plain_script = [".sh", ".py", ".c"].iter().any(|ext| name.ends_with(ext));
            if (name.starts_with("scripts/") && plain_script)
                || (name.starts_with(SPACK_REPO_DIR) && !name.ends_with(".j2"))
            {
                files.insert(name.clone(), text.clone());
                continue;
            }
            if let Some(out) = output_name(name) {
                let text = self.render_in(&env, name, ctx)?;
                // A template that renders to nothing (toolchain.yaml for a
                // system-gcc build) writes no file.
                if !text.trim().is_empty() {
                    files.insert(out, text);
                }
            }
        }
        let spack_yaml = files
            .get("spack.yaml")
            .ok_or_else(|| Error::RecipeInvalid {
                file: "spack.yaml".into(),
                message: "no template renders it (spack/spack.yaml.j2 is missing)".into(),
            })?;
        check_spack_yaml(spack_yaml, ctx)?;
        Ok(Rendered { files })
    }

    /// Renders one template by its name (`spack/spack.yaml.j2`).
    pub fn render_one(&self, name: &str, ctx: &RecipeContext) -> Result<String> {
        let env = self.environment()?;
        self.render_in(&env, name, ctx)
    }

    fn render_in(&self, env: &Environment<'_>, name: &str, ctx: &RecipeContext) -> Result<String> {
        let tmpl = env.get_template(name).map_err(|e| self.error(e))?;
        tmpl.render(minijinja::value::Serde(ctx))
            .map_err(|e| self.error(e))
    }

    fn environment(&self) -> Result<Environment<'static>> {
        let mut env = Environment::new();
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .expect("the default delimiters are valid");
        env.set_syntax(syntax);
        // A misspelt variable in a user template fails instead of rendering "".
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.add_filter("sh", sh_filter);
        env.add_filter("lua", lua_filter);
        env.add_filter("tcl", tcl_filter);
        for (name, (text, _)) in &self.sources {
            if is_template(name) {
                env.add_template_owned(name.clone(), text.clone())
                    .map_err(|e| self.error(e))?;
            }
        }
        Ok(env)
    }

    /// A minijinja error as [`Error::Template`], naming the file it came from.
    fn error(&self, err: minijinja::Error) -> Error {
        let name = err.name().unwrap_or("?").to_string();
        let file = match self.sources.get(&name) {
            Some((_, Origin::User(path))) => path.display().to_string(),
            _ => format!("templates/{name} (built-in)"),
        };
        let user = matches!(self.sources.get(&name), Some((_, Origin::User(_))));
        let mut message = err
            .detail()
            .map(str::to_string)
            .unwrap_or_else(|| err.kind().to_string());
        if err.kind() != ErrorKind::SyntaxError && err.detail().is_some() {
            message = format!("{}: {message}", err.kind());
        }
        Error::Template {
            file,
            line: err.line(),
            message,
            user,
        }
    }
}

fn builtin_files() -> impl Iterator<Item = &'static include_dir::File<'static>> {
    let mut all = Vec::new();
    collect(&BUILTIN, &mut all);
    all.into_iter()
}

fn collect(dir: &'static Dir<'static>, out: &mut Vec<&'static include_dir::File<'static>>) {
    out.extend(dir.files());
    for sub in dir.dirs() {
        collect(sub, out);
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| Error::io("cannot read templates dir", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("cannot read templates dir", dir, e))?;
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// `toolchains/debian12.toml` -> `debian12`; other templates -> none.
fn toolchain_name(file: &str) -> Option<&str> {
    file.strip_prefix(TOOLCHAINS_DIR)?.strip_suffix(".toml")
}

/// The toolchains among (template name, text) pairs.
fn parse_toolchains<'a>(files: impl Iterator<Item = (&'a str, &'a str)>) -> Result<Vec<Toolchain>> {
    files
        .filter_map(|(file, text)| Some(Toolchain::parse(toolchain_name(file)?, file, text)))
        .collect()
}

/// `spack/spack.yaml.j2` with `/` separators on every platform.
fn path_name(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn is_template(name: &str) -> bool {
    name.ends_with(".j2")
}

/// `scripts/install.sh.j2` -> `scripts/install.sh`; includes (`_x.j2`) -> none.
fn output_name(name: &str) -> Option<String> {
    let stem = name.strip_suffix(".j2")?;
    let base = stem.rsplit('/').next().unwrap_or(stem);
    if base.starts_with('_') {
        return None;
    }
    Some(stem.strip_prefix("spack/").unwrap_or(stem).to_string())
}

/// Quotes a value (or each item of a list, space-separated) for a POSIX
/// shell. Plain words stay readable; anything else is single-quoted.
fn sh_filter(value: Value) -> std::result::Result<String, minijinja::Error> {
    if value.kind() == minijinja::value::ValueKind::Seq {
        let items: Vec<String> = value.try_iter()?.map(|v| sh_quote(&scalar(&v))).collect();
        return Ok(items.join(" "));
    }
    Ok(sh_quote(&scalar(&value)))
}

fn scalar(v: &Value) -> String {
    match v.as_str() {
        Some(s) => s.to_string(),
        None => v.to_string(),
    }
}

pub(crate) fn sh_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./:@%+=,".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// A Lua string literal.
fn lua_filter(value: Value) -> String {
    let s = scalar(&value);
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str(r"\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str(r"\n"),
            c if c.is_control() => out.push_str(&format!("\\{}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A Tcl word in braces, which Tcl takes literally (no `$`, `[]` or `\` substitution).
fn tcl_filter(value: Value) -> std::result::Result<String, minijinja::Error> {
    let s = scalar(&value);
    if s.contains(['{', '}', '\\', '\n']) {
        return Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            format!("{s:?} cannot be written as a Tcl word (braces, backslash or newline)"),
        ));
    }
    Ok(format!("{{{s}}}"))
}

/// Parses the rendered environment and checks what every build relies on.
fn check_spack_yaml(text: &str, ctx: &RecipeContext) -> Result<()> {
    let invalid = |message: String| Error::RecipeInvalid {
        file: "spack.yaml".into(),
        message,
    };
    let doc: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| invalid(format!("not valid YAML: {e}")))?;
    let spack = doc
        .get("spack")
        .ok_or_else(|| invalid("no top-level `spack:` key".into()))?;
    let specs: Vec<&str> = spack
        .get("specs")
        .and_then(|s| s.as_sequence())
        .map(|s| s.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let slurm_spec = format!("slurm@{}", ctx.slurm.spack);
    let slurm = specs
        .iter()
        .find(|s| s.split_whitespace().next() == Some(slurm_spec.as_str()))
        .ok_or_else(|| invalid(format!("`spack.specs` has no `{slurm_spec}` spec")))?;
    if let Some(v) = ctx.package.gpu_vendor.map(GpuVendor::slurm_variant) {
        if !slurm.split_whitespace().any(|w| w == v) {
            return Err(invalid(format!(
                "the slurm spec lacks `{v}` for a GPU package"
            )));
        }
    }
    if ctx.package.kind != "minimal" && !specs.iter().any(|s| s.starts_with("openmpi")) {
        return Err(invalid("the package needs an `openmpi` spec".into()));
    }
    let target = format!("target={}", ctx.target);
    let requires = spack
        .get("packages")
        .and_then(|p| p.get("all"))
        .and_then(|a| a.get("require"));
    let has_target = match requires {
        Some(serde_yaml::Value::String(s)) => s.split_whitespace().any(|w| w == target),
        Some(serde_yaml::Value::Sequence(seq)) => seq
            .iter()
            .filter_map(|v| v.as_str())
            .any(|s| s.split_whitespace().any(|w| w == target)),
        _ => false,
    };
    if !has_target {
        return Err(invalid(format!(
            "`packages: all: require:` does not set `{target}`"
        )));
    }
    if spack.get("concretizer").and_then(|c| c.get("unify")) != Some(&serde_yaml::Value::Bool(true))
    {
        return Err(invalid(
            "`concretizer: unify:` must be true (Slurm and OpenMPI share PMIx)".into(),
        ));
    }
    // `mirrors::` (Spack's "replace, do not merge") reads as the key `mirrors:`.
    let mirror_urls: Vec<String> = spack
        .get("mirrors")
        .or_else(|| spack.get("mirrors:"))
        .and_then(|m| m.as_mapping())
        .map(|m| {
            m.values()
                .filter_map(|v| v.as_str().or_else(|| v.get("url").and_then(|u| u.as_str())))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    for (what, dir) in [
        ("buildcache", &ctx.paths.buildcache),
        ("source mirror", &ctx.paths.mirror),
    ] {
        let url = format!("file://{dir}");
        if !mirror_urls.iter().any(|u| u.trim_end_matches('/') == url) {
            return Err(invalid(format!("no mirror points at the {what} `{url}`")));
        }
    }
    let root = spack
        .get("config")
        .and_then(|c| c.get("install_tree"))
        .and_then(|t| t.get("root"))
        .and_then(|r| r.as_str());
    if root != Some(ctx.paths.store.as_str()) {
        return Err(invalid(format!(
            "`config: install_tree: root:` must be `{}`",
            ctx.paths.store
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_keeps_plain_words_and_quotes_the_rest() {
        assert_eq!(sh_quote("x86_64_v3"), "x86_64_v3");
        assert_eq!(
            sh_quote("/opt/slurm-factory/spack"),
            "/opt/slurm-factory/spack"
        );
        assert_eq!(sh_quote(""), "''");
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("$(id)"), "'$(id)'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn quoted_words_survive_a_real_shell() {
        let nasty = ["a b", "$(touch /tmp/x)", "it's", "`id`", "-n", "*", "x;y"];
        let script = nasty
            .iter()
            .map(|s| format!("printf '%s\\n' {}", sh_quote(s)))
            .collect::<Vec<_>>()
            .join("\n");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .output()
            .unwrap();
        let printed = String::from_utf8(out.stdout).unwrap();
        assert_eq!(printed.lines().collect::<Vec<_>>(), nasty);
    }

    #[test]
    fn output_names_drop_j2_includes_and_the_spack_folder() {
        assert_eq!(
            output_name("spack/spack.yaml.j2").as_deref(),
            Some("spack.yaml")
        );
        assert_eq!(
            output_name("scripts/install.sh.j2").as_deref(),
            Some("scripts/install.sh")
        );
        assert_eq!(output_name("scripts/_env.sh.j2"), None);
        assert_eq!(output_name("README.md"), None);
    }

    #[test]
    fn lua_and_tcl_literals_are_escaped_or_refused() {
        assert_eq!(lua_filter(Value::from("a\"b\\c")), r#""a\"b\\c""#);
        assert_eq!(tcl_filter(Value::from("/opt/x y")).unwrap(), "{/opt/x y}");
        assert!(tcl_filter(Value::from("a}b")).is_err());
    }
}
