//! Checks a relocated package tree on the host: every ELF file must find each library it
//! needs inside the package (through `$ORIGIN`-relative RUNPATH/RPATH entries) or in the
//! allow-list of base-system libraries; symlinks must stay inside; text that still embeds a
//! build prefix is reported. ELF files are only read (goblin), never edited.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::kinds::GpuVendor;

/// Libraries a package may take from the machine it runs on instead of carrying them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allowlist {
    /// Sonames, `*` matching any run of characters (`ld-linux*`).
    patterns: Vec<String>,
}

/// glibc's libraries and the dynamic loader ship with every glibc system and must come from
/// it (they are tied to each other and to the kernel ABI). libgcc_s is there too: glibc's
/// pthread_cancel loads it. libstdc++ is not: a newer compiler's copy must travel with the
/// package.
const BASE_SYSTEM: &[&str] = &[
    "libc.so.*",
    "libm.so.*",
    "libmvec.so.*",
    "libpthread.so.*",
    "libdl.so.*",
    "librt.so.*",
    "libresolv.so.*",
    "libutil.so.*",
    "libanl.so.*",
    "libnss_*.so.*",
    "libthread_db.so.*",
    "libBrokenLocale.so.*",
    "ld-linux*.so.*",
    "ld64.so.*",
    "libgcc_s.so.1",
];

/// Driver-side libraries of GPU stacks: they must match the installed kernel driver, so they
/// are never bundled.
const CUDA_DRIVER: &[&str] = &["libnvidia-ml.so.1", "libcuda.so.1"];
const ROCM_DRIVER: &[&str] = &["librocm_smi64.so.*", "libamd_smi.so.*", "libdrm*.so.*"];

/// The soname patterns of `gpu`'s driver, taken from the system the package runs on.
pub fn driver_libraries(gpu: Option<GpuVendor>) -> &'static [&'static str] {
    match gpu {
        Some(GpuVendor::Cuda) => CUDA_DRIVER,
        Some(GpuVendor::Rocm) => ROCM_DRIVER,
        None => &[],
    }
}

impl Allowlist {
    /// The base-system libraries (glibc family, loader, libgcc_s).
    pub fn base_system() -> Allowlist {
        Allowlist {
            patterns: BASE_SYSTEM.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// The base system plus the driver libraries of `gpu`.
    pub fn for_gpu(gpu: Option<GpuVendor>) -> Allowlist {
        driver_libraries(gpu)
            .iter()
            .fold(Allowlist::base_system(), |list, p| list.with(*p))
    }

    /// One more soname pattern.
    pub fn with(mut self, pattern: impl Into<String>) -> Allowlist {
        self.patterns.push(pattern.into());
        self
    }

    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    pub fn allows(&self, soname: &str) -> bool {
        self.patterns.iter().any(|p| glob_match(p, soname))
    }
}

/// `*` matches any run of characters; everything else literally.
fn glob_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Something that makes the package fail to run somewhere else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// A DT_NEEDED library found neither in the package nor in the allow-list.
    MissingLibrary {
        file: String,
        library: String,
        /// `RUNPATH`, `RPATH` or `none`.
        tag: String,
        search: Vec<String>,
    },
    /// A RUNPATH/RPATH entry that names an absolute directory.
    AbsoluteRunpath {
        file: String,
        tag: String,
        entry: String,
    },
    /// A RUNPATH/RPATH entry relative to the working directory instead of `$ORIGIN`.
    RelativeRunpath {
        file: String,
        tag: String,
        entry: String,
    },
    /// An `$ORIGIN` entry that climbs out of the package.
    RunpathOutsidePackage {
        file: String,
        tag: String,
        entry: String,
    },
    /// A symlink that points out of the package (or nowhere).
    LinkOutsidePackage { file: String, target: String },
    /// A file with the ELF magic that goblin cannot parse.
    BadElf { file: String, reason: String },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::MissingLibrary {
                file,
                library,
                tag,
                search,
            } => {
                if search.is_empty() {
                    write!(
                        f,
                        "{file}: needs {library}, not found in the package (no RUNPATH)"
                    )
                } else {
                    write!(
                        f,
                        "{file}: needs {library}, not found in the package ({tag} {})",
                        search.join(":")
                    )
                }
            }
            Problem::AbsoluteRunpath { file, tag, entry } => write!(
                f,
                "{file}: {tag} entry {entry} is absolute; a relocatable package points only \
                 inside itself ($ORIGIN/...)"
            ),
            Problem::RelativeRunpath { file, tag, entry } => write!(
                f,
                "{file}: {tag} entry {entry} is relative to the working directory, not to $ORIGIN"
            ),
            Problem::RunpathOutsidePackage { file, tag, entry } => {
                write!(f, "{file}: {tag} entry {entry} points outside the package")
            }
            Problem::LinkOutsidePackage { file, target } => {
                write!(f, "{file}: symlink to {target} leaves the package")
            }
            Problem::BadElf { file, reason } => write!(f, "{file}: unreadable ELF file: {reason}"),
        }
    }
}

