//! relocate.sh + inspect on real ELF files: a package made from an install tree with
//! absolute RPATHs must run from another prefix once the build prefix is gone.

mod common;

use std::path::Path;
use std::process::Command;

use common::{build_fixture, describe_tree, relocate, run};
use factory::package::{inspect, Allowlist, Problem, Warning};

fn run_hello(pkg: &Path) -> std::process::Output {
    Command::new(pkg.join("bin/hello"))
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap()
}

fn runpath(file: &Path) -> String {
    let bytes = std::fs::read(file).unwrap();
    let elf = goblin::elf::Elf::parse(&bytes).unwrap();
    elf.runpaths.join(":")
}

#[test]
fn relocated_package_runs_at_a_new_prefix_and_inspects_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = build_fixture(tmp.path());
    let staged = tmp.path().join("stage/slurm-test");
    let debug = tmp.path().join("debug");
    let report = tmp.path().join("leftovers.txt");
    let log = relocate(
        &fx.prefix,
        &staged,
        &[
            "--debug-tarball-dir",
            debug.to_str().unwrap(),
            "--build-prefix",
            tmp.path().join("spack").to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert!(log.contains("bundled libdep.so.1"), "{log}");

    // Move the package elsewhere and remove everything it was built from.
    let moved = tmp.path().join("elsewhere/opt/slurm-test");
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    std::fs::rename(&staged, &moved).unwrap();
    std::fs::remove_dir_all(tmp.path().join("build")).unwrap();
    std::fs::remove_dir_all(tmp.path().join("spack")).unwrap();

    let out = run_hello(&moved);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout, "hello, world (42)\nhello, plugin (42)\n");

    assert_eq!(runpath(&moved.join("bin/hello")), "$ORIGIN/../lib");
    assert_eq!(
        runpath(&moved.join("lib/slurm/greet_plugin.so")),
        "$ORIGIN/.."
    );
    assert_eq!(runpath(&moved.join("lib/libdep.so.1")), "$ORIGIN");

    let tree = describe_tree(&moved);
    let names: Vec<&str> = tree.keys().map(String::as_str).collect();
    eprintln!("package tree:");
    for (name, desc) in &tree {
        let size = std::fs::symlink_metadata(moved.join(name)).unwrap().len();
        eprintln!("  {name:32} {size:>7}  {}", &desc[..desc.len().min(16)]);
    }
    for expected in [
        "bin/hello",
        "bin/greet-config",
        "lib/libgreet.so.1.0.0",
        "lib/libdep.so.1",
        "lib/slurm/greet_plugin.so",
        "share/man/man1/hello.1",
        "etc/greet.conf.example",
    ] {
        assert!(names.contains(&expected), "{expected} missing: {names:?}");
    }
    assert_eq!(tree["lib/libgreet.so.1"], "link -> libgreet.so.1.0.0");
    assert_eq!(tree["lib/libgreet.so"], "link -> libgreet.so.1");
    for dropped in [
        "lib/libgreet.a",
        "lib/libgreet.la",
        "include",
        "lib/pkgconfig",
        "share/doc",
    ] {
        assert!(!names.contains(&dropped), "{dropped} should be gone");
    }

    // Stripped, with the debug info kept aside.
    let hello = std::fs::read(moved.join("bin/hello")).unwrap();
    let elf = goblin::elf::Elf::parse(&hello).unwrap();
    let has = |name: &str| {
        elf.section_headers
            .iter()
            .any(|s| elf.shdr_strtab.get_at(s.sh_name) == Some(name))
    };
    assert!(!has(".debug_info"), "bin/hello still has debug info");
    assert!(has(".gnu_debuglink"));
    assert!(debug.join("bin/hello.debug").is_file());
    assert!(debug.join("lib/slurm/greet_plugin.so.debug").is_file());

    let inspection = inspect(
        &moved,
        &[fx.prefix.to_str().unwrap(), fx.dep_prefix.to_str().unwrap()],
        &Allowlist::base_system(),
    )
    .unwrap();
    assert!(inspection.ok(), "{:#?}", inspection.problems);
    assert_eq!(inspection.elf_files, 4);
    // The script's second line still echoes the prefix: reported, by file name, and in the
    // script's own report.
    assert_eq!(
        inspection.warnings,
        vec![Warning::PrefixInText {
            file: "bin/greet-config".into(),
            prefix: fx.prefix.to_str().unwrap().into(),
        }]
    );
    assert_eq!(
        std::fs::read_to_string(&report).unwrap(),
        "bin/greet-config\n"
    );
    let script = std::fs::read_to_string(moved.join("bin/greet-config")).unwrap();
    assert!(script.starts_with("#!/usr/bin/env sh\n"), "{script}");
}

