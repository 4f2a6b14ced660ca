//! `slurm-factory mirror export` / `mirror import` with the real offline site
//! of the real-Spack test (.ci/spack-site.sh: Spack 1.1, spack-packages
//! v2025.11.0, clingo wheels, Debian's sources in Spack's mirror layout), as a
//! site carries it to an air-gapped host: exported on one "machine" (data and
//! cache dirs of its own), imported on another, and the imported site is what
//! an offline build reads.

use std::path::Path;
use std::process::{Command, Output};

use factory::caches::spack_source::SpackSource;
use factory::settings::{self, XdgDirs};
use slurm_factory_e2e::{slurm_factory, SpackSite};

/// No settings beyond the home dir's own.
const NO_VARS: [(&str, &str); 0] = [];

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn the_offline_site_travels_as_one_checked_bundle() {
    let Some(site) = SpackSite::from_env("the_offline_site_travels_as_one_checked_bundle") else {
        return;
    };
    let online = tempfile::tempdir().unwrap();
    // The connected machine: its mirror layer holds the site's sources.
    let mirror = online.path().join(".cache/slurm-factory/mirror");
    std::fs::create_dir_all(mirror.parent().unwrap()).unwrap();
    let copied = Command::new("cp")
        .arg("-a")
        .arg(&site.mirror)
        .arg(&mirror)
        .status()
        .unwrap();
    assert!(copied.success());
    let path = |p: &Path| p.display().to_string();
    let online_vars = [
        ("SLURM_FACTORY_SPACK_ROOT", path(&site.spack_root)),
        (
            "SLURM_FACTORY_SPACK_PACKAGES_ROOT",
            path(&site.spack_packages_root),
        ),
        ("SLURM_FACTORY_WHEELS_DIR", path(&site.wheels_dir)),
    ];
    let bundle = online.path().join("site.tar.zst");
    // Signed with the site's key; the air-gapped host checks it with the
    // public half (the real Spack tree's links listed and checked too).
    let key = slurm_factory_e2e::SigningKey::new(online.path());
    let started = std::time::Instant::now();
    let o = slurm_factory(
        online.path(),
        online_vars.iter().map(|(k, v)| (k, v)),
        &[
            "mirror",
            "export",
            bundle.to_str().unwrap(),
            "--json",
            "--sign",
            key.secret.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let exported: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(exported["signed_by"].is_string(), "{exported}");
    assert!(
        !exported["manifest"]["links"]
            .as_object()
            .unwrap()
            .is_empty(),
        "Spack's tree has links"
    );
    let files = exported["manifest"]["files"].as_object().unwrap().len();
    println!(
        "export: {} bytes, {files} files, {:.1} s; parts {}",
        exported["bytes"],
        started.elapsed().as_secs_f64(),
        exported["manifest"]["parts"]
    );
    assert!(
        files > 5000,
        "Spack, spack-packages, wheels and sources: {files}"
    );

    // The air-gapped machine: nothing but the bundle.
    let offline = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let o = slurm_factory(
        offline.path(),
        NO_VARS,
        &[
            "mirror",
            "import",
            bundle.to_str().unwrap(),
            "--key",
            key.public.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("Signed by Site Builder"), "{}", text(&o));
    println!(
        "{}import: {:.1} s",
        text(&o),
        started.elapsed().as_secs_f64()
    );
    assert!(
        text(&o).contains(&format!("Checked {files} files")),
        "{}",
        text(&o)
    );

    // What `build --offline` reads there: the settings now name complete trees
    // with the very contents of the connected machine's.
    let loaded = settings::load(
        &XdgDirs {
            config: offline.path().join(".config/slurm-factory"),
            data: offline.path().join(".local/share/slurm-factory"),
            cache: offline.path().join(".cache/slurm-factory"),
        },
        &Default::default(),
    )
    .unwrap()
    .settings;
    let imported = SpackSource::from_settings(&loaded, true).unwrap();
    let mut original = loaded.clone();
    original.spack_root = Some(site.spack_root.clone());
    original.spack_packages_root = Some(site.spack_packages_root.clone());
    original.wheels_dir = Some(site.wheels_dir.clone());
    let original = SpackSource::from_settings(&original, true).unwrap();
    assert_eq!(
        imported.key_parts().unwrap(),
        original.key_parts().unwrap(),
        "the same trees, so the same base image"
    );
    let slurm_source = format!("slurm/slurm-{}.tar.gz", site.slurm_version);
    assert_eq!(
        std::fs::read(
            offline
                .path()
                .join(".cache/slurm-factory/mirror")
                .join(&slurm_source)
        )
        .unwrap(),
        std::fs::read(site.mirror.join(&slurm_source)).unwrap()
    );

    // A bundle cut short in transit is refused and changes nothing.
    let bytes = std::fs::read(&bundle).unwrap();
    let cut = online.path().join("cut.tar.zst");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let o = slurm_factory(
        elsewhere.path(),
        NO_VARS,
        &["mirror", "import", cut.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("is not a sound offline bundle"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("nothing was imported"), "{}", text(&o));
    assert!(
        !elsewhere
            .path()
            .join(".config/slurm-factory/config.toml")
            .exists(),
        "no setting written"
    );
    assert!(!elsewhere
        .path()
        .join(".cache/slurm-factory/mirror")
        .exists());
}