/// Something worth a look that does not stop the package from running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Warning {
    /// A text file (config example, script, .pc) that still names a build prefix.
    PrefixInText { file: String, prefix: String },
    /// A binary with a build prefix compiled in as a string (a default config path, say).
    PrefixInBinary { file: String, prefix: String },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::PrefixInText { file, prefix } => {
                write!(f, "{file}: text still contains the build prefix {prefix}")
            }
            Warning::PrefixInBinary { file, prefix } => write!(
                f,
                "{file}: binary has the build prefix {prefix} compiled in (a default path; \
                 override it at run time)"
            ),
        }
    }
}

/// The newest symbol version of one base-system family (`GLIBC`, `GLIBCXX`,
/// `CXXABI`, `GCC`) the package's ELF files need from a library it does not
/// carry: a target system older than that cannot run it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VersionNeed {
    pub family: String,
    /// `2.34` of `GLIBC_2.34`.
    pub version: String,
    /// The library that provides it: `libc.so.6`.
    pub library: String,
    /// The first package file (in path order) that needs it.
    pub file: String,
}

impl VersionNeed {
    /// `GLIBC_2.34` -> (`GLIBC`, `2.34`), for the families of the base system.
    fn parse(symbol_version: &str) -> Option<(&str, &str)> {
        let (family, version) = symbol_version.split_once('_')?;
        let known = ["GLIBC", "GLIBCXX", "CXXABI", "GCC"].contains(&family);
        (known && dotted(version).is_some()).then_some((family, version))
    }
}

impl fmt::Display for VersionNeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}_{} from {} ({})",
            self.family, self.version, self.library, self.file
        )
    }
}

/// `2.34` as numbers, to compare versions (`2.4` < `2.34`).
pub fn dotted(version: &str) -> Option<Vec<u32>> {
    version.split('.').map(|p| p.parse().ok()).collect()
}

/// The glibc release the package needs at least, from its floor.
pub fn glibc_floor(floor: &[VersionNeed]) -> Option<&VersionNeed> {
    floor.iter().find(|n| n.family == "GLIBC")
}

/// What [`inspect`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inspection {
    pub elf_files: usize,
    pub problems: Vec<Problem>,
    pub warnings: Vec<Warning>,
    /// One entry per family, sorted by family.
    pub floor: Vec<VersionNeed>,
}

/// The rendered form kept in the manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InspectionSummary {
    pub elf_files: usize,
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
    /// The newest base-system symbol versions the package needs (its glibc floor).
    #[serde(default)]
    pub floor: Vec<VersionNeed>,
}

impl Inspection {
    /// No problems (warnings allowed).
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn summary(&self) -> InspectionSummary {
        InspectionSummary {
            elf_files: self.elf_files,
            problems: self.problems.iter().map(|p| p.to_string()).collect(),
            warnings: self.warnings.iter().map(|w| w.to_string()).collect(),
            floor: self.floor.clone(),
        }
    }
}

