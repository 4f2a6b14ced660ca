//! Toolchains for real, through the `slurm-factory` binary: the test recipe
//! built on Debian 12 and on Debian 13 (images made by debootstrap, named in
//! a site's own toolchain files), each verified on its own OS with its glibc
//! floor recorded; then the Debian 13 package verified on Debian 12, which
//! passes or is refused as its floor says.

use std::path::Path;

use slurm_factory_e2e::{recipe_variant, slurm_factory, TestEnv};

/// A site's toolchain file: local aliases instead of the public images.
fn toolchain_file(dir: &Path, name: &str, description: &str, image: &str, verify: &str) {
    let glibc = match image.contains("trixie") {
        true => "2.41",
        false => "2.36",
    };
    std::fs::create_dir_all(dir.join("toolchains")).unwrap();
    std::fs::write(
        dir.join(format!("toolchains/{name}.toml")),
        format!(
            "description = \"{description}\"\nimage = \"{image}\"\nverify_image = \"{verify}\"\n\
             package_manager = \"apt\"\nglibc = \"{glibc}\"\ngcc = \"12\"\n"
        ),
    )
    .unwrap();
}

#[test]
fn packages_built_on_each_os_verify_there_and_carry_their_glibc_floor() {
    let Some(t) = TestEnv::from_env("toolchains") else {
        return;
    };
    let Some([trixie, trixie_plain]) = slurm_factory_e2e::test_vars(
        "toolchains",
        [
            "SLURM_FACTORY_TEST_TRIXIE_IMAGE",
            "SLURM_FACTORY_TEST_TRIXIE_PLAIN_IMAGE",
        ],
        "run .ci/setup-lxd.sh (it builds the Debian 13 images)",
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let templates = recipe_variant(root, &[]);
    let bookworm = "Debian 12 (local images)";
    toolchain_file(&templates, "debian12", bookworm, &t.image, &t.plain_image);
    toolchain_file(&templates, "debian13", "Debian 13", &trixie, &trixie_plain);
    toolchain_file(
        &templates,
        "debian13to12",
        "Debian 13 on 12",
        &trixie,
        &t.plain_image,
    );
    let env = t.cli_env(root, &templates);
    // One cache per build OS: the recipe's "buildcache" knows no OS, as Spack's does.
    let cli = |cache: &str, args: &[&str]| {
        let mut vars = env.clone();
        vars.retain(|(k, _)| k != "SLURM_FACTORY_CACHE_DIR");
        vars.push((
            "SLURM_FACTORY_CACHE_DIR".into(),
            root.join(cache).display().to_string(),
        ));
        let out = slurm_factory(root, vars, args);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let build = |cache: &str, toolchain: &str| {
        cli(
            cache,
            &[
                "build",
                "--toolchain",
                toolchain,
                "--minimal",
                "--target",
                "x86_64_v3",
                "--jobs",
                "2",
                "--json",
            ],
        )
    };
    let artifact_of = |stdout: &str| -> String {
        let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
        last["artifact_id"].as_str().unwrap().to_string()
    };
    let show = |id: &str| {
        let (code, stdout, stderr) = cli("cache-bookworm", &["artifacts", "show", id]);
        assert_eq!(code, Some(0), "{stderr}");
        println!("$ slurm-factory artifacts show {id}\n{stdout}");
        stdout
    };
    let manifest = |id: &str| -> serde_json::Value {
        let (code, stdout, stderr) = cli("cache-bookworm", &["artifacts", "show", id, "--json"]);
        assert_eq!(code, Some(0), "{stderr}");
        serde_json::from_str(&stdout).unwrap()
    };
    let glibc_floor = |m: &serde_json::Value| -> String {
        let floor = m["manifest"]["inspection"]["floor"].as_array().unwrap();
        floor
            .iter()
            .find(|n| n["family"] == "GLIBC")
            .map(|n| n["version"].as_str().unwrap().to_string())
            .expect("a GLIBC need")
    };
    let glibc_check = |m: &serde_json::Value| -> String {
        m["manifest"]["verify"]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "glibc-floor")
            .map(|c| c["output"].as_str().unwrap().to_string())
            .expect("the glibc-floor check ran")
    };

    let mut floors = Vec::new();
    for (cache, toolchain, system_glibc) in [
        ("cache-bookworm", "debian12", "2.36"),
        ("cache-trixie", "debian13", "2.41"),
    ] {
        let (code, stdout, stderr) = build(cache, toolchain);
        assert_eq!(code, Some(0), "build on {toolchain}:\n{stderr}");
        let id = artifact_of(&stdout);
        assert!(
            id.starts_with(&format!("slurm-26.05-minimal-x86_64_v3-{toolchain}-")),
            "named by its toolchain: {id}"
        );
        let text = show(&id);
        assert!(text.contains("GLIBC >= "), "{text}");
        let m = manifest(&id);
        assert_eq!(m["manifest"]["request"]["toolchain"], toolchain);
        let check = glibc_check(&m);
        assert!(
            check.ends_with(&format!("the system has {system_glibc}")),
            "verified on {toolchain}'s own image: {check}"
        );
        floors.push(glibc_floor(&m));
    }
    let (code, stdout, _) = cli("cache-bookworm", &["artifacts", "list"]);
    assert_eq!(code, Some(0));
    println!("$ slurm-factory artifacts list\n{stdout}");
    assert!(stdout.contains("-debian12-") && stdout.contains("-debian13-"));

    // The Debian 13 binaries (the same cache) verified on Debian 12.
    let trixie_floor = factory::package::dotted(&floors[1]).unwrap();
    let (code, stdout, stderr) = build("cache-trixie", "debian13to12");
    println!(
        "Debian 13 build, floor glibc {}, verified on Debian 12: exit {code:?}",
        floors[1]
    );
    if trixie_floor <= vec![2, 36] {
        assert_eq!(code, Some(0), "the floor allows Debian 12:\n{stderr}");
        let m = manifest(&artifact_of(&stdout));
        assert!(glibc_check(&m).ends_with("the system has 2.36"));
    } else {
        assert_eq!(code, Some(5), "{stderr}");
        assert!(stderr.contains("has glibc 2.36"), "{stderr}");
    }
}