#[test]
fn absolute_rpath_left_in_place_fails_inspection() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = build_fixture(tmp.path());
    // "Package" by copying only: RPATHs still point at the build prefix.
    let pkg = tmp.path().join("elsewhere/slurm-test");
    std::fs::create_dir_all(pkg.parent().unwrap()).unwrap();
    run(Command::new("cp").arg("-a").arg(&fx.prefix).arg(&pkg));
    std::fs::remove_dir_all(tmp.path().join("build")).unwrap();

    let out = run_hello(&pkg);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("libgreet.so.1"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let inspection = inspect(
        &pkg,
        &[fx.prefix.to_str().unwrap()],
        &Allowlist::base_system(),
    )
    .unwrap();
    assert!(!inspection.ok());
    let messages: Vec<String> = inspection.problems.iter().map(|p| p.to_string()).collect();
    eprintln!("inspect problems:\n  {}", messages.join("\n  "));
    let plib = fx.prefix.join("lib");
    let dlib = fx.dep_prefix.join("lib");
    let expected = format!(
        "bin/hello: needs libgreet.so.1, not found in the package (RUNPATH {}:{})",
        plib.display(),
        dlib.display()
    );
    assert!(messages.contains(&expected), "{messages:#?}");
    assert!(inspection.problems.contains(&Problem::AbsoluteRunpath {
        file: "bin/hello".into(),
        tag: "RUNPATH".into(),
        entry: plib.to_str().unwrap().into(),
    }));
    // libdep was never copied in: libgreet's need for it is reported too.
    assert!(inspection.problems.iter().any(|p| matches!(p,
        Problem::MissingLibrary { file, library, .. }
            if file == "lib/libgreet.so.1.0.0" && library == "libdep.so.1")));
    assert!(inspection.warnings.iter().any(
        |w| matches!(w, Warning::PrefixInText { file, .. } if file == "lib/pkgconfig/greet.pc")
    ));
}

#[test]
fn kept_headers_get_a_relocatable_pkg_config_file() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = build_fixture(tmp.path());
    let pkg = tmp.path().join("pkg");
    relocate(
        &fx.prefix,
        &pkg,
        &[
            "--keep-headers",
            "--keep-static",
            "--keep-docs",
            "--no-strip",
        ],
    );
    let pc = std::fs::read_to_string(pkg.join("lib/pkgconfig/greet.pc")).unwrap();
    assert_eq!(
        pc,
        "prefix=${pcfiledir}/../..\nexec_prefix=${prefix}\nlibdir=${prefix}/lib\n\
         includedir=${prefix}/include\n\nName: greet\nDescription: greetings\nVersion: 1.0.0\n\
         Libs: -L${libdir} -lgreet\nCflags: -I${includedir}\n"
    );
    assert!(pkg.join("include/greet.h").is_file());
    assert!(pkg.join("lib/libgreet.a").is_file());
    assert!(
        !pkg.join("lib/libgreet.la").exists(),
        "libtool files never ship"
    );
    assert!(pkg.join("share/doc/README").is_file());
    let hello = std::fs::read(pkg.join("bin/hello")).unwrap();
    let elf = goblin::elf::Elf::parse(&hello).unwrap();
    assert!(elf
        .section_headers
        .iter()
        .any(|s| elf.shdr_strtab.get_at(s.sh_name) == Some(".debug_info")));
}

#[test]
fn spack_view_symlinks_are_replaced_by_copies_inside_the_package() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = build_fixture(tmp.path());
    // A view in the style of Spack's: real dirs, files symlinked into the prefixes.
    let view = tmp.path().join("view");
    for sub in ["bin", "lib/slurm"] {
        std::fs::create_dir_all(view.join(sub)).unwrap();
    }
    for f in [
        "bin/hello",
        "lib/libgreet.so.1.0.0",
        "lib/libgreet.so.1",
        "lib/slurm/greet_plugin.so",
    ] {
        std::os::unix::fs::symlink(fx.prefix.join(f), view.join(f)).unwrap();
    }
    for f in ["libdep.so.1.0", "libdep.so.1"] {
        std::os::unix::fs::symlink(fx.dep_prefix.join("lib").join(f), view.join("lib").join(f))
            .unwrap();
    }
    // A whole directory linked into a prefix, and an absolute link that stays in the view.
    std::os::unix::fs::symlink(fx.prefix.join("share"), view.join("share")).unwrap();
    std::os::unix::fs::symlink(view.join("lib/libgreet.so.1"), view.join("lib/libgreet.so"))
        .unwrap();
    let pkg = tmp.path().join("pkg");
    let log = relocate(
        &view,
        &pkg,
        &["--build-prefix", tmp.path().to_str().unwrap()],
    );
    assert!(
        log.contains("bundled 0 libraries"),
        "the view already has libdep: {log}"
    );
    let tree = describe_tree(&pkg);
    assert!(tree["lib/libdep.so.1.0"].starts_with("file "), "{tree:#?}");
    assert_eq!(tree["lib/libdep.so.1"], "link -> libdep.so.1.0");
    assert!(tree["lib/libgreet.so.1.0.0"].starts_with("file "));
    assert_eq!(tree["lib/libgreet.so.1"], "link -> libgreet.so.1.0.0");
    assert_eq!(tree["lib/libgreet.so"], "link -> libgreet.so.1.0.0");
    assert_eq!(tree["share"], "dir 755");
    assert!(
        tree["share/man/man1/hello.1"].starts_with("file "),
        "{tree:#?}"
    );
    assert!(
        !tree.contains_key("share/doc"),
        "docs are dropped from linked dirs too"
    );
    std::fs::remove_dir_all(tmp.path().join("build")).unwrap();
    std::fs::remove_dir_all(tmp.path().join("spack")).unwrap();
    let out = run_hello(&pkg);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let inspection = inspect(&pkg, &[], &Allowlist::base_system()).unwrap();
    assert!(inspection.ok(), "{:#?}", inspection.problems);
}