/// Walks `root` and checks every file; see the module docs. `forbidden_prefixes` are the
/// build prefixes that must not remain (the install prefix, Spack's install tree).
pub fn inspect(
    root: &Path,
    forbidden_prefixes: &[&str],
    allowlist: &Allowlist,
) -> Result<Inspection> {
    let canonical_root = root
        .canonicalize()
        .map_err(|e| Error::io("opening the package tree", root, e))?;
    let mut files = Vec::new();
    walk(&canonical_root, &mut files)?;
    let prefixes: Vec<&str> = forbidden_prefixes
        .iter()
        .map(|p| p.trim_end_matches('/'))
        .filter(|p| !p.is_empty())
        .collect();
    let mut found = Inspection {
        elf_files: 0,
        problems: Vec::new(),
        warnings: Vec::new(),
        floor: Vec::new(),
    };
    // A symbol version needed from a library the package carries is its own business.
    let carried: std::collections::BTreeSet<String> = files
        .iter()
        .filter_map(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .collect();
    let mut floor: std::collections::BTreeMap<String, (Vec<u32>, VersionNeed)> = Default::default();
    for path in files {
        let rel = path
            .strip_prefix(&canonical_root)
            .expect("walk stays under root");
        let rel_name = rel.to_string_lossy().into_owned();
        let meta = std::fs::symlink_metadata(&path)
            .map_err(|e| Error::io("reading the package tree", &path, e))?;
        if meta.file_type().is_symlink() {
            check_link(&canonical_root, &path, &rel_name, &mut found.problems);
            continue;
        }
        let bytes =
            std::fs::read(&path).map_err(|e| Error::io("reading a package file", &path, e))?;
        let is_elf = bytes.starts_with(b"\x7fELF");
        if is_elf {
            found.elf_files += 1;
            // Parsed once: the loader's view and the symbol versions come from it.
            match goblin::elf::Elf::parse(&bytes) {
                Err(e) => found.problems.push(Problem::BadElf {
                    file: rel_name.clone(),
                    reason: e.to_string(),
                }),
                Ok(elf) => {
                    check_elf(&canonical_root, rel, &rel_name, &elf, allowlist, &mut found);
                    for need in version_needs(&elf, &rel_name) {
                        let numbers = dotted(&need.version).expect("parsed as dotted");
                        if carried.contains(&need.library) {
                            continue;
                        }
                        let newer = floor
                            .get(&need.family)
                            .is_none_or(|(have, _)| numbers > *have);
                        if newer {
                            floor.insert(need.family.clone(), (numbers, need));
                        }
                    }
                }
            }
        }
        for prefix in &prefixes {
            if contains(&bytes, prefix.as_bytes()) {
                let file = rel_name.clone();
                let prefix = prefix.to_string();
                found
                    .warnings
                    .push(if is_elf || bytes[..bytes.len().min(8192)].contains(&0) {
                        Warning::PrefixInBinary { file, prefix }
                    } else {
                        Warning::PrefixInText { file, prefix }
                    });
            }
        }
    }
    found.floor = floor.into_values().map(|(_, need)| need).collect();
    Ok(found)
}

/// The base-system symbol versions one ELF file needs (its `.gnu.version_r`).
fn version_needs(elf: &goblin::elf::Elf, rel_name: &str) -> Vec<VersionNeed> {
    let Some(verneed) = &elf.verneed else {
        return Vec::new();
    };
    let mut needs = Vec::new();
    for need in verneed.iter() {
        let library = elf.dynstrtab.get_at(need.vn_file).unwrap_or_default();
        for aux in need.iter() {
            let name = elf.dynstrtab.get_at(aux.vna_name).unwrap_or_default();
            if let Some((family, version)) = VersionNeed::parse(name) {
                needs.push(VersionNeed {
                    family: family.into(),
                    version: version.into(),
                    library: library.into(),
                    file: rel_name.into(),
                });
            }
        }
    }
    needs
}

/// Every regular file and symlink under `dir`, sorted, symlinks not followed.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::io("reading the package tree", dir, e))?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let ft = entry
            .file_type()
            .map_err(|e| Error::io("reading the package tree", &path, e))?;
        if ft.is_dir() {
            walk(&path, out)?;
        } else if ft.is_file() || ft.is_symlink() {
            out.push(path);
        }
    }
    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn check_link(root: &Path, path: &Path, rel: &str, problems: &mut Vec<Problem>) {
    let target = std::fs::read_link(path)
        .map(|t| t.to_string_lossy().into_owned())
        .unwrap_or_default();
    let inside = path.canonicalize().is_ok_and(|real| real.starts_with(root));
    if !inside {
        problems.push(Problem::LinkOutsidePackage {
            file: rel.to_string(),
            target,
        });
    }
}

