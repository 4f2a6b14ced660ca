//! The artifact store on disk: add, list, show, export (atomic, checksummed), delete, and
//! what an interrupted add leaves behind.

use std::path::{Path, PathBuf};

use factory::package::{
    archive, ArchiveFormat, InspectionSummary, Manifest, Sizes, VerifyCheck, VerifyResult,
    MANIFEST_FILE,
};
use factory::store::artifacts::{Store, VERIFY_LOG};
use factory::Error;
use sha2::Digest;

/// A staging dir as the pipeline leaves it: archives, manifest.json, verify.log.
fn stage(base: &Path, name: &str, created: jiff::Timestamp, verified: bool) -> PathBuf {
    let tree = base.join(format!("tree-{name}"));
    std::fs::create_dir_all(tree.join("bin")).unwrap();
    std::fs::write(tree.join("bin/sinfo"), format!("#!/bin/sh\necho {name}\n")).unwrap();
    std::fs::write(tree.join("README"), "x".repeat(10_000)).unwrap();
    let staging = base.join(format!("staging-{name}-{}", created.as_second()));
    std::fs::create_dir_all(&staging).unwrap();
    let files = archive(
        &tree,
        &staging,
        name,
        &[ArchiveFormat::TarZst, ArchiveFormat::TarGz],
    )
    .unwrap();
    let mut manifest = Manifest {
        name: name.into(),
        slurm_version: "24.11".into(),
        spack_version: "24-11-6-1".into(),
        spack_release: Some("v1.1.0".into()),
        package_type: "default".into(),
        target: "x86_64_v3".into(),
        gpu: None,
        gpu_arch: None,
        created,
        tool_version: "0.1.0".into(),
        build_prefix: "/opt/slurm-build".into(),
        request: serde_json::json!({ "slurm_version": "24.11" }),
        options: Default::default(),
        spack_lock_sha256: None,
        sizes: Sizes {
            unpacked: factory::fsutil::tree_usage(&tree).0,
            ..Default::default()
        },
        tree_sha256: Some(factory::fsutil::tree_digest(&tree).unwrap()),
        archives: Vec::new(),
        stages: Vec::new(),
        verify: Some(VerifyResult {
            passed: verified,
            checks: vec![VerifyCheck {
                name: "sinfo --version".into(),
                passed: verified,
                output: "slurm 24.11.6".into(),
            }],
        }),
        inspection: InspectionSummary::default(),
    };
    manifest.set_archives(&files);
    manifest.write_atomic(&staging.join(MANIFEST_FILE)).unwrap();
    std::fs::write(staging.join(VERIFY_LOG), "srun hostname: ok\n").unwrap();
    staging
}

fn t(secs: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_795_000_000 + secs).unwrap()
}

fn visible_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn add_list_show_export_delete() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::new(tmp.path().join("store"));
    assert!(store.list().unwrap().is_empty(), "a missing store is empty");

    let older = store
        .add(&stage(
            tmp.path(),
            "slurm-24.11-default-x86_64_v3",
            t(0),
            true,
        ))
        .unwrap();
    let newer = store
        .add(&stage(
            tmp.path(),
            "slurm-24.11-minimal-x86_64_v3",
            t(60),
            false,
        ))
        .unwrap();
    assert_eq!(older.id, "slurm-24.11-default-x86_64_v3-20261118T110640");
    let same_second = store
        .add(&stage(
            tmp.path(),
            "slurm-24.11-default-x86_64_v3",
            t(0),
            true,
        ))
        .unwrap();
    assert_eq!(same_second.id, format!("{}-2", older.id));

    let list = store.list().unwrap();
    let ids: Vec<&str> = list.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            newer.id.as_str(),
            same_second.id.as_str(),
            older.id.as_str()
        ]
    );
    assert!(list[2].verified && !list[0].verified);
    assert_eq!(
        list[0].size,
        newer.manifest.archives.iter().map(|a| a.bytes).sum::<u64>()
    );
    assert!(list[0].unpacked > 10_000);

    let shown = store.show(&older.id).unwrap();
    let names: Vec<&str> = shown.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "manifest.json",
            "slurm-24.11-default-x86_64_v3.tar.gz",
            "slurm-24.11-default-x86_64_v3.tar.zst",
            "verify.log"
        ]
    );
    assert_eq!(
        visible_entries(store.dir()).len(),
        3,
        "no incoming dirs stay: {:?}",
        visible_entries(store.dir())
    );

    // Export to a file name, then refuse to overwrite it, then overwrite on request.
    let dest = tmp.path().join("exports/my-slurm.tar.zst");
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    let exported = store.export(&older.id, &dest, false).unwrap();
    assert_eq!(exported.sha256, older.manifest.archives[0].sha256);
    assert_eq!(
        factory::package::sha256_file(&dest).unwrap(),
        exported.sha256
    );
    assert!(!exported.replaced);
    std::fs::write(&dest, "keep me").unwrap();
    let err = store.export(&older.id, &dest, false).unwrap_err();
    assert!(matches!(err, Error::ExportTargetExists { .. }), "{err}");
    assert!(err.hint().contains("--force"));
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "keep me");
    let replaced = store.export(&older.id, &dest, true).unwrap();
    assert!(replaced.replaced);
    assert_eq!(
        factory::package::sha256_file(&dest).unwrap(),
        replaced.sha256
    );

    // Into a directory: the archive's own name. A .tar.gz destination gets the gzip archive.
    let into_dir = store
        .export(&older.id, dest.parent().unwrap(), false)
        .unwrap();
    assert_eq!(
        into_dir.path,
        dest.parent()
            .unwrap()
            .join("slurm-24.11-default-x86_64_v3.tar.zst")
    );
    let gz = store
        .export(&older.id, &tmp.path().join("exports/old.tar.gz"), false)
        .unwrap();
    assert_eq!(gz.format, ArchiveFormat::TarGz);
    assert_eq!(gz.sha256, older.manifest.archives[1].sha256);
    assert_eq!(
        visible_entries(dest.parent().unwrap()),
        [
            "my-slurm.tar.zst",
            "old.tar.gz",
            "slurm-24.11-default-x86_64_v3.tar.zst"
        ]
    );

    // A destination in a directory that does not exist is an error naming that directory.
    for bad in ["exports/nope/x.tar.zst", "exports/nope/"] {
        let err = store
            .export(&older.id, &tmp.path().join(bad), false)
            .unwrap_err();
        assert!(err.to_string().contains("exports/nope"), "{err}");
        assert!(err.to_string().contains("no such directory"), "{err}");
    }

    store.delete(&newer.id).unwrap();
    assert!(matches!(
        store.show(&newer.id),
        Err(Error::ArtifactNotFound { .. })
    ));
    assert_eq!(store.list().unwrap().len(), 2);
    assert!(matches!(
        store.delete(&newer.id),
        Err(Error::ArtifactNotFound { .. })
    ));
}

