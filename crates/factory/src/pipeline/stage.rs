//! One stage's frame: its start and finish events, its time, cancellation,
//! and what it reports when it ends well.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::error::{Error, Result};
use crate::events::BuildEvent;
use crate::kinds::{Stage, StageOutcome};
use crate::package::StageTiming;

use super::Build;

/// What a stage reports when it ends well.
pub(super) struct Done<T> {
    outcome: StageOutcome,
    detail: Option<String>,
    value: T,
}

impl<T> Done<T> {
    /// The stage did its work.
    pub(super) fn new(value: T) -> Done<T> {
        Done {
            outcome: StageOutcome::Done,
            detail: None,
            value,
        }
    }

    /// The stage reused a cached result.
    pub(super) fn cached(value: T) -> Done<T> {
        Done {
            outcome: StageOutcome::Cached,
            ..Done::new(value)
        }
    }

    /// The stage was not needed, and why.
    pub(super) fn skipped(value: T, why: impl Into<String>) -> Done<T> {
        Done {
            outcome: StageOutcome::Skipped,
            ..Done::new(value)
        }
        .detail(why)
    }

    /// One line on what the stage did, for the stage list.
    pub(super) fn detail(self, detail: impl Into<String>) -> Done<T> {
        Done {
            detail: Some(detail.into()),
            ..self
        }
    }
}

impl Build<'_> {
    /// Wraps one stage: start/finish events, elapsed time, cancellation.
    pub(super) async fn stage<T>(
        &self,
        stage: Stage,
        work: impl Future<Output = Result<Done<T>>>,
    ) -> Result<T> {
        self.emit(BuildEvent::StageStarted { stage });
        tracing::info!(run = %self.run.id, %stage, "stage started");
        self.wrote_to_full_disk.store(false, Ordering::Relaxed);
        let started = Instant::now();
        let result = tokio::select! {
            biased;
            _ = self.cancel.cancelled() => Err(Error::Cancelled),
            r = work => r,
        };
        let result = match result {
            Err(e) => Err(self.explain_failure(stage, e).await),
            ok => ok,
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        self.timings
            .lock()
            .expect("timings lock")
            .push(StageTiming {
                stage: stage.as_str().into(),
                seconds: elapsed_ms as f64 / 1000.0,
            });
        let (outcome, detail) = match &result {
            Ok(d) => (d.outcome, d.detail.clone()),
            Err(Error::Cancelled) => (StageOutcome::Cancelled, None),
            Err(e) => (StageOutcome::Failed, Some(e.to_string())),
        };
        tracing::info!(run = %self.run.id, %stage, ?outcome, elapsed_ms, "stage finished");
        self.emit(BuildEvent::StageFinished {
            stage,
            outcome,
            elapsed_ms,
            detail,
        });
        result.map(|d| d.value)
    }
}