fn check_elf(
    root: &Path,
    rel: &Path,
    rel_name: &str,
    elf: &goblin::elf::Elf,
    allowlist: &Allowlist,
    found: &mut Inspection,
) {
    if elf.dynamic.is_none() {
        return; // static executables and object files need nothing
    }
    // The loader uses DT_RUNPATH when present and ignores DT_RPATH then.
    let (tag, raw) = if !elf.runpaths.is_empty() {
        ("RUNPATH", &elf.runpaths)
    } else if !elf.rpaths.is_empty() {
        ("RPATH", &elf.rpaths)
    } else {
        ("none", &elf.runpaths)
    };
    let entries: Vec<String> = raw
        .iter()
        .flat_map(|s| s.split(':'))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let origin = rel.parent().unwrap_or(Path::new(""));
    let mut search_dirs = Vec::new();
    for entry in &entries {
        let file = rel_name.to_string();
        let tag = tag.to_string();
        let entry = entry.clone();
        let after_origin = entry
            .strip_prefix("$ORIGIN")
            .or_else(|| entry.strip_prefix("${ORIGIN}"));
        match after_origin {
            Some(rest) => match resolve_inside(origin, rest) {
                Some(dir) => search_dirs.push(root.join(dir)),
                None => found
                    .problems
                    .push(Problem::RunpathOutsidePackage { file, tag, entry }),
            },
            None if entry.starts_with('/') => {
                found
                    .problems
                    .push(Problem::AbsoluteRunpath { file, tag, entry })
            }
            None => found
                .problems
                .push(Problem::RelativeRunpath { file, tag, entry }),
        }
    }
    for library in &elf.libraries {
        if allowlist.allows(library) {
            continue;
        }
        let in_package = search_dirs.iter().any(|dir| {
            dir.join(library)
                .canonicalize()
                .is_ok_and(|real| real.starts_with(root) && real.is_file())
        });
        if !in_package {
            found.problems.push(Problem::MissingLibrary {
                file: rel_name.to_string(),
                library: library.to_string(),
                tag: tag.to_string(),
                search: entries.clone(),
            });
        }
    }
}

