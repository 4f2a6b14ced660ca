//! The LXD driver against a real LXD daemon.
//!
//! Needs a test image: run `.ci/setup-lxd.sh` (as root) and set
//! `SLURM_FACTORY_TEST_IMAGE=sf-test-build` (and `SLURM_FACTORY_TEST_POOL`
//! for a pool other than the default profile's; the script prints both).
//! Without the variable every test here prints SKIPPED and passes (fails
//! under `SLURM_FACTORY_REQUIRE_LXD`, as in CI).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use factory::kinds::Stream;
use factory::lxd::{
    host_user_idmap, is_address_taken, DiskDevice, LaunchSpec, Lxc, NicDevice, Subnet,
};
use factory::Error;
use tokio_util::sync::CancellationToken;

struct TestLxd {
    lxc: Lxc,
    image: String,
    pool: Option<String>,
}

fn test_lxd(test: &str) -> Option<TestLxd> {
    let [image] = slurm_factory_e2e::test_vars(
        test,
        ["SLURM_FACTORY_TEST_IMAGE"],
        "no LXD test image. Run .ci/setup-lxd.sh (as root) and set \
         SLURM_FACTORY_TEST_IMAGE=sf-test-build",
    )?;
    Some(TestLxd {
        lxc: Lxc::from_parts("lxc", "local", "default"),
        image,
        pool: slurm_factory_e2e::test_var("SLURM_FACTORY_TEST_POOL"),
    })
}

