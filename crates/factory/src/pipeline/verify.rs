//! The verify stage.

use super::*;

impl Build<'_> {
    /// Launches the clean instance packages are verified in and finds out
    /// whether it can unpack a .tar.zst: a target may lack zstd (a bare
    /// server), and then only a .tar.gz unpacks there.
    pub(super) async fn start_verify_instance(&self, instance: &str) -> Result<bool> {
        self.launch(instance, &self.settings.verify_image, Vec::new())
            .await?;
        let probe = ["sh", "-c", "command -v zstd"].map(String::from);
        Ok(self.lxc.exec_capture(instance, &probe, &[]).await?.status == 0)
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
                .ok_or_else(|| Error::VerifyImageWithoutZstd {
                    image: self.settings.verify_image.clone(),
                })?
        };
        let remote_archive = format!("/tmp/{}", file_name(&archive.path));
        self.lxc
            .push_file(instance, &archive.path, &remote_archive, 0o644)
            .await?;
        let mut checks = Vec::new();
        let mut log_text = String::new();
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