#[test]
fn corrupted_archive_is_detected_on_export_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::new(tmp.path().join("store"));
    let a = store
        .add(&stage(tmp.path(), "slurm-x", t(0), true))
        .unwrap();
    let stored = a.dir.join(&a.manifest.archives[0].file);
    let mut bytes = std::fs::read(&stored).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&stored, bytes).unwrap();

    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let err = store
        .export(&a.id, &out.join("x.tar.zst"), false)
        .unwrap_err();
    assert!(matches!(err, Error::ChecksumMismatch { .. }), "{err}");
    assert!(
        err.to_string().contains(&a.manifest.archives[0].sha256),
        "{err}"
    );
    assert!(
        visible_entries(&out).is_empty(),
        "no file and no temporary: {:?}",
        visible_entries(&out)
    );
}

/// A stored manifest changed to name a file outside the artifact (with that
/// file's checksum) had `export` copy it out.
#[test]
fn a_manifest_naming_a_file_outside_its_artifact_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::new(tmp.path().join("store"));
    let a = store
        .add(&stage(tmp.path(), "slurm-x", t(0), true))
        .unwrap();
    let outside = tmp.path().join("outside.key");
    std::fs::write(&outside, "secret").unwrap();
    let mut manifest = a.manifest.clone();
    manifest.archives[0].file = "../../outside.key".into();
    manifest.archives[0].sha256 = factory::fsutil::hex(&sha2::Sha256::digest(b"secret"));
    manifest.archives[0].bytes = 6;
    manifest.write_atomic(&a.dir.join(MANIFEST_FILE)).unwrap();

    let err = store.show(&a.id).unwrap_err();
    assert!(
        err.to_string()
            .contains("is not a file name in the artifact's directory"),
        "{err}"
    );
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    assert!(store.export(&a.id, &out.join("x"), false).is_err());
    assert!(
        visible_entries(&out).is_empty(),
        "{:?}",
        visible_entries(&out)
    );
}

#[test]
fn staging_with_a_bad_checksum_adds_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::new(tmp.path().join("store"));
    let staging = stage(tmp.path(), "slurm-x", t(0), true);
    let mut manifest = Manifest::read(&staging.join(MANIFEST_FILE)).unwrap();
    manifest.archives[1].sha256 = "0".repeat(64);
    manifest.write_atomic(&staging.join(MANIFEST_FILE)).unwrap();
    let err = store.add(&staging).unwrap_err();
    assert!(matches!(err, Error::ChecksumMismatch { .. }), "{err}");
    assert!(
        visible_entries(store.dir()).is_empty(),
        "{:?}",
        visible_entries(store.dir())
    );

    std::fs::remove_file(staging.join("slurm-x.tar.zst")).unwrap();
    let err = store.add(&staging).unwrap_err();
    assert!(matches!(err, Error::ArtifactIncomplete { .. }), "{err}");
    assert!(visible_entries(store.dir()).is_empty());
}