/// A name no other test (or earlier run) uses.
fn unique(what: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "sft-{what}-{}-{}-{nanos:x}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Deletes the instance (or image) when the test ends, however it ends.
struct Cleanup {
    args: Vec<String>,
}

impl Cleanup {
    fn instance(name: &str) -> Cleanup {
        Cleanup {
            args: vec!["delete".into(), "--force".into(), name.into()],
        }
    }
    fn image(alias: &str) -> Cleanup {
        Cleanup {
            args: vec!["image".into(), "delete".into(), alias.into()],
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::process::Command::new("lxc")
            .args(&self.args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

impl TestLxd {
    fn spec(&self, name: &str) -> LaunchSpec {
        LaunchSpec {
            image: self.image.clone(),
            name: name.into(),
            storage_pool: self.pool.clone(),
            config: host_user_idmap()
                .unwrap()
                .into_iter()
                .chain([("user.slurm-factory.run".into(), "e2e-test".into())])
                .collect(),
            ..LaunchSpec::default()
        }
    }

    /// Launches an instance named after `what`; deleted when the guard drops.
    async fn launch(&self, what: &str) -> (String, Cleanup) {
        let name = unique(what);
        let guard = Cleanup::instance(&name);
        self.lxc.launch(&self.spec(&name)).await.unwrap();
        (name, guard)
    }
}

fn argv(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

/// A file the instance's root made in a mounted dir belongs to the host
/// user, or, when that is root, to the unprivileged ids LXD maps the
/// instance's root to: never to host root (issue 32).
fn assert_made_by_instance_root(path: &std::path::Path) {
    let made = std::fs::metadata(path).unwrap();
    let me = std::fs::metadata("/proc/self").unwrap();
    let owner = (made.uid(), made.gid());
    match me.uid() {
        0 => assert!(
            owner.0 >= 65536 && owner.1 >= 65536,
            "{}: made as host {owner:?}",
            path.display()
        ),
        uid => assert_eq!(owner, (uid, me.gid()), "{}", path.display()),
    }
}

#[tokio::test]
async fn launch_then_exec_streams_lines_in_order_with_the_exit_code() {
    let Some(t) = test_lxd("launch_then_exec_streams_lines") else {
        return;
    };
    let (name, _guard) = t.launch("stream").await;
    // Right after a bare `lxc launch`, systemd's boot-time tmpfiles run
    // empties /tmp (seen 3 of 3 times here); launch waits that out.
    let early = tempfile::NamedTempFile::new().unwrap();
    t.lxc
        .push_file(&name, early.path(), "/tmp/pushed-early", 0o644)
        .await
        .unwrap();

    let info = t.lxc.instance(&name).await.unwrap().expect("launched");
    assert!(info.is_running(), "{info:?}");
    assert_eq!(info.user["user.slurm-factory.run"], "e2e-test");
    let listed = t.lxc.instances().await.unwrap();
    assert!(listed.iter().any(|i| i.name == name), "{listed:?}");

    let script = "for i in 1 2 3; do echo out$i; echo err$i >&2; sleep 0.2; done; \
                  echo late; sleep 1.5; echo last; exit 7";
    let seen: Arc<Mutex<Vec<(Stream, String, Instant)>>> = Default::default();
    let sink = seen.clone();
    let code = t
        .lxc
        .exec(
            &name,
            &argv(&["sh", "-c", script]),
            &[],
            move |kind, line| sink.lock().unwrap().push((kind, line, Instant::now())),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(code, 7);
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    let of = |k: Stream| -> Vec<&str> {
        seen.iter()
            .filter(|(kind, ..)| *kind == k)
            .map(|(_, l, _)| l.as_str())
            .collect()
    };
    assert_eq!(of(Stream::Stdout), ["out1", "out2", "out3", "late", "last"]);
    assert_eq!(of(Stream::Stderr), ["err1", "err2", "err3"]);
    // Across streams, lines 0.2 s apart arrive in the order they were written.
    let pos = |l: &str| seen.iter().position(|(_, x, _)| x == l).unwrap();
    assert!(pos("err1") < pos("out2") && pos("err2") < pos("out3"));
    // Streamed as they come, not collected at the end.
    let at = |l: &str| seen[pos(l)].2;
    assert!(at("last") - at("late") > Duration::from_secs(1));

    let out = t
        .lxc
        .exec_capture(&name, &argv(&["test", "-e", "/tmp/pushed-early"]), &[])
        .await
        .unwrap();
    assert_eq!(out.status, 0, "a file pushed after launch was removed");

    // A missing program and a very long line.
    let code = t
        .lxc
        .exec_capture(&name, &argv(&["no-such-program"]), &[])
        .await
        .unwrap()
        .status;
    assert_eq!(code, 127);
    let mut long = Vec::new();
    let code = t
        .lxc
        .exec(
            &name,
            &argv(&[
                "sh",
                "-c",
                "head -c 300000 /dev/zero | tr '\\0' x; echo; echo after",
            ]),
            &[],
            |_, line| long.push(line),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(code, 0);
    assert_eq!(long.len(), 2);
    assert_eq!(long[0], "x".repeat(300_000));
    assert_eq!(long[1], "after");
}

#[tokio::test]
async fn env_and_shell_metacharacters_arrive_verbatim() {
    let Some(t) = test_lxd("env_and_shell_metacharacters") else {
        return;
    };
    let (name, _guard) = t.launch("argv").await;
    let nasty = "a; rm -rf / $(id) `hostname` && echo \"pwned\" | cat > /x 'q' \\ *";
    let out = t
        .lxc
        .exec_capture(&name, &argv(&["printf", "%s", nasty]), &[])
        .await
        .unwrap();
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(out.stdout, nasty);

    let env = vec![
        ("SF_NASTY".to_string(), nasty.to_string()),
        ("SF_EMPTY".to_string(), String::new()),
    ];
    let out = t
        .lxc
        .exec_capture(&name, &argv(&["printenv", "SF_NASTY", "SF_EMPTY"]), &env)
        .await
        .unwrap();
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(out.stdout, format!("{nasty}\n\n"));

    let bad = t
        .lxc
        .exec_capture(&name, &argv(&["true"]), &[("A=B".into(), "x".into())])
        .await
        .unwrap_err();
    assert!(matches!(bad, Error::InvalidValue { .. }), "{bad}");
}

#[tokio::test]
async fn disk_devices_are_writable_and_files_belong_to_the_host_user_never_host_root() {
    let Some(t) = test_lxd("disk_devices") else {
        return;
    };
    let cache = tempfile::tempdir().unwrap();
    let ro = tempfile::tempdir().unwrap();
    std::fs::write(ro.path().join("seed"), "from the host").unwrap();
    let name = unique("disk");
    let _guard = Cleanup::instance(&name);
    let mut spec = t.spec(&name);
    spec.devices = vec![
        DiskDevice {
            name: "cache".into(),
            source: cache.path().into(),
            pool: None,
            path: "/var/cache/sf".into(),
            readonly: false,
        },
        DiskDevice {
            name: "seed".into(),
            source: ro.path().into(),
            pool: None,
            path: "/opt/seed".into(),
            readonly: true,
        },
    ];
    t.lxc.launch(&spec).await.unwrap();

    let out = t
        .lxc
        .exec_capture(
            &name,
            &argv(&[
                "sh",
                "-c",
                "mkdir -p /var/cache/sf/d && echo built > /var/cache/sf/d/f",
            ]),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(out.status, 0, "{}", out.stderr);
    let written = cache.path().join("d/f");
    assert_eq!(std::fs::read_to_string(&written).unwrap(), "built\n");
    assert_made_by_instance_root(&written);
    assert_made_by_instance_root(&cache.path().join("d"));

    let out = t
        .lxc
        .exec_capture(&name, &argv(&["cat", "/opt/seed/seed"]), &[])
        .await
        .unwrap();
    assert_eq!(out.stdout, "from the host");
    let out = t
        .lxc
        .exec_capture(&name, &argv(&["touch", "/opt/seed/nope"]), &[])
        .await
        .unwrap();
    assert_ne!(out.status, 0, "a read-only device took a write");
    assert!(!ro.path().join("nope").exists());
}

/// Builds copy a stopped instance whose files LXD already shifted (a
/// fresh instance of an image is shifted file by file at its first start):
/// two builds making it at once leave one, unlabelled, and no scratch; a
/// copy gets its own labels and devices, with the host user's mapping (for
/// root, LXD's unprivileged one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shifted_instance_is_made_once_and_copies_start_with_their_own_devices() {
    let Some(t) = test_lxd("shifted_copies") else {
        return;
    };
    let shifted = unique("shifted");
    let _shifted = Cleanup::instance(&shifted);
    let (a, b) = (unique("scratch-a"), unique("scratch-b"));
    let (_a, _b) = (Cleanup::instance(&a), Cleanup::instance(&b));
    let label = "user.slurm-factory.run";
    let scratch_keys = [label];
    let (spec_a, spec_b) = (t.spec(&a), t.spec(&b));
    let (made_a, made_b) = tokio::join!(
        t.lxc.make_shifted(&spec_a, &shifted, &scratch_keys),
        t.lxc.make_shifted(&spec_b, &shifted, &scratch_keys),
    );
    made_a.unwrap();
    made_b.unwrap();
    let info = t.lxc.instance(&shifted).await.unwrap().expect("made");
    assert!(!info.is_running(), "{info:?}");
    assert_eq!(info.user.get(label), None, "the scratch's run label stays");
    for scratch in [&a, &b] {
        assert!(
            !t.lxc.instance_exists(scratch).await.unwrap(),
            "{scratch} left"
        );
    }

    let cache = tempfile::tempdir().unwrap();
    let copy = unique("copy");
    let _copy = Cleanup::instance(&copy);
    let mut spec = t.spec(&copy);
    spec.config = host_user_idmap()
        .unwrap()
        .into_iter()
        .chain([(label.into(), "e2e-copy".into())])
        .collect();
    spec.devices = vec![DiskDevice {
        name: "cache".into(),
        source: cache.path().into(),
        pool: None,
        path: "/var/cache/sf".into(),
        readonly: false,
    }];
    spec.copy_of = Some(shifted.clone());
    t.lxc.launch(&spec).await.unwrap();
    let info = t.lxc.instance(&copy).await.unwrap().expect("launched");
    assert!(info.is_running(), "{info:?}");
    assert_eq!(info.user.get(label).map(String::as_str), Some("e2e-copy"));
    let write = argv(&["sh", "-c", "echo built > /var/cache/sf/f"]);
    let out = t.lxc.exec_capture(&copy, &write, &[]).await.unwrap();
    assert_eq!(out.status, 0, "{}", out.stderr);
    let written = cache.path().join("f");
    assert_eq!(std::fs::read_to_string(&written).unwrap(), "built\n");
    assert_made_by_instance_root(&written);

    // A source that is gone: said so, and nothing is created.
    let orphan = unique("orphan");
    let _orphan = Cleanup::instance(&orphan);
    let mut spec = t.spec(&orphan);
    spec.copy_of = Some(unique("gone"));
    let err = t.lxc.launch(&spec).await.unwrap_err();
    assert!(matches!(err, Error::InstanceNotFound { .. }), "{err:?}");
    assert!(!t.lxc.instance_exists(&orphan).await.unwrap());
}

#[tokio::test]
async fn files_and_trees_push_and_pull() {
    let Some(t) = test_lxd("files_and_trees") else {
        return;
    };
    let (name, _guard) = t.launch("files").await;
    let host = tempfile::tempdir().unwrap();

    let file = host.path().join("in.txt");
    std::fs::write(&file, "hello\nworld\n").unwrap();
    t.lxc
        .push_file(&name, &file, "/opt/sf/new/dir/in.txt", 0o640)
        .await
        .unwrap();
    let out = t
        .lxc
        .exec_capture(
            &name,
            &argv(&["stat", "-c", "%a %u %g", "/opt/sf/new/dir/in.txt"]),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(out.stdout.trim(), "640 0 0");
    let back = host.path().join("back.txt");
    t.lxc
        .pull_file(&name, "/opt/sf/new/dir/in.txt", &back)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), b"hello\nworld\n");

    // A tree with a subdirectory, binary content and an executable.
    let tree = host.path().join("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::write(tree.join("a.txt"), "a").unwrap();
    let binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    std::fs::write(tree.join("sub/b.bin"), &binary).unwrap();
    std::fs::write(tree.join("sub/run.sh"), "#!/bin/sh\necho ran\n").unwrap();
    std::fs::set_permissions(
        tree.join("sub/run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    t.lxc.push_tree(&name, &tree, "/opt/stage").await.unwrap();
    let out = t
        .lxc
        .exec_capture(&name, &argv(&["/opt/stage/tree/sub/run.sh"]), &[])
        .await
        .unwrap();
    assert_eq!(out.stdout, "ran\n", "{}", out.stderr);
    let out = t
        .lxc
        .exec_capture(
            &name,
            &argv(&["sha256sum", "/opt/stage/tree/sub/b.bin"]),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(out.status, 0);

    // Changed inside, then pulled back whole.
    t.lxc
        .exec_capture(
            &name,
            &argv(&["sh", "-c", "echo new > /opt/stage/tree/sub/made-inside"]),
            &[],
        )
        .await
        .unwrap();
    let pulled = host.path().join("pulled");
    std::fs::create_dir(&pulled).unwrap();
    t.lxc
        .pull_tree(&name, "/opt/stage/tree", &pulled)
        .await
        .unwrap();
    let root = pulled.join("tree");
    assert_eq!(std::fs::read(root.join("a.txt")).unwrap(), b"a");
    assert_eq!(std::fs::read(root.join("sub/b.bin")).unwrap(), binary);
    assert_eq!(
        std::fs::read_to_string(root.join("sub/made-inside")).unwrap(),
        "new\n"
    );
    let mode = std::fs::metadata(root.join("sub/run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111, "exec bits lost: {mode:o}");

    let err = t
        .lxc
        .pull_file(&name, "/no/such/file", &host.path().join("x"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("/no/such/file"), "{err}");
    assert!(matches!(
        t.lxc.push_file(&name, &file, "relative/path", 0o644).await,
        Err(Error::InvalidValue { .. })
    ));
}

/// An offline site's checkout arrives at the layout path whatever its own
/// name, without byte-code caches or git metadata, symlinks kept, replacing
/// what was there.
#[tokio::test]
async fn a_tree_pushed_as_a_path_lands_there_whatever_its_name() {
    let Some(t) = test_lxd("a_tree_pushed_as_a_path") else {
        return;
    };
    let (name, _guard) = t.launch("push-as").await;
    let host = tempfile::tempdir().unwrap();
    let tree = host.path().join("spack-1.1");
    std::fs::create_dir_all(tree.join("bin")).unwrap();
    std::fs::create_dir_all(tree.join("etc/spack")).unwrap();
    std::fs::create_dir_all(tree.join("lib/__pycache__")).unwrap();
    std::fs::create_dir_all(tree.join(".git")).unwrap();
    std::fs::write(tree.join("bin/spack"), "#!/bin/sh\necho spack 1.1.0\n").unwrap();
    std::fs::set_permissions(
        tree.join("bin/spack"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(tree.join("etc/spack/packages.yaml"), "packages: {}\n").unwrap();
    std::fs::write(tree.join("lib/__pycache__/x.pyc"), "cache").unwrap();
    std::fs::write(tree.join(".git/HEAD"), "ref").unwrap();
    std::os::unix::fs::symlink("bin/spack", tree.join("spack-link")).unwrap();
    // A symlink to the checkout, as sites often name the current one.
    let current = host.path().join("current");
    std::os::unix::fs::symlink(&tree, &current).unwrap();
    t.lxc
        .exec_capture(&name, &argv(&["mkdir", "-p", "/opt/sf/spack/stale"]), &[])
        .await
        .unwrap();
    t.lxc
        .push_tree_as(&name, &current, "/opt/sf/spack", host.path())
        .await
        .unwrap();
    let out = t
        .lxc
        .exec_capture(&name, &argv(&["/opt/sf/spack/spack-link"]), &[])
        .await
        .unwrap();
    assert_eq!(out.stdout, "spack 1.1.0\n", "{}", out.stderr);
    let out = t
        .lxc
        .exec_capture(
            &name,
            &argv(&["find", "/opt/sf", "-mindepth", "1", "-printf", "%P %u %y\n"]),
            &[],
        )
        .await
        .unwrap();
    let mut listing: Vec<&str> = out.stdout.lines().collect();
    listing.sort();
    assert_eq!(
        listing,
        [
            "spack root d",
            "spack/bin root d",
            "spack/bin/spack root f",
            "spack/etc root d",
            "spack/etc/spack root d",
            "spack/etc/spack/packages.yaml root f",
            "spack/lib root d",
            "spack/spack-link root l",
        ],
        "{}",
        out.stdout
    );
    let leftovers: Vec<_> = std::fs::read_dir(host.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".push-"))
        .collect();
    assert!(leftovers.is_empty(), "the temporary tar is gone");
}

#[tokio::test]
async fn cancel_stops_a_long_command_quickly_and_delete_leaves_nothing() {
    let Some(t) = test_lxd("cancel") else {
        return;
    };
    let (name, _guard) = t.launch("cancel").await;
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    let cancelled_at: Arc<Mutex<Option<Instant>>> = Default::default();
    let mark = cancelled_at.clone();
    let result = t
        .lxc
        .exec(
            &name,
            &argv(&["sh", "-c", "echo started; exec sleep 60"]),
            &[],
            move |_, line| {
                if line == "started" {
                    *mark.lock().unwrap() = Some(Instant::now());
                    trigger.cancel();
                }
            },
            &cancel,
        )
        .await;
    let took = cancelled_at
        .lock()
        .unwrap()
        .expect("saw `started`")
        .elapsed();
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    assert!(took < Duration::from_secs(3), "cancel took {took:?}");

    // The pipeline deletes the instance next: that stops the sleep too.
    t.lxc.delete(&name).await.unwrap();
    assert!(!t.lxc.instance_exists(&name).await.unwrap());
    assert!(!t
        .lxc
        .instances()
        .await
        .unwrap()
        .iter()
        .any(|i| i.name == name));
    // Deleting what is gone is fine; exec in it is a clear error.
    t.lxc.delete(&name).await.unwrap();
    let err = t
        .lxc
        .exec_capture(&name, &argv(&["true"]), &[])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InstanceNotFound { .. }), "{err}");
}

#[tokio::test]
async fn publish_makes_an_image_that_launches_and_can_be_deleted() {
    let Some(t) = test_lxd("publish") else {
        return;
    };
    let (name, _guard) = t.launch("publish").await;
    t.lxc
        .exec_capture(
            &name,
            &argv(&["sh", "-c", "echo prepared > /etc/sf-base-marker"]),
            &[],
        )
        .await
        .unwrap();
    let alias = unique("img");
    let _image_guard = Cleanup::image(&alias);
    let fingerprint = t
        .lxc
        .publish(
            &name,
            &alias,
            &[("slurm-factory.inputs".into(), "abc123".into())],
        )
        .await
        .unwrap();
    assert!(t.lxc.image_exists(&alias).await.unwrap());
    let images = t.lxc.images().await.unwrap();
    let image = images
        .iter()
        .find(|i| i.aliases.contains(&alias))
        .expect("listed");
    assert_eq!(image.fingerprint, fingerprint);
    assert_eq!(image.properties["slurm-factory.inputs"], "abc123");
    assert!(image.size > 0);

    // An instance from it has what the first one prepared.
    let child = unique("from-img");
    let _child_guard = Cleanup::instance(&child);
    let mut spec = t.spec(&child);
    spec.image = alias.clone();
    t.lxc.launch(&spec).await.unwrap();
    let out = t
        .lxc
        .exec_capture(&child, &argv(&["cat", "/etc/sf-base-marker"]), &[])
        .await
        .unwrap();
    assert_eq!(out.stdout, "prepared\n");

    t.lxc.delete(&child).await.unwrap();
    t.lxc.delete_image(&alias).await.unwrap();
    assert!(!t.lxc.image_exists(&alias).await.unwrap());
    t.lxc.delete_image(&alias).await.unwrap();
}

#[tokio::test]
async fn failed_launches_say_why_and_leave_nothing_behind() {
    let Some(t) = test_lxd("failed_launches") else {
        return;
    };
    let name = unique("fail");
    let _guard = Cleanup::instance(&name);

    let mut spec = t.spec(&name);
    spec.image = "sf-no-such-image".into();
    let err = t.lxc.launch(&spec).await.unwrap_err();
    assert!(matches!(err, Error::ImageNotFound { .. }), "{err}");
    assert!(err.hint().contains("lxc image list"), "{}", err.hint());
    assert!(!t.lxc.instance_exists(&name).await.unwrap());
    assert!(!t.lxc.image_exists("sf-no-such-image").await.unwrap());

    let mut spec = t.spec(&name);
    spec.storage_pool = Some("sf-no-such-pool".into());
    let err = t.lxc.launch(&spec).await.unwrap_err();
    assert!(
        matches!(&err, Error::StoragePoolMissing { pool } if pool == "sf-no-such-pool"),
        "{err}"
    );
    assert!(!t.lxc.instance_exists(&name).await.unwrap());

    // A device LXD refuses at creation: nothing is created.
    let mut spec = t.spec(&name);
    spec.devices = vec![DiskDevice {
        name: "gone".into(),
        source: Path::new("/nonexistent/slurm-factory-test").into(),
        pool: None,
        path: "/mnt/gone".into(),
        readonly: false,
    }];
    let err = t.lxc.launch(&spec).await.unwrap_err();
    assert!(err.to_string().contains("Missing source path"), "{err}");
    assert!(!t.lxc.instance_exists(&name).await.unwrap());

    // Created, but cannot start (a uid that /etc/subuid does not delegate
    // to root): the instance is removed again.
    let mut spec = t.spec(&name);
    spec.config = vec![("raw.idmap".into(), "both 54321 0".into())];
    let err = t.lxc.launch(&spec).await.unwrap_err();
    assert!(matches!(err, Error::Lxc { .. }), "{err}");
    assert!(err.to_string().contains("show-log"), "{err}");
    assert!(!t.lxc.instance_exists(&name).await.unwrap());
}

/// What verify's two nodes stand on: a private bridge the engine creates,
/// addresses LXD holds for each instance, and traffic between them but no
/// route out of the host.
#[tokio::test]
async fn a_private_network_joins_instances_and_nothing_else() {
    let Some(t) = test_lxd("private_network") else {
        return;
    };
    // The verify image: it has iproute2, as a user's images do.
    let Some([image]) = slurm_factory_e2e::test_vars(
        "private_network",
        ["SLURM_FACTORY_TEST_BARE_IMAGE"],
        "no verify image. Run .ci/setup-lxd.sh (as root) and set \
         SLURM_FACTORY_TEST_BARE_IMAGE=sf-verify-bare",
    ) else {
        return;
    };
    // Interface names have 15 characters at most.
    let network = format!("sft-n{}", std::process::id() % 1_000_000);
    let _network_guard = Cleanup {
        args: argv(&["network", "delete", &network]),
    };
    let subnet = Subnet::parse("10.203.72.1/24").unwrap();
    assert_eq!(t.lxc.network(&network).await.unwrap(), None);
    t.lxc
        .create_private_network(&network, subnet)
        .await
        .unwrap();
    // A second build creating it at the same moment is no error.
    t.lxc
        .create_private_network(&network, subnet)
        .await
        .unwrap();
    let info = t.lxc.network(&network).await.unwrap().unwrap();
    assert_eq!(info.unusable(), None, "{info:?}");
    assert_eq!((info.ipv4, info.nat), (Some(subnet), false), "{info:?}");

    let nic = |address: &str| NicDevice {
        name: "eth0".into(),
        network: network.clone(),
        ipv4_address: Some(address.parse().unwrap()),
    };
    let (a, b) = (unique("net-a"), unique("net-b"));
    let (_a_guard, _b_guard) = (Cleanup::instance(&a), Cleanup::instance(&b));
    let mut spec = t.spec(&a);
    spec.image = image.clone();
    spec.nics = vec![nic("10.203.72.11")];
    t.lxc.launch(&spec).await.unwrap();
    // LXD keeps each address to one instance: a launch asking for a taken
    // one fails at creation, leaving nothing.
    let mut spec = t.spec(&b);
    spec.image = image;
    spec.nics = vec![nic("10.203.72.11")];
    let err = t.lxc.launch(&spec).await.unwrap_err();
    assert!(is_address_taken(&err), "{err}");
    assert!(!t.lxc.instance_exists(&b).await.unwrap());
    spec.nics = vec![nic("10.203.72.12")];
    t.lxc.launch(&spec).await.unwrap();

    for (name, address) in [(&a, "10.203.72.11/24"), (&b, "10.203.72.12/24")] {
        let up = argv(&[
            "sh",
            "-c",
            "ip link set eth0 up && ip addr add \"$1\" dev eth0",
            "sh",
            address,
        ]);
        let out = t.lxc.exec_capture(name, &up, &[]).await.unwrap();
        assert_eq!(out.status, 0, "{}", out.stderr);
    }
    // No listener on b: a refusal is b's kernel answering over the bridge.
    let connect = |to: &str| argv(&["bash", "-c", "exec 3<>\"/dev/tcp/$1/9\"", "bash", to]);
    let out = t
        .lxc
        .exec_capture(&a, &connect("10.203.72.12"), &[])
        .await
        .unwrap();
    assert!(out.stderr.contains("Connection refused"), "{}", out.stderr);
    // Nothing beyond the bridge: no NAT, no default route.
    let out = t
        .lxc
        .exec_capture(&a, &connect("192.0.2.1"), &[])
        .await
        .unwrap();
    assert!(
        out.stderr.contains("Network is unreachable"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn unreachable_daemon_gives_the_hinted_error() {
    if factory::lxd::find_on_path("lxc").is_none() {
        eprintln!("\n*** SKIPPED unreachable_daemon: no `lxc` client on PATH ***\n");
        return;
    }
    // LXD_DIR tells the client where the daemon's socket is: here, nowhere.
    let empty = tempfile::tempdir().unwrap();
    let lxc = Lxc::from_parts("lxc", "local", "default")
        .with_env("LXD_DIR", empty.path().to_str().unwrap());
    let err = lxc.server_info().await.unwrap_err();
    assert!(matches!(err, Error::LxdUnreachable { .. }), "{err}");
    assert!(err.hint().contains("start the daemon"), "{}", err.hint());
    assert_eq!(err.kind().code(), 4);
    let err = lxc.instances().await.unwrap_err();
    assert!(matches!(err, Error::LxdUnreachable { .. }), "{err}");
    let err = lxc
        .launch(&LaunchSpec {
            image: "sf-test-build".into(),
            name: "sft-unreachable".into(),
            ..LaunchSpec::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::LxdUnreachable { .. }), "{err}");
}

#[tokio::test]
async fn a_unified_tarball_imports_under_its_alias() {
    let Some(t) = test_lxd("import") else {
        return;
    };
    // The smallest image LXD accepts: metadata and a rootfs with one file.
    let dir = tempfile::tempdir().unwrap();
    let alias = unique("import");
    std::fs::create_dir_all(dir.path().join("rootfs/etc")).unwrap();
    std::fs::write(dir.path().join("rootfs/etc/marker"), &alias).unwrap();
    std::fs::write(
        dir.path().join("metadata.yaml"),
        format!(
            "architecture: {}\ncreation_date: 1700000000\nproperties:\n  os: test\n",
            std::env::consts::ARCH
        ),
    )
    .unwrap();
    let tarball = dir.path().join("image.tar.gz");
    let status = std::process::Command::new("tar")
        .arg("-C")
        .arg(dir.path())
        .arg("-czf")
        .arg(&tarball)
        .args(["metadata.yaml", "rootfs"])
        .status()
        .unwrap();
    assert!(status.success());
    let sha = std::process::Command::new("sha256sum")
        .arg(&tarball)
        .output()
        .unwrap();
    let sha = String::from_utf8(sha.stdout).unwrap();
    let sha = sha.split_whitespace().next().unwrap();

    let _image_guard = Cleanup::image(&alias);
    let fingerprint = t.lxc.import_image(&tarball, &alias).await.unwrap();
    assert_eq!(
        fingerprint, sha,
        "LXD fingerprints a unified tarball by its sha256"
    );
    assert!(t.lxc.image_exists(&alias).await.unwrap());
    assert!(t.lxc.image_exists(&fingerprint).await.unwrap());
    let images = t.lxc.images().await.unwrap();
    let image = images
        .iter()
        .find(|i| i.fingerprint == fingerprint)
        .unwrap();
    assert_eq!(image.aliases, std::slice::from_ref(&alias));
    assert_eq!(image.properties["os"], "test");

    t.lxc.delete_image(&alias).await.unwrap();
    assert!(!t.lxc.image_exists(&fingerprint).await.unwrap());
}
