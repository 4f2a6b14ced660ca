//! Build matrices: axes of request fields (versions × package types ×
//! targets × toolchains) expanded into build requests, each checked as
//! `build` checks one, then run a few at a time; a failed build does not stop
//! the others, and a resumed matrix runs only what has no verified artifact.
//!
//! ```yaml
//! base:                      # fields every build shares (a preset's)
//!   jobs: 4
//! axes:                      # a request field and its values, in order
//!   slurm_version: ["26.05", "25.11"]
//!   minimal: [false, true]
//!   target: [x86_64_v3, zen3]
//! exclude:                   # combinations left out
//!   - {slurm_version: "24.11", target: zen3}
//! ```

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_yaml::{Mapping, Value};
use tokio_util::sync::CancellationToken;

use crate::error::{Error, ErrorReport, Result};
use crate::events::EventRecord;
use crate::pipeline::{self, BuildFlags, BuildOptions};
use crate::remotes::Server;
use crate::request::{BuildRequest, Defaults, ResolvedRequest};
use crate::settings::Settings;
use crate::store::artifacts::Store;

/// More builds than this is a typo in an axis, not a plan.
pub const MAX_BUILDS: usize = 256;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MatrixFile {
    #[serde(default)]
    base: Mapping,
    axes: Mapping,
    #[serde(default)]
    exclude: Vec<Mapping>,
}

/// One build of a matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MatrixBuild {
    /// Its axis values, `slurm_version=26.05 target=zen3`.
    pub label: String,
    pub artifact_name: String,
    pub request: ResolvedRequest,
}

/// Reads and expands a matrix file (see the module's docs).
pub fn load(path: &Path, defaults: &Defaults) -> Result<Vec<MatrixBuild>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("reading a matrix", path, e))?;
    expand(&text, defaults).map_err(|message| Error::MatrixInvalid {
        path: Some(path.to_path_buf()),
        message,
    })
}

/// A matrix typed rather than read from a file (the app's Matrix page).
pub fn parse(text: &str, defaults: &Defaults) -> Result<Vec<MatrixBuild>> {
    expand(text, defaults).map_err(|message| Error::MatrixInvalid {
        path: None,
        message,
    })
}

/// One event of one build of a matrix, for a front end's table.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MatrixEvent {
    /// The build's index in the matrix, from 0.
    pub build: u32,
    pub event: crate::events::BuildEvent,
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

/// The builds of a matrix, in the order of its axes (the last varies fastest).
pub fn expand(text: &str, defaults: &Defaults) -> std::result::Result<Vec<MatrixBuild>, String> {
    // serde's messages may quote what they refused: kept readable.
    let parser = |e: serde_yaml::Error| crate::error::shown_up_to(&e.to_string(), 240);
    let file: MatrixFile = serde_yaml::from_str(text).map_err(parser)?;
    let mut axes: Vec<(String, Vec<Value>)> = Vec::new();
    for (key, values) in file.axes {
        let Value::String(key) = key else {
            return Err(format!("axis `{}` is not a field name", scalar(&key)));
        };
        let Value::Sequence(values) = values else {
            return Err(format!(
                "axis `{key}`: a list of values, like `{key}: [a, b]`"
            ));
        };
        if values.is_empty() {
            return Err(format!("axis `{key}` has no values"));
        }
        if file.base.contains_key(key.as_str()) {
            return Err(format!("`{key}` is both in base and an axis"));
        }
        axes.push((key, values));
    }
    if axes.is_empty() {
        return Err("no axes: name at least one request field and its values".into());
    }
    for (i, ex) in file.exclude.iter().enumerate() {
        for key in ex.keys() {
            let key = scalar(key);
            if !axes.iter().any(|(a, _)| *a == key) {
                return Err(format!("exclude {}: `{key}` is not an axis", i + 1));
            }
        }
    }
    // Excludes may thin out a large product, but not without bound.
    const MAX_COMBINATIONS: usize = MAX_BUILDS * 16;
    let total: usize = axes
        .iter()
        .try_fold(1usize, |n, (_, v)| n.checked_mul(v.len()))
        .filter(|n| *n <= MAX_COMBINATIONS)
        .ok_or_else(|| {
            format!(
                "the axes make more than {MAX_COMBINATIONS} combinations \
                 (at most {MAX_BUILDS} builds after excludes)"
            )
        })?;

    let mut builds: Vec<MatrixBuild> = Vec::new();
    for index in 0..total {
        // Mixed radix: the last axis varies fastest.
        let mut rest = index;
        let mut picked = vec![0; axes.len()];
        for (slot, (_, values)) in picked.iter_mut().zip(&axes).rev() {
            *slot = rest % values.len();
            rest /= values.len();
        }
        let combination: Vec<(&str, &Value)> = axes
            .iter()
            .zip(&picked)
            .map(|((key, values), &i)| (key.as_str(), &values[i]))
            .collect();
        let excluded = file.exclude.iter().any(|ex| {
            ex.iter().all(|(k, v)| {
                let k = scalar(k);
                combination
                    .iter()
                    .any(|(key, value)| *key == k && *value == v)
            })
        });
        if excluded {
            continue;
        }
        let label = combination
            .iter()
            .map(|(k, v)| format!("{k}={}", crate::error::shown(&scalar(v))))
            .collect::<Vec<_>>()
            .join(" ");
        let mut fields = file.base.clone();
        for (key, value) in &combination {
            fields.insert(Value::String((*key).to_string()), (*value).clone());
        }
        let request: BuildRequest = serde_yaml::from_value(Value::Mapping(fields))
            .map_err(|e| format!("build {label}: {}", parser(e)))?;
        let request = request
            .resolve(defaults)
            .map_err(|e| format!("build {label}: {e}"))?;
        let artifact_name = request.artifact_name();
        if let Some(twin) = builds.iter().find(|b| b.artifact_name == artifact_name) {
            return Err(format!(
                "builds {} and {label} are the same package ({artifact_name})",
                twin.label
            ));
        }
        builds.push(MatrixBuild {
            label,
            artifact_name,
            request,
        });
        if builds.len() > MAX_BUILDS {
            return Err(format!("the matrix has more than {MAX_BUILDS} builds"));
        }
    }
    if builds.is_empty() {
        return Err("every combination is excluded".into());
    }
    Ok(builds)
}