#[test]
fn interrupted_adds_are_invisible_and_cleaned() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::new(tmp.path().join("store"));
    store
        .add(&stage(tmp.path(), "slurm-x", t(0), true))
        .unwrap();
    // A process that died mid-add, and one still running.
    let mut dead = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    let mut alive = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let stale = store
        .dir()
        .join(format!(".incoming-slurm-y-20260101T000000.{dead_pid}"));
    let live = store
        .dir()
        .join(format!(".incoming-slurm-z-20260101T000000.{}", alive.id()));
    for d in [&stale, &live] {
        std::fs::create_dir(d).unwrap();
        std::fs::write(d.join("slurm.tar.zst"), "half").unwrap();
    }
    let ids: Vec<String> = store.list().unwrap().into_iter().map(|a| a.id).collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(store.clean_incoming().unwrap(), 1);
    assert!(!stale.exists());
    assert!(live.exists(), "a running add is left alone");
    alive.kill().unwrap();
    alive.wait().unwrap();
    assert_eq!(store.clean_incoming().unwrap(), 1);
    assert_eq!(store.list().unwrap().len(), 1);
}

#[test]
fn ids_are_checked_before_touching_paths() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("store")).unwrap();
    std::fs::create_dir_all(tmp.path().join("victim")).unwrap();
    let store = Store::new(tmp.path().join("store"));
    for id in ["../victim", "/tmp", "..", ".incoming-x"] {
        let err = store.delete(id).unwrap_err();
        assert!(
            matches!(err, Error::InvalidArtifactId { .. }),
            "{id}: {err}"
        );
    }
    assert!(tmp.path().join("victim").exists());
}

/// A rebuild that makes the same tree gets the stored archives back (copied, checked
/// against the manifest) instead of compressing again; another tree, a missing format
/// or a damaged archive does not.
#[test]
fn the_same_tree_reuses_the_stored_archives() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::new(tmp.path().join("store"));
    let stored = store
        .add(&stage(
            tmp.path(),
            "slurm-24.11-default-x86_64_v3",
            t(0),
            true,
        ))
        .unwrap();
    let digest = stored.manifest.tree_sha256.clone().unwrap();
    assert_eq!(
        digest,
        factory::fsutil::tree_digest(&tmp.path().join("tree-slurm-24.11-default-x86_64_v3"))
            .unwrap()
    );
    let dest = tmp.path().join("staging");
    std::fs::create_dir_all(&dest).unwrap();
    let formats = [ArchiveFormat::TarZst, ArchiveFormat::TarGz];
    let (from, archives) = store
        .reusable_archives("slurm-24.11-default-x86_64_v3", &digest, &formats, &dest)
        .unwrap()
        .expect("the same tree reuses the archives");
    assert_eq!(from, stored.id);
    assert_eq!(archives.len(), 2);
    for (a, entry) in archives.iter().zip(&stored.manifest.archives) {
        assert_eq!(a.sha256, entry.sha256);
        assert_eq!(
            factory::package::sha256_file(&a.path).unwrap(),
            entry.sha256
        );
    }
    let other = store
        .reusable_archives("slurm-24.11-default-x86_64_v3", "0000", &formats, &dest)
        .unwrap();
    assert!(other.is_none(), "another tree compresses anew");
    // A damaged archive in the store is not handed on.
    let zst = stored.dir.join(&stored.manifest.archives[0].file);
    let mut bytes = std::fs::read(&zst).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&zst, bytes).unwrap();
    let dest = tmp.path().join("staging-2");
    std::fs::create_dir_all(&dest).unwrap();
    let damaged = store
        .reusable_archives("slurm-24.11-default-x86_64_v3", &digest, &formats, &dest)
        .unwrap();
    assert!(damaged.is_none());
    assert!(
        visible_entries(&dest).is_empty(),
        "nothing half-copied is left: {:?}",
        visible_entries(&dest)
    );
}

/// Builds of one package finishing in the same second add at once (two
/// processes, or the app's builds in one): each gets its own id, all whole.
#[test]
fn same_second_adds_at_once_each_get_their_own_id() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::new(tmp.path().join("store"));
    let staging = stage(tmp.path(), "slurm-x", t(0), true);
    let start = std::sync::Barrier::new(6);
    let mut ids: Vec<String> = std::thread::scope(|s| {
        let adds: Vec<_> = (0..6)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    store.add(&staging).unwrap().id
                })
            })
            .collect();
        adds.into_iter().map(|a| a.join().unwrap()).collect()
    });
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6, "{ids:?}");
    assert_eq!(store.list().unwrap().len(), 6);
    assert_eq!(store.clean_incoming().unwrap(), 0, "no staging dir left");
}
