//! The verify stage.

use super::*;

impl Build<'_> {
    /// Launches the clean instance packages are verified in and finds out
    /// whether it can unpack a .tar.zst: a target may lack zstd (a bare
    /// server), and then only a .tar.gz unpacks there.
    pub(super) async fn start_verify_instance(&self, instance: &str) -> Result<bool> {
        self.launch(
            instance,
            &self.settings.verify_image,
            Vec::new(),
            Vec::new(),
        )
        .await?;
        let probe = ["sh", "-c", "command -v zstd"].map(String::from);
        Ok(self.lxc.exec_capture(instance, &probe, &[]).await?.status == 0)
    }

    /// The verify image's glibc against the newest `GLIBC_` version the
    /// package needs (its floor): an older one cannot run it, whatever the
    /// relocation did. `None` when the package needs no glibc version or the
    /// image has no glibc `getconf` (musl).
    async fn glibc_floor_check(
        &self,
        instance: &str,
        floor: &[crate::package::VersionNeed],
    ) -> Result<Option<VerifyCheck>> {
        let Some(need) = crate::package::glibc_floor(floor) else {
            return Ok(None);
        };
        let argv = ["getconf", "GNU_LIBC_VERSION"].map(String::from);
        let out = self.lxc.exec_capture(instance, &argv, &[]).await?;
        // "glibc 2.36"
        let Some(found) = out.stdout.split_whitespace().nth(1).map(String::from) else {
            return Ok(None);
        };
        let (needed, have) = (
            crate::package::dotted(&need.version),
            crate::package::dotted(&found),
        );
        if have < needed {
            return Err(Error::GlibcTooOld {
                needed: need.version.clone(),
                file: need.file.clone(),
                image: self.settings.verify_image.clone(),
                found,
            });
        }
        Ok(Some(VerifyCheck {
            name: "glibc-floor".into(),
            passed: true,
            output: format!(
                "needs glibc {} ({}), the system has {found}",
                need.version, need.file
            ),
        }))
    }

    /// Unpacks the archive at another prefix in the clean instance
    /// (`ready`: what starting it gave, `None` without verification) and runs
    /// the recipe's checks there.
    pub(super) async fn verify(
        &self,
        mut staged: Staged,
        instance: &str,
        ready: Option<Result<bool>>,
    ) -> Result<Done<Staged>> {
        let Some(ready) = ready else {
            return Ok(Done::skipped(staged, "--no-verify"));
        };
        let has_zstd = ready?;
        let archive = if has_zstd {
            &staged.archives[0]
        } else {
            staged
                .archives
                .iter()
                .find(|a| a.format == ArchiveFormat::TarGz)
                .expect("the package stage writes a .tar.gz when the verify image has no zstd")
        };
        let floor_check = self
            .glibc_floor_check(instance, &staged.inspection.floor)
            .await?;
        let remote_archive = format!("/tmp/{}", file_name(&archive.path));
        self.lxc
            .push_file(instance, &archive.path, &remote_archive, 0o644)
            .await?;
        let mut log_text = String::new();
        let mut checks = Vec::new();
        if let Some(check) = floor_check {
            log_text.push_str(&format!("::check pass glibc-floor {}\n", check.output));
            checks.push(check);
        }
        let mut since_last_check: Vec<String> = Vec::new();
        let result = self
            .script(
                Stage::Verify,
                instance,
                "verify.sh",
                &[remote_archive, VERIFY_PREFIX.to_string()],
                &mut |line| {
                    log_text.push_str(line);
                    log_text.push('\n');
                    match progress::parse_check_protocol(line) {
                        Some((passed, name)) => {
                            checks.push(VerifyCheck {
                                name: name.to_string(),
                                passed,
                                output: since_last_check.join("\n"),
                            });
                            since_last_check.clear();
                        }
                        None if since_last_check.len() < 40 => {
                            since_last_check.push(line.to_string())
                        }
                        None => {}
                    }
                },
            )
            .await;
        crate::fsutil::write_atomic(
            &staged.dir.join(crate::artifacts::VERIFY_LOG),
            log_text.as_bytes(),
        )?;
        let passed = result.is_ok() && checks.iter().all(|c| c.passed);
        staged.verify = Some(VerifyResult {
            passed,
            checks: checks.clone(),
        });
        let log = self.run.file("build.log");
        match result {
            Err(Error::BuildFailed { message, .. }) => Err(Error::VerifyFailed {
                problems: message,
                log,
            }),
            Err(e) => Err(e),
            Ok(()) if !passed => Err(Error::VerifyFailed {
                problems: checks
                    .iter()
                    .filter(|c| !c.passed)
                    .map(|c| c.name.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
                log,
            }),
            Ok(()) => {
                let detail = format!(
                    "{} checks passed at {VERIFY_PREFIX}{}",
                    checks.len(),
                    if has_zstd {
                        ""
                    } else {
                        " (from the .tar.gz: the verify image has no zstd)"
                    }
                );
                Ok(Done::new(staged).detail(detail))
            }
        }
    }
}
