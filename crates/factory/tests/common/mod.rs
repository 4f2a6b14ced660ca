//! A real install tree for the package tests, built with gcc: libgreet (needs libdep from a
//! separate "Spack prefix"), a program linked to it and a dlopen()ed plugin in lib/slurm,
//! all with absolute RPATHs, plus the text files a real install carries.

#![allow(dead_code)] // each test binary uses a different part

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Fixture {
    pub prefix: PathBuf,
    pub dep_prefix: PathBuf,
}

pub fn fixture_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/greet")
}

/// relocate.sh as a build renders it: the built-in templates rendered once per test
/// binary into a temporary recipe dir (the scripts read `base-libraries.txt` beside them).
pub fn relocate_script() -> PathBuf {
    use factory::recipe::{RecipeContext, Templates};
    use factory::request::{BuildRequest, Defaults};
    use factory::settings::{Settings, XdgDirs};
    static RECIPE: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let dir = RECIPE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::defaults(&XdgDirs {
            config: dir.path().join("config"),
            data: dir.path().join("data"),
            cache: dir.path().join("cache"),
        });
        let request = BuildRequest::default()
            .resolve(&Defaults {
                target: "x86_64_v3".into(),
                jobs: 2,
                gpu: None,
                toolchain: None,
                catalog: factory::request::catalog::Catalog::builtin(),
            })
            .unwrap();
        Templates::load(None)
            .unwrap()
            .render(&RecipeContext::new(&request, &settings, false))
            .unwrap()
            .write_to(&dir.path().join("recipe"))
            .unwrap();
        dir
    });
    dir.path().join("recipe/scripts/relocate.sh")
}

pub fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (install gcc, patchelf, binutils)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn gcc(args: &[&str]) {
    run(Command::new("gcc").args(args));
}

/// Builds the install tree at `<base>/build/prefix` and its dependency at
/// `<base>/spack/dep-abc`.
pub fn build_fixture(base: &Path) -> Fixture {
    let prefix = base.join("build/prefix");
    let dep_prefix = base.join("spack/dep-abc");
    for d in [
        "lib/slurm",
        "bin",
        "lib/pkgconfig",
        "include",
        "share/doc",
        "share/man/man1",
        "etc",
    ] {
        std::fs::create_dir_all(prefix.join(d)).unwrap();
    }
    std::fs::create_dir_all(dep_prefix.join("lib")).unwrap();
    let src = fixture_src();
    let s = |f: &str| src.join(f).to_str().unwrap().to_string();
    let p = |f: &str| prefix.join(f).to_str().unwrap().to_string();
    let dlib = dep_prefix.join("lib").to_str().unwrap().to_string();
    let plib = p("lib");

    gcc(&[
        "-g",
        "-shared",
        "-fPIC",
        "-Wl,-soname,libdep.so.1",
        "-o",
        &format!("{dlib}/libdep.so.1.0"),
        &s("dep.c"),
    ]);
    std::os::unix::fs::symlink("libdep.so.1.0", dep_prefix.join("lib/libdep.so.1")).unwrap();
    std::os::unix::fs::symlink("libdep.so.1", dep_prefix.join("lib/libdep.so")).unwrap();
    gcc(&[
        "-g",
        "-shared",
        "-fPIC",
        "-Wl,-soname,libgreet.so.1",
        "-o",
        &p("lib/libgreet.so.1.0.0"),
        &s("greet.c"),
        &format!("-L{dlib}"),
        "-ldep",
        &format!("-Wl,-rpath,{dlib}"),
    ]);
    std::os::unix::fs::symlink("libgreet.so.1.0.0", prefix.join("lib/libgreet.so.1")).unwrap();
    std::os::unix::fs::symlink("libgreet.so.1", prefix.join("lib/libgreet.so")).unwrap();
    gcc(&[
        "-g",
        "-shared",
        "-fPIC",
        "-o",
        &p("lib/slurm/greet_plugin.so"),
        &s("plugin.c"),
        &format!("-L{plib}"),
        "-lgreet",
        &format!("-Wl,-rpath,{plib}:{dlib}"),
    ]);
    gcc(&[
        "-g",
        "-o",
        &p("bin/hello"),
        &s("hello.c"),
        &format!("-L{plib}"),
        "-lgreet",
        "-ldl",
        &format!("-Wl,-rpath,{plib}:{dlib}"),
    ]);
    run(Command::new("ar").args(["rc", &p("lib/libgreet.a"), &s("greet.c")]));
    let pre = prefix.display();
    std::fs::write(
        prefix.join("lib/libgreet.la"),
        format!("libdir='{pre}/lib'\n"),
    )
    .unwrap();
    std::fs::write(
        prefix.join("lib/pkgconfig/greet.pc"),
        format!(
            "prefix={pre}\nexec_prefix=${{prefix}}\nlibdir={pre}/lib\nincludedir={pre}/include\n\n\
             Name: greet\nDescription: greetings\nVersion: 1.0.0\nLibs: -L${{libdir}} -lgreet\n\
             Cflags: -I${{includedir}}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        prefix.join("bin/greet-config"),
        format!("#!{pre}/bin/sh\necho {pre}\n"),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        prefix.join("bin/greet-config"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(
        prefix.join("include/greet.h"),
        "void greet(const char *who);\n",
    )
    .unwrap();
    std::fs::write(prefix.join("share/doc/README"), "greet\n").unwrap();
    std::fs::write(prefix.join("share/man/man1/hello.1"), ".TH HELLO 1\n").unwrap();
    std::fs::write(
        prefix.join("etc/greet.conf.example"),
        "PluginDir=lib/slurm\n",
    )
    .unwrap();
    Fixture { prefix, dep_prefix }
}

/// Runs relocate.sh with `args` then SRC and DEST; returns its stdout.
pub fn relocate(src: &Path, dest: &Path, args: &[&str]) -> String {
    let out = run(Command::new("bash")
        .arg(relocate_script())
        .args(args)
        .arg(src)
        .arg(dest));
    String::from_utf8(out.stdout).unwrap()
}

/// `relative path -> description` for every entry: type, mode, and content hash or link
/// target. Two trees with equal maps are the same tree.
pub fn describe_tree(root: &Path) -> std::collections::BTreeMap<String, String> {
    use std::os::unix::fs::PermissionsExt;
    let mut map = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let mode = meta.permissions().mode() & 0o7777;
            let desc = if meta.file_type().is_symlink() {
                format!("link -> {}", std::fs::read_link(&path).unwrap().display())
            } else if meta.is_dir() {
                stack.push(path.clone());
                format!("dir {mode:o}")
            } else {
                format!(
                    "file {mode:o} {}",
                    factory::package::sha256_file(&path).unwrap()
                )
            };
            map.insert(rel, desc);
        }
    }
    map
}
