//! Running the recipe's scripts in an instance: argv only, every line to the
//! log and its `::` protocol lines read on the way.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::events::BuildEvent;
use crate::kinds::Stage;
use crate::layout;
use crate::protocol::ScriptLine;

use super::diagnose::says_no_space;
use super::Build;

impl Build<'_> {
    pub(super) async fn push_recipe(&self, instance: &str) -> Result<()> {
        self.lxc
            .push_tree(
                instance,
                &self.run.file("recipe"),
                parent_of(layout::RECIPE),
            )
            .await
    }

    /// Runs `scripts/<name>` from the pushed recipe, streaming its output.
    /// Runs a recipe script that takes no arguments and whose lines only go to the log.
    pub(super) async fn run_script(&self, stage: Stage, instance: &str, name: &str) -> Result<()> {
        self.script(stage, instance, name, &[], &mut |_| {}).await
    }

    pub(super) async fn script(
        &self,
        stage: Stage,
        instance: &str,
        name: &str,
        args: &[String],
        on_line: &mut (dyn FnMut(&str) + Send),
    ) -> Result<()> {
        let mut argv = vec![
            "bash".to_string(),
            format!("{}/scripts/{name}", layout::RECIPE),
        ];
        argv.extend(args.iter().cloned());
        let last_lines = Arc::new(Mutex::new(std::collections::VecDeque::new()));
        let code = self
            .lxc
            .exec(
                instance,
                &argv,
                &[],
                |stream, line| {
                    on_line(&line);
                    if says_no_space(&line) {
                        self.wrote_to_full_disk.store(true, Ordering::Relaxed);
                    }
                    if let Some(ScriptLine::Cache {
                        layer,
                        hits,
                        lookups,
                    }) = ScriptLine::parse(&line)
                    {
                        self.cache_use(layer, hits, lookups);
                    }
                    let mut tail = last_lines.lock().expect("tail lock");
                    if tail.len() == 5 {
                        tail.pop_front();
                    }
                    tail.push_back(line.clone());
                    self.emit(BuildEvent::Log {
                        stage,
                        stream,
                        line,
                    });
                },
                self.cancel,
            )
            .await?;
        if code != 0 {
            let tail: Vec<String> = last_lines
                .lock()
                .expect("tail lock")
                .iter()
                .cloned()
                .collect();
            return Err(Error::BuildFailed {
                stage,
                message: format!(
                    "{name} exited with {code}; last output: {}",
                    tail.join(" | ")
                ),
                log: self.run.file("build.log"),
            });
        }
        Ok(())
    }
}

pub(super) fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map(|(p, _)| p).unwrap_or("/")
}

pub(super) fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_of_splits_container_paths() {
        assert_eq!(parent_of("/opt/slurm-factory/recipe"), "/opt/slurm-factory");
    }
}
