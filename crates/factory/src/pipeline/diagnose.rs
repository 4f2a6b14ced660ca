//! Why a stage failed, when the environment is to blame: a full host disk, a
//! full storage pool, or the LXD daemon gone.

use std::sync::atomic::Ordering;

use crate::error::Error;
use crate::kinds::Stage;

use super::Build;

/// Whether `text` reports ENOSPC, as every tool words it (`strerror`), in
/// any case. Runs on every log line, so without allocating.
pub(super) fn says_no_space(text: &str) -> bool {
    const NO_SPACE: &[u8] = b"no space left on device";
    text.as_bytes()
        .windows(NO_SPACE.len())
        .any(|w| w.eq_ignore_ascii_case(NO_SPACE))
}

impl Build<'_> {
    /// A failed stage, told by its cause where the environment is to blame,
    /// whatever the step itself printed (a tar cut short, a broken websocket):
    /// a full host directory, a full storage pool, or LXD gone. Errors that
    /// already name their cause pass through.
    pub(super) async fn explain_failure(&self, stage: Stage, err: Error) -> Error {
        if matches!(
            err,
            Error::Cancelled
                | Error::DiskFull { .. }
                | Error::RanOutOfDisk { .. }
                | Error::PoolFull { .. }
                | Error::LxdLost { .. }
        ) {
            return err;
        }
        if let Some(full) = self.host_disk_full(stage, &err) {
            return full;
        }
        if let Some(full) = self.pool_full(stage, &err).await {
            return full;
        }
        self.lxd_lost(stage, &err).await.unwrap_or(err)
    }

    /// A directory the build writes to (cache, artifacts, runs) has nearly
    /// no room left: the user is told which disk to free.
    fn host_disk_full(&self, stage: Stage, err: &Error) -> Option<Error> {
        // Less than this left and a failed write is the likely cause.
        const FULL_BELOW: u64 = 8 * 1024 * 1024;
        let dirs = [
            self.settings.cache_dir.clone(),
            self.settings.artifacts_dir(),
            self.settings.runs_dir(),
        ];
        dirs.iter().find_map(|dir| {
            let path = crate::fsutil::nearest_existing(dir);
            let bytes = fs4::available_space(&path).ok()?;
            (bytes < FULL_BELOW).then(|| Error::RanOutOfDisk {
                stage,
                path,
                available_mib: bytes / (1024 * 1024),
                cause: err.to_string(),
            })
        })
    }

    /// The stage wrote to a full disk that is none of the host's
    /// directories: the instance's, on its storage pool. Told with the
    /// pool's use, as `lxc storage info` shows it.
    async fn pool_full(&self, stage: Stage, err: &Error) -> Option<Error> {
        let cause = err.to_string();
        if !self.wrote_to_full_disk.load(Ordering::Relaxed) && !says_no_space(&cause) {
            return None;
        }
        let pool = self.settings.storage_pool.clone();
        let usage = match self.lxc.pool_space(&pool).await {
            Ok(space) => format!(
                "{} of {} MiB used",
                space.used / (1024 * 1024),
                space.total / (1024 * 1024)
            ),
            Err(_) => "its use unknown".into(),
        };
        Some(Error::PoolFull {
            stage,
            pool,
            usage,
            cause,
        })
    }

    /// The LXD daemon restarted or went away during the stage (its command
    /// streams broke with it).
    async fn lxd_lost(&self, stage: Stage, err: &Error) -> Option<Error> {
        // LXD down from the start is preflight's NotReady, with its own fix.
        let pid = self.lxd_pid?;
        // Still answering while it shuts down, but only to say so.
        if err.to_string().contains("LXD is shutting down") {
            return Some(Error::LxdLost {
                stage,
                remote: self.lxc.remote().into(),
                what: "shut down".into(),
                cause: err.to_string(),
            });
        }
        let what = match self.lxc.server_info().await {
            Ok(info) if pid == 0 || info.environment.server_pid == pid => return None,
            Ok(_) => "restarted",
            Err(_) => "stopped answering",
        };
        Some(Error::LxdLost {
            stage,
            remote: self.lxc.remote().into(),
            what: what.into(),
            cause: err.to_string(),
        })
    }
}