#[test]
fn inspect_flags_links_and_runpaths_that_leave_the_package() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = build_fixture(tmp.path());
    let pkg = tmp.path().join("pkg");
    relocate(&fx.prefix, &pkg, &[]);
    std::os::unix::fs::symlink("/etc/hostname", pkg.join("etc/outside")).unwrap();
    run(Command::new("patchelf")
        .args(["--set-rpath", "$ORIGIN/../../../lib"])
        .arg(pkg.join("bin/hello")));
    let inspection = inspect(&pkg, &[], &Allowlist::base_system()).unwrap();
    let messages: Vec<String> = inspection.problems.iter().map(|p| p.to_string()).collect();
    assert!(
        messages.contains(&"etc/outside: symlink to /etc/hostname leaves the package".to_string()),
        "{messages:#?}"
    );
    assert!(
        messages.contains(
            &"bin/hello: RUNPATH entry $ORIGIN/../../../lib points outside the package".to_string()
        ),
        "{messages:#?}"
    );
    assert!(messages
        .iter()
        .any(|m| m.starts_with("bin/hello: needs libgreet.so.1")));
}

/// Whatever the program needs from the build machine beyond the base system is bundled,
/// transitively: curl pulls in libcurl, OpenSSL, Kerberos, ... from the ldconfig cache.
#[test]
fn system_libraries_are_bundled_transitively() {
    let curl = Path::new("/usr/bin/curl");
    assert!(
        curl.is_file(),
        "this test needs /usr/bin/curl (apt-get install curl)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("prefix");
    std::fs::create_dir_all(prefix.join("bin")).unwrap();
    std::fs::copy(curl, prefix.join("bin/curl")).unwrap();
    let pkg = tmp.path().join("pkg");
    let log = relocate(&prefix, &pkg, &[]);
    let bundled = log.lines().filter(|l| l.contains(": bundled lib")).count();
    assert!(bundled >= 5, "{log}");
    assert!(pkg.join("lib/libcurl.so.4").is_file(), "{log}");
    let inspection = inspect(&pkg, &[], &Allowlist::base_system()).unwrap();
    assert!(inspection.ok(), "{:#?}", inspection.problems);
    assert_eq!(inspection.elf_files, bundled + 1);

    // The loader takes every non-base library from the package.
    let ldd = run(Command::new("ldd").arg(pkg.join("bin/curl")));
    let ldd = String::from_utf8(ldd.stdout).unwrap();
    let allow = Allowlist::base_system();
    for line in ldd.lines().filter(|l| l.contains(" => ")) {
        let (name, path) = line.trim().split_once(" => ").unwrap();
        if !allow.allows(name) {
            assert!(
                path.starts_with(pkg.to_str().unwrap()),
                "{name} from {path}\n{ldd}"
            );
        }
    }
    let out = run(Command::new(pkg.join("bin/curl"))
        .arg("--version")
        .env_remove("LD_LIBRARY_PATH"));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("curl "));
}

