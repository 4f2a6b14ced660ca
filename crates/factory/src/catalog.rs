//! The catalogue of Slurm releases, loaded from `catalog.toml` (data, not code).

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// One Slurm release series and the Spack version that builds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Release {
    /// The version users type: `25.05`.
    pub slurm: String,
    /// Spack's `slurm` package version: `25-05-1-1`.
    pub spack: String,
    #[serde(default)]
    pub default: bool,
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
                ("25.05", "25-05-1-1"),
                ("24.11", "24-11-6-1"),
                ("23.11", "23-11-11-1"),
                ("23.02", "23-02-7-1"),
            ]
        );
        assert_eq!(default_release().slurm, "25.05");
        assert_eq!(releases().iter().filter(|r| r.default).count(), 1);
    }
}
