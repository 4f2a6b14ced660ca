//! Archives of a relocated package, unpacked with the system's tar, are the same tree; the
//! unpacked program still runs.

mod common;

use std::process::Command;

use common::{build_fixture, describe_tree, relocate, run};
use factory::package::{archive, sha256_file, ArchiveFormat};

#[test]
fn archive_round_trips_through_system_tar() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = build_fixture(tmp.path());
    let pkg = tmp.path().join("slurm-test");
    relocate(&fx.prefix, &pkg, &[]);
    // A long path and a file mode that is neither 644 nor 755 must survive too.
    let deep = pkg.join("share/x".repeat(12));
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(
        deep.join("a-file-with-a-rather-long-name-to-pass-100-bytes.txt"),
        "x",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        pkg.join("etc/greet.conf.example"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();

    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let files = archive(
        &pkg,
        &out_dir,
        "slurm-test",
        &[ArchiveFormat::TarZst, ArchiveFormat::TarGz],
    )
    .unwrap();
    assert_eq!(files.len(), 2);
    let leftovers: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 2, "no temporary files: {leftovers:?}");
    eprintln!("unpacked {} bytes", factory::fsutil::tree_usage(&pkg).0);
    let original = describe_tree(&pkg);

    for (file, tar_flag) in files.iter().zip(["--zstd", "--gzip"]) {
        eprintln!(
            "{}: {} bytes, sha256 {}",
            file.path.display(),
            file.bytes,
            file.sha256
        );
        assert_eq!(file.bytes, std::fs::metadata(&file.path).unwrap().len());
        let sum = run(Command::new("sha256sum").arg(&file.path));
        assert!(String::from_utf8_lossy(&sum.stdout).starts_with(&file.sha256));
        assert_eq!(sha256_file(&file.path).unwrap(), file.sha256);

        let listing = run(Command::new("tar").arg(tar_flag).arg("-tf").arg(&file.path));
        let listing = String::from_utf8(listing.stdout).unwrap();
        assert!(
            listing
                .lines()
                .all(|l| l.starts_with("slurm-test/") || l == "slurm-test"),
            "{listing}"
        );

        let unpack = tmp.path().join(format!("unpack-{tar_flag}"));
        std::fs::create_dir(&unpack).unwrap();
        run(Command::new("tar")
            .arg(tar_flag)
            .arg("-xpf")
            .arg(&file.path)
            .arg("-C")
            .arg(&unpack));
        assert_eq!(describe_tree(&unpack.join("slurm-test")), original);
        let hello = run(&mut Command::new(unpack.join("slurm-test/bin/hello")));
        assert_eq!(
            String::from_utf8_lossy(&hello.stdout),
            "hello, world (42)\nhello, plugin (42)\n"
        );
    }

    // Same tree, same bytes.
    let again = tmp.path().join("again");
    std::fs::create_dir(&again).unwrap();
    let second = archive(&pkg, &again, "slurm-test", &[ArchiveFormat::TarZst]).unwrap();
    assert_eq!(second[0].sha256, files[0].sha256);
}

#[test]
fn archive_of_a_missing_tree_is_an_error_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let err = archive(
        &tmp.path().join("nope"),
        tmp.path(),
        "x",
        &[ArchiveFormat::TarZst],
    )
    .unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}
