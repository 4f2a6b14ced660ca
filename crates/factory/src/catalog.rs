//! The catalogue of Slurm releases, loaded from `catalog.toml` (data, not code).

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// One Slurm release series and the Spack version that builds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Release {
    /// The version users type: `25.05`.
    pub slurm: String,
    /// Spack's `slurm` package version: `25-05-8-1`.
    pub spack: String,
    #[serde(default)]
    pub default: bool,
    /// Whether SchedMD still supports the series (`false`: builds with a warning).
    #[serde(default = "supported_by_default")]
    pub supported: bool,
}

fn supported_by_default() -> bool {
    true
}

/// Whether SchedMD supports the Slurm release a request builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Support {
    Supported,
    /// Past SchedMD's end of support: no more fixes, security ones included.
    Ended,
    /// A Spack version outside the catalogue: the catalogue cannot tell.
    Unknown,
}

impl Support {
    pub fn of(release: &Release) -> Support {
        if release.supported {
            Support::Supported
        } else {
            Support::Ended
        }
    }
}

/// The releases SchedMD still supports, newest first: `26.05, 25.11, 25.05`.
pub fn supported_versions() -> Vec<String> {
    releases()
        .iter()
        .filter(|r| r.supported)
        .map(|r| r.slurm.clone())
        .collect()
}

#[derive(Deserialize)]
struct CatalogFile {
    release: Vec<Release>,
}

/// All known releases, newest first.
pub fn releases() -> &'static [Release] {
    static RELEASES: OnceLock<Vec<Release>> = OnceLock::new();
    RELEASES.get_or_init(|| {
        let file: CatalogFile = toml::from_str(include_str!("catalog.toml"))
            .expect("built-in catalog.toml is valid (checked by a unit test)");
        file.release
    })
}

/// The release built when the user names none.
pub fn default_release() -> &'static Release {
    releases()
        .iter()
        .find(|r| r.default)
        .unwrap_or(&releases()[0])
}

/// The short release names (`25.05`, …), for messages and completions.
pub fn known_versions() -> Vec<String> {
    releases().iter().map(|r| r.slurm.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_maps_releases_to_spack_versions() {
        let pairs: Vec<(&str, &str)> = releases()
            .iter()
            .map(|r| (r.slurm.as_str(), r.spack.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("26.05", "26-05-1-1"),
                ("25.11", "25-11-6-1"),
                ("25.05", "25-05-8-1"),
                ("24.11", "24-11-6-1"),
                ("23.11", "23-11-11-1"),
                ("23.02", "23-02-7-1"),
            ]
        );
        assert_eq!(default_release().slurm, "25.05");
        assert_eq!(releases().iter().filter(|r| r.default).count(), 1);
        assert!(default_release().supported);
    }

    #[test]
    fn releases_past_end_of_support_are_marked() {
        assert_eq!(supported_versions(), ["26.05", "25.11", "25.05"]);
        let ended: Vec<&str> = releases()
            .iter()
            .filter(|r| Support::of(r) == Support::Ended)
            .map(|r| r.slurm.as_str())
            .collect();
        assert_eq!(ended, ["24.11", "23.11", "23.02"]);
    }
}