/// How one build of a matrix ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum BuildOutcome {
    Verified {
        artifact_id: String,
    },
    /// A resumed matrix found a verified artifact of this package already.
    Skipped {
        artifact_id: String,
    },
    Failed {
        error: ErrorReport,
    },
    Cancelled,
}

/// The store's verified artifacts as (name, id), newest first: the first
/// of a name is its newest.
fn verified_artifacts(settings: &Settings) -> Result<Vec<(String, String)>> {
    let list = Store::new(settings.artifacts_dir()).list()?;
    Ok(list
        .into_iter()
        .filter(|a| a.verified)
        .map(|a| (a.name, a.id))
        .collect())
}

/// The highest `-j` of the builds: a server's default slots are its CPUs
/// over it.
pub fn max_jobs(builds: &[MatrixBuild]) -> u32 {
    builds.iter().map(|b| b.request.jobs).max().unwrap_or(1)
}

/// Receives every build's events, with the build's index in the matrix.
pub type MatrixSink = Arc<dyn Fn(usize, &EventRecord) + Send + Sync>;

/// Runs `builds` over `servers`, each running at most its slots at once (a
/// build goes to the least busy server with a free slot); with `resume`, a
/// build whose package has a verified artifact in the store is skipped. A
/// failed build does not stop the others; a server that stops answering
/// gets no more builds, and when none is left the builds not started fail
/// with [`Error::NoServerLeft`]. Cancelling stops them all.
pub async fn run(
    settings: &Settings,
    builds: &[MatrixBuild],
    flags: &BuildFlags,
    servers: &[Server],
    resume: bool,
    sink: MatrixSink,
    cancel: CancellationToken,
) -> Result<Vec<BuildOutcome>> {
    // Flags every build would refuse stop the matrix before any starts.
    crate::pipeline::check_flags(settings, flags)?;
    let mut outcomes: Vec<Option<BuildOutcome>> = vec![None; builds.len()];
    let mut queue = std::collections::VecDeque::new();
    let done = if resume {
        verified_artifacts(settings)?
    } else {
        Vec::new()
    };
    for (i, build) in builds.iter().enumerate() {
        match done.iter().find(|(name, _)| *name == build.artifact_name) {
            Some((_, id)) => {
                outcomes[i] = Some(BuildOutcome::Skipped {
                    artifact_id: id.clone(),
                })
            }
            None => queue.push_back(i),
        }
    }
    let mut busy = vec![0u32; servers.len()];
    // Why a server gets no more builds.
    let mut gone: Vec<Option<String>> = vec![None; servers.len()];
    let mut running = tokio::task::JoinSet::new();
    loop {
        while !queue.is_empty() && !cancel.is_cancelled() {
            let free = (0..servers.len())
                .filter(|&s| gone[s].is_none() && busy[s] < servers[s].slots.max(1))
                .min_by_key(|&s| (busy[s] * 1000 / servers[s].slots.max(1), s));
            let Some(s) = free else { break };
            let i = queue.pop_front().expect("the queue is not empty");
            busy[s] += 1;
            let settings = Settings {
                lxd_remote: servers[s].remote.clone(),
                ..settings.clone()
            };
            let (cancel, sink) = (cancel.clone(), sink.clone());
            let options = BuildOptions {
                request: builds[i].request.clone(),
                flags: flags.clone(),
            };
            running.spawn(async move {
                let tagged: crate::store::runs::Sink = Arc::new(move |e: &EventRecord| sink(i, e));
                let result = pipeline::build(&settings, options, tagged, cancel).await;
                (i, s, result)
            });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (i, s, result) = joined.expect("a matrix build does not panic");
        busy[s] -= 1;
        if let (Err(e), None) = (&result, &gone[s]) {
            let remote = &servers[s].remote;
            gone[s] = match e {
                Error::Cancelled => None,
                Error::LxdLost { what, .. } => Some(format!("{remote} {what}")),
                _ => match settings.lxc().on(remote).server_info().await {
                    Ok(_) => None,
                    Err(_) => Some(format!("{remote} stopped answering")),
                },
            };
        }
        outcomes[i] = Some(match result {
            Ok(r) => BuildOutcome::Verified {
                artifact_id: r.artifact_id,
            },
            Err(Error::Cancelled) => BuildOutcome::Cancelled,
            Err(e) => BuildOutcome::Failed {
                error: ErrorReport::from(&e),
            },
        });
    }
    // Left in the queue: cancelled, or every server is gone.
    let no_server = Error::NoServerLeft {
        remotes: gone.into_iter().flatten().collect(),
    };
    for i in queue {
        outcomes[i] = Some(match cancel.is_cancelled() {
            true => BuildOutcome::Cancelled,
            false => BuildOutcome::Failed {
                error: ErrorReport::from(&no_server),
            },
        });
    }
    Ok(outcomes
        .into_iter()
        .map(|o| o.unwrap_or(BuildOutcome::Cancelled))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Defaults {
        Defaults {
            target: "x86_64_v3".into(),
            jobs: 4,
            gpu: None,
            toolchain: None,
            catalog: crate::request::catalog::Catalog::builtin(),
        }
    }

    #[test]
    fn axes_expand_in_order_without_the_excluded() {
        let builds = expand(
            "base: {jobs: 2}\naxes:\n  slurm_version: ['25.05', '24.11']\n  minimal: [false, true]\n\
             exclude:\n  - {slurm_version: '24.11', minimal: false}\n",
            &defaults(),
        )
        .unwrap();
        let labels: Vec<&str> = builds.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "slurm_version=25.05 minimal=false",
                "slurm_version=25.05 minimal=true",
                "slurm_version=24.11 minimal=true",
            ]
        );
        assert_eq!(builds[1].artifact_name, "slurm-25.05-minimal-x86_64_v3");
        assert!(builds.iter().all(|b| b.request.jobs == 2));
    }

    #[test]
    fn mistakes_are_named() {
        let err = |text: &str| expand(text, &defaults()).unwrap_err();
        assert!(err("axes: {slurm_versoin: ['25.05']}").contains("unknown field `slurm_versoin`"));
        assert!(err("axes: {target: ['zen3; reboot']}").starts_with("build target=zen3; reboot:"));
        assert!(err("axes: {target: zen3}").contains("a list of values"));
        assert!(err("axes: {target: []}").contains("no values"));
        assert!(
            err("axes: {target: [zen3]}\nexclude: [{gpu: cuda}]").contains("`gpu` is not an axis")
        );
        assert!(
            err("axes: {target: [zen3]}\nexclude: [{target: zen3}]").contains("every combination")
        );
        assert!(err("axes: {target: [zen3, zen3]}").contains("the same package"));
        assert!(err("base: {target: zen3}\naxes: {target: [zen3]}").contains("both in base"));
        let many = format!(
            "axes: {{jobs: [{}]}}",
            (1..=300)
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(",")
        );
        assert!(err(&many).contains("the same package"));
        let nine = "[1,2,3,4,5,6,7,8,9]";
        let wide = format!("axes: {{a: {nine}, b: {nine}, c: {nine}, d: {nine}}}");
        assert!(err(&wide).contains("more than 4096 combinations"));
        assert!(err("axes: {}").contains("no axes"));
        assert!(err("axis: {target: [zen3]}").contains("unknown field `axis`"));
        let pasted = "x".repeat(100_000);
        assert!(
            err(&pasted).len() < 400,
            "a pasted file is not quoted whole"
        );
    }
}