/// `origin` joined with `rest` (which starts with `/` or is empty), normalized lexically;
/// `None` when it climbs above the package root.
fn resolve_inside(origin: &Path, rest: &str) -> Option<PathBuf> {
    let mut parts: Vec<Component> = origin.components().collect();
    for comp in Path::new(rest.trim_start_matches('/')).components() {
        match comp {
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::Normal(_) => parts.push(comp),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    Some(parts.iter().collect())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// What binutils' readelf says a real binary needs: the newest version of
    /// each family, over every file.
    fn readelf_floor(files: &[&Path]) -> BTreeMap<String, String> {
        let mut newest: BTreeMap<String, (Vec<u32>, String)> = BTreeMap::new();
        for file in files {
            let out = std::process::Command::new("readelf")
                .args(["-V", "--wide"])
                .arg(file)
                .output()
                .expect("binutils' readelf");
            for word in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                if let Some((family, version)) = VersionNeed::parse(word) {
                    let numbers = dotted(version).unwrap();
                    if newest.get(family).is_none_or(|(n, _)| numbers > *n) {
                        newest.insert(family.into(), (numbers, version.into()));
                    }
                }
            }
        }
        newest.into_iter().map(|(f, (_, v))| (f, v)).collect()
    }

    #[test]
    fn the_floor_is_the_newest_base_system_symbol_version_of_real_binaries() {
        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        // A C program and a C++ one (GLIBCXX) from this machine.
        let (c, cpp) = (Path::new("/usr/bin/ls"), Path::new("/usr/bin/apt"));
        std::fs::copy(c, bin.join("ls")).unwrap();
        std::fs::copy(cpp, bin.join("apt")).unwrap();
        let found = inspect(tmp.path(), &[], &Allowlist::base_system()).unwrap();
        let floor: BTreeMap<String, String> = found
            .floor
            .iter()
            .map(|n| (n.family.clone(), n.version.clone()))
            .collect();
        assert_eq!(floor, readelf_floor(&[c, cpp]));
        assert!(
            floor.contains_key("GLIBC") && floor.contains_key("GLIBCXX"),
            "{floor:?}"
        );
        let glibc = glibc_floor(&found.floor).unwrap();
        assert_eq!(glibc.library, "libc.so.6");
        assert!(glibc.file.starts_with("bin/"), "{glibc:?}");

        // A package that carries its libstdc++ needs no GLIBCXX from the system.
        std::fs::write(tmp.path().join("bin/libstdc++.so.6"), "not really").unwrap();
        let found = inspect(tmp.path(), &[], &Allowlist::base_system()).unwrap();
        assert!(
            found.floor.iter().all(|n| n.family != "GLIBCXX"),
            "{:?}",
            found.floor
        );
    }

    #[test]
    fn versions_compare_as_numbers() {
        assert!(dotted("2.34") > dotted("2.4"));
        assert_eq!(VersionNeed::parse("GLIBC_2.2.5"), Some(("GLIBC", "2.2.5")));
        assert_eq!(VersionNeed::parse("GLIBC_PRIVATE"), None);
        assert_eq!(VersionNeed::parse("OPENSSL_3.0.0"), None);
    }

    #[test]
    fn allowlist_matches_glibc_family_not_bundle_candidates() {
        let base = Allowlist::base_system();
        for lib in [
            "libc.so.6",
            "libm.so.6",
            "ld-linux-x86-64.so.2",
            "ld-linux-aarch64.so.1",
            "libgcc_s.so.1",
            "libpthread.so.0",
        ] {
            assert!(base.allows(lib), "{lib}");
        }
        for lib in [
            "libstdc++.so.6",
            "libmunge.so.2",
            "libnvidia-ml.so.1",
            "libcrypto.so.3",
            "libcurl.so.4",
            "libc.so",
        ] {
            assert!(!base.allows(lib), "{lib}");
        }
        assert!(Allowlist::for_gpu(Some(GpuVendor::Cuda)).allows("libnvidia-ml.so.1"));
        assert!(Allowlist::for_gpu(Some(GpuVendor::Rocm)).allows("librocm_smi64.so.7"));
        assert!(!Allowlist::for_gpu(Some(GpuVendor::Rocm)).allows("libnvidia-ml.so.1"));
    }

    #[test]
    fn glob() {
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(glob_match("a*", "a"));
        assert!(!glob_match("a*b", "ab-"));
        assert!(!glob_match("abc", "abcd"));
        assert!(glob_match("*.so.*", "libx.so.1"));
    }

    #[test]
    fn origin_paths_stay_inside() {
        assert_eq!(
            resolve_inside(Path::new("lib/slurm"), "/.."),
            Some(PathBuf::from("lib"))
        );
        assert_eq!(
            resolve_inside(Path::new("bin"), "/../lib"),
            Some(PathBuf::from("lib"))
        );
        assert_eq!(resolve_inside(Path::new("bin"), "/../../lib"), None);
        assert_eq!(
            resolve_inside(Path::new("bin"), ""),
            Some(PathBuf::from("bin"))
        );
    }

    #[test]
    fn problems_render_with_file_library_and_search_path() {
        let p = Problem::MissingLibrary {
            file: "bin/hello".into(),
            library: "libgreet.so.1".into(),
            tag: "RUNPATH".into(),
            search: vec!["$ORIGIN/../lib".into()],
        };
        assert_eq!(
            p.to_string(),
            "bin/hello: needs libgreet.so.1, not found in the package (RUNPATH $ORIGIN/../lib)"
        );
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["kind"], "missing_library");
        assert_eq!(json["file"], "bin/hello");
    }
}
