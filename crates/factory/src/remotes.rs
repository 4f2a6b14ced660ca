//! The LXD servers a matrix fans out over: `lxc remote` names (`local` is
//! this machine's daemon), each running a number of builds at once — given
//! as `name=N`, or its CPU threads over the builds' `-j`.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::settings::Settings;
pub use crate::settings::{parse_list, parse_one, RemoteSlots};

/// A server as a matrix uses it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Server {
    pub remote: String,
    /// Builds it runs at once.
    pub slots: u32,
    /// Its CPU threads, as LXD counts them.
    pub cpus: u32,
}

/// The remotes a matrix uses: `flags` when given, else the `remotes`
/// setting, else the one `lxd_remote` builds run on.
pub fn wanted(settings: &Settings, flags: &[RemoteSlots]) -> Vec<RemoteSlots> {
    if !flags.is_empty() {
        return flags.to_vec();
    }
    settings
        .remotes
        .as_deref()
        .and_then(|text| parse_list(text).ok())
        .filter(|list| !list.is_empty())
        .unwrap_or_else(|| {
            vec![RemoteSlots {
                remote: settings.lxd_remote.clone(),
                slots: None,
            }]
        })
}

/// Asks each remote for its CPUs (which also proves it answers and trusts
/// us) and gives it its slots: its own, else `default_slots`, else its CPUs
/// over `jobs`.
pub async fn servers(
    settings: &Settings,
    wanted: &[RemoteSlots],
    default_slots: Option<u32>,
    jobs: u32,
) -> Result<Vec<Server>> {
    let lxc = settings.lxc();
    let mut out = Vec::new();
    for w in wanted {
        let cpus = lxc
            .on(&w.remote)
            .cpu_count()
            .await
            .map_err(|e| Error::RemoteUnusable {
                remote: w.remote.clone(),
                detail: e.to_string(),
            })?;
        let slots = w
            .slots
            .or(default_slots)
            .unwrap_or_else(|| (cpus / jobs.max(1)).max(1));
        out.push(Server {
            remote: w.remote.clone(),
            slots,
            cpus,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_slots_are_read_and_mistakes_named() {
        assert_eq!(
            parse_list("local=2, builder ,").unwrap(),
            vec![
                RemoteSlots {
                    remote: "local".into(),
                    slots: Some(2)
                },
                RemoteSlots {
                    remote: "builder".into(),
                    slots: None
                }
            ]
        );
        for (bad, says) in [
            ("local=0", "1 to 64"),
            ("local=x", "1 to 64"),
            ("a;rm -rf /", "lxc remote list"),
            ("-x", "lxc remote list"),
            ("a,a=2", "twice"),
        ] {
            let err = parse_list(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn flags_win_over_the_setting_which_wins_over_lxd_remote() {
        let tmp = tempfile::tempdir().unwrap();
        let mut settings = Settings::under(tmp.path());
        assert_eq!(wanted(&settings, &[])[0].remote, "local");
        settings.remotes = Some("a=1,b".into());
        assert_eq!(wanted(&settings, &[]).len(), 2);
        let flag = parse_one("c").unwrap();
        assert_eq!(wanted(&settings, std::slice::from_ref(&flag)), vec![flag]);
    }
}
