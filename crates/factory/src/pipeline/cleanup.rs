//! The cleanup stage.

use super::*;

impl Build<'_> {
    /// Deletes the run's instances (kept on failure with `--keep`) and its
    /// staging files; runs even after a failure or a cancel.
    pub(super) async fn cleanup(&mut self, failed: bool) {
        self.emit(BuildEvent::StageStarted {
            stage: Stage::Cleanup,
        });
        let started = Instant::now();
        let keep = failed && self.options.flags.keep_on_failure && !self.cancel.is_cancelled();
        let mut notes = Vec::new();
        // All at once: each delete waits for LXD to stop the instance.
        let mut deleting = tokio::task::JoinSet::new();
        for name in &self.instances {
            if keep {
                // Only those the run got as far as creating; the build
                // instance is stopped once its package is made.
                match self.lxc.instance(name).await {
                    Ok(None) => {}
                    Ok(Some(info)) if !info.is_running() => notes.push(format!(
                        "kept {name} (stopped): `lxc start {name} && lxc exec {name} -- bash` \
                         to look inside"
                    )),
                    _ => notes.push(format!(
                        "kept {name}: `lxc exec {name} -- bash` to look inside"
                    )),
                }
                continue;
            }
            let (lxc, name) = (self.lxc.clone(), name.clone());
            deleting.spawn(async move {
                let deleted = lxc.delete(&name).await;
                (name, deleted)
            });
        }
        while let Some(done) = deleting.join_next().await {
            if let Ok((name, Err(e))) = done {
                self.emit(BuildEvent::Warning {
                    stage: Stage::Cleanup,
                    message: format!("could not delete instance {name}: {e}"),
                });
            }
        }
        for dir in ["staging", "out"] {
            let _ = std::fs::remove_dir_all(self.run.file(dir));
        }
        self.emit(BuildEvent::StageFinished {
            stage: Stage::Cleanup,
            outcome: StageOutcome::Done,
            elapsed_ms: started.elapsed().as_millis() as u64,
            detail: (!notes.is_empty()).then(|| notes.join("; ")),
        });
    }
}
