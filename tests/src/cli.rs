//! The built `slurm-factory` binary as a test runs it, and an `lxc` whose
//! daemon is not there.

use std::path::{Path, PathBuf};

/// An executable `lxc` wrapper in `dir` that talks to a daemon that is not
/// there (an empty LXD_DIR): LXD as it is when its daemon is stopped.
pub fn lxc_without_daemon(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let lxd_dir = dir.join("no-daemon");
    std::fs::create_dir_all(&lxd_dir).expect("creating an empty LXD_DIR");
    let wrapper = dir.join("lxc");
    // The daemon dir is found next to the script: no path is spliced into shell text.
    std::fs::write(
        &wrapper,
        "#!/bin/sh\nLXD_DIR=\"$(dirname \"$0\")/no-daemon\" exec lxc \"$@\"\n",
    )
    .expect("writing the lxc wrapper");
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))
        .expect("making the wrapper executable");
    wrapper
}

/// `slurm-factory ARGS` as a user whose home is `home` runs it: nothing of
/// this environment leaks in but PATH, the XDG dirs are the usual ones under
/// `home`, and `vars` (`SLURM_FACTORY_*` settings) come on top.
pub fn slurm_factory<K, V>(
    home: &Path,
    vars: impl IntoIterator<Item = (K, V)>,
    args: &[&str],
) -> std::process::Output
where
    K: AsRef<std::ffi::OsStr>,
    V: AsRef<std::ffi::OsStr>,
{
    let bin = built_binary("slurm-factory");
    assert!(
        bin.is_file(),
        "{} is missing: cargo build -p slurm-factory-cli",
        bin.display()
    );
    slurm_factory_command(home, vars)
        .args(args)
        .output()
        .expect("running slurm-factory")
}

/// `slurm-factory` with a clean environment: `home` as its home and XDG
/// dirs, no colour, and `vars` (`SLURM_FACTORY_*` settings).
pub fn slurm_factory_command<K, V>(
    home: &Path,
    vars: impl IntoIterator<Item = (K, V)>,
) -> std::process::Command
where
    K: AsRef<std::ffi::OsStr>,
    V: AsRef<std::ffi::OsStr>,
{
    let mut command = std::process::Command::new(built_binary("slurm-factory"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("NO_COLOR", "1")
        .envs(vars);
    command
}

/// A binary of this workspace's build, beside the running test's own
/// (`target/debug/deps/<test>` → `target/debug/<name>`), wherever
/// CARGO_TARGET_DIR puts it.
pub fn built_binary(name: &str) -> PathBuf {
    std::env::current_exe()
        .expect("the test binary's path")
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in <target>/debug/deps")
        .join(name)
}