/// package.sh (the stage script) relocates through relocate.sh;
/// hard-linked ELF files are each stripped and patched.
#[test]
fn package_script_handles_hard_links() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = build_fixture(tmp.path());
    std::fs::hard_link(
        fx.prefix.join("bin/hello"),
        fx.prefix.join("bin/hello-again"),
    )
    .unwrap();
    let pkg = tmp.path().join("pkg");
    let script = common::relocate_script().with_file_name("package.sh");
    let out = run(Command::new("bash").arg(script).arg(&fx.prefix).arg(&pkg));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("package: contents of"), "{stdout}");
    assert!(stdout.contains("  lib/slurm\n"), "{stdout}");
    std::fs::remove_dir_all(tmp.path().join("build")).unwrap();
    for exe in ["bin/hello", "bin/hello-again"] {
        assert_eq!(runpath(&pkg.join(exe)), "$ORIGIN/../lib", "{exe}");
    }
    let out = run(&mut Command::new(pkg.join("bin/hello-again")));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello, world (42)\nhello, plugin (42)\n"
    );
    assert!(inspect(&pkg, &[], &Allowlist::base_system()).unwrap().ok());
}

fn check_libs(root: &Path) -> std::process::Output {
    let script = common::relocate_script().with_file_name("check-libs.sh");
    Command::new("bash").arg(script).arg(root).output().unwrap()
}

/// check-libs.sh passed on the fixture's relocated tree: its 4 ELF files resolve.
fn assert_all_four_resolve(out: &std::process::Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("4 ELF files resolve their libraries"),
        "{stdout}"
    );
}

/// check-libs.sh, the verify stage's loader-based check, agrees with `inspect`: clean for a
/// relocated package, failing with file and library for one that kept absolute RUNPATHs.
#[test]
fn check_libs_passes_relocated_and_fails_unrelocated_packages() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = build_fixture(tmp.path());
    let good = tmp.path().join("good");
    relocate(&fx.prefix, &good, &[]);
    let bad = tmp.path().join("bad");
    run(Command::new("cp").arg("-a").arg(&fx.prefix).arg(&bad));

    // With the build prefix still present the loader finds the libraries there: wrong too.
    let out = check_libs(&bad);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let from = fx.prefix.join("lib/libgreet.so.1");
    assert!(
        stdout.contains(&format!(
            "bin/hello: libgreet.so.1 comes from {}, outside the package",
            from.display()
        )),
        "{stdout}"
    );

    std::fs::remove_dir_all(tmp.path().join("build")).unwrap();
    std::fs::remove_dir_all(tmp.path().join("spack")).unwrap();
    let out = check_libs(&bad);
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("check-libs on the unrelocated package:\n{stdout}");
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("bin/hello: needs libgreet.so.1, not found\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("lib/libgreet.so.1.0.0: needs libdep.so.1, not found\n"),
        "{stdout}"
    );

    assert_all_four_resolve(&check_libs(&good));
}

/// A verify image has no compilers and no binutils: check-libs.sh must still check every file
/// (it once relied on readelf and, without it, passed with "0 ELF files"), and a tree without
/// any dynamic ELF file is a failure, not a pass.
#[test]
fn check_libs_needs_no_binutils_and_rejects_an_empty_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = build_fixture(tmp.path());
    let good = tmp.path().join("good");
    relocate(&fx.prefix, &good, &[]);
    // A PATH with only what a minimal system has: no readelf, objdump or file.
    let bin = tmp.path().join("minbase-bin");
    std::fs::create_dir(&bin).unwrap();
    for tool in [
        "bash", "env", "ldd", "find", "sort", "realpath", "sed", "cat", "dirname",
    ] {
        let path = String::from_utf8(
            run(Command::new("bash").args(["-c", &format!("command -v {tool}")])).stdout,
        )
        .unwrap();
        std::os::unix::fs::symlink(path.trim(), bin.join(tool)).unwrap();
    }
    let script = common::relocate_script().with_file_name("check-libs.sh");
    let check = |root: &Path| {
        Command::new(bin.join("bash"))
            .arg(&script)
            .arg(root)
            .env("PATH", &bin)
            .output()
            .unwrap()
    };
    assert_all_four_resolve(&check(&good));

    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(empty.join("share")).unwrap();
    std::fs::write(empty.join("share/README"), "no programs here\n").unwrap();
    let out = check(&empty);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("no dynamic ELF files"), "{stdout}");
}

/// The scripts check against the engine's own list of base-system libraries: the one
/// rendered beside them, as bash reads it.
#[test]
fn scripts_read_the_engines_base_system_libraries() {
    let helper = common::relocate_script().with_file_name("base-libraries.sh");
    let out = run(Command::new("bash").arg("-c").arg(format!(
        "source '{}'; printf '%s\\n' \"${{base_libs[@]}}\"; is_system_lib libc.so.6 && echo yes; allow_extra=(); is_system_lib libslurm.so.38 || echo no",
        helper.display()
    )));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.pop(), Some("no"));
    assert_eq!(lines.pop(), Some("yes"));
    assert_eq!(lines, Allowlist::base_system().patterns());
}
