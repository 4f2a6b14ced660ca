//! The catalogue of Slurm releases, read from `templates/releases.toml` (data,
//! not code) and a site's own `releases.toml` in its templates dir. Whether a
//! release is supported is decided against a date, today's when a build runs.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::error::{Error, Result};

/// The catalogue's file name, in the built-in templates and a templates dir.
pub const RELEASES_FILE: &str = "releases.toml";

/// One Slurm release series and the Spack version that builds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Release {
    /// The version users type: `26.05`.
    pub slurm: String,
    /// Spack's `slurm` package version: `26-05-3-1`.
    pub spack: String,
    /// The sha256 of the release's source archive, as Spack checks it.
    pub sha256: String,
    /// The last day SchedMD supports the series.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub support_ends: Date,
    /// Built when the user names no release: the newest supported one.
    pub default: bool,
    /// Whether SchedMD still supports the series on the catalogue's date.
    pub supported: bool,
    /// Where the entry comes from: `templates/releases.toml (built-in)` or a
    /// site's file.
    pub file: String,
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

/// The known releases as of one date, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    releases: Vec<Release>,
}

impl Catalog {
    /// The built-in releases and, with a templates dir, the site's
    /// `releases.toml` on top, judged at `today`.
    pub fn load(templates_dir: Option<&Path>, today: Date) -> Result<Catalog> {
        let mut releases = builtin_entries().to_vec();
        if let Some(path) = templates_dir.map(|d| d.join(RELEASES_FILE)) {
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let file = path.display().to_string();
                    for ours in parse(&text, &file, true)? {
                        match releases.iter_mut().find(|r| r.slurm == ours.slurm) {
                            Some(builtin) => *builtin = ours,
                            None => releases.push(ours),
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("cannot read", path, e)),
            }
        }
        releases.sort_by_key(|r| std::cmp::Reverse(series_key(&r.slurm)));
        for r in &mut releases {
            r.supported = r.support_ends >= today;
        }
        let default = releases
            .iter()
            .position(|r| r.supported)
            .unwrap_or_default();
        if let Some(r) = releases.get_mut(default) {
            r.default = true;
        }
        Ok(Catalog { releases })
    }

    /// The built-in releases judged today, for `--help` and anything without
    /// settings at hand.
    pub fn builtin() -> Arc<Catalog> {
        Arc::new(
            Catalog::load(None, today())
                .expect("built-in releases.toml is valid (a unit test checks)"),
        )
    }

    /// Every release, newest first.
    pub fn releases(&self) -> &[Release] {
        &self.releases
    }

    /// The release built when the user names none.
    pub fn default_release(&self) -> &Release {
        self.releases
            .iter()
            .find(|r| r.default)
            .unwrap_or(&self.releases[0])
    }

    /// The release of a series (`26.05`) or a Spack version (`26-05-3-1`).
    pub fn find(&self, name: &str) -> Option<&Release> {
        self.releases
            .iter()
            .find(|r| r.slurm == name || r.spack == name)
    }

    /// The series SchedMD still supports, newest first: `26.05, 25.11`.
    pub fn supported_versions(&self) -> Vec<String> {
        self.names(|r| r.supported)
    }

    /// The series past their end of support, newest first.
    pub fn ended_versions(&self) -> Vec<String> {
        self.names(|r| !r.supported)
    }

    /// Every series (`26.05`, …), for messages and completions.
    pub fn known_versions(&self) -> Vec<String> {
        self.names(|_| true)
    }

    fn names(&self, keep: impl Fn(&Release) -> bool) -> Vec<String> {
        self.releases
            .iter()
            .filter(|r| keep(r))
            .map(|r| r.slurm.clone())
            .collect()
    }
}

/// Today's date on this machine's clock, in its time zone.
pub fn today() -> Date {
    jiff::ZonedDateTime::now().date()
}

fn builtin_entries() -> &'static [Release] {
    static ENTRIES: OnceLock<Vec<Release>> = OnceLock::new();
    ENTRIES.get_or_init(|| {
        let text = include_str!("../../../../templates/releases.toml");
        parse(text, "templates/releases.toml (built-in)", false)
            .expect("built-in releases.toml is valid (a unit test checks)")
    })
}

/// `26.05` -> (26, 5), for ordering newest first.
fn series_key(series: &str) -> (u32, u32) {
    let mut parts = series.split('.').map(|p| p.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    release: Vec<RawRelease>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelease {
    slurm: Spanned<String>,
    spack: Spanned<String>,
    sha256: Spanned<String>,
    support_ends: Spanned<toml::value::Datetime>,
}

/// Parses one releases file; every error names the file and the line.
fn parse(text: &str, file: &str, user: bool) -> Result<Vec<Release>> {
    let error = |offset: Option<usize>, message: String| Error::Template {
        file: file.to_string(),
        line: offset.map(|o| text[..o.min(text.len())].matches('\n').count() + 1),
        message,
        user,
    };
    let raw: RawFile = toml::from_str(text)
        .map_err(|e| error(e.span().map(|s| s.start), e.message().to_string()))?;
    let mut releases: Vec<Release> = Vec::new();
    for r in raw.release {
        let at = |field: std::ops::Range<usize>, message: String| error(Some(field.start), message);
        let slurm = r.slurm.get_ref();
        if !is_series(slurm) {
            return Err(at(
                r.slurm.span(),
                format!("slurm = {slurm:?} is not a release series like \"26.05\""),
            ));
        }
        let spack = r.spack.get_ref();
        if !is_spack_version(spack) || !spack.starts_with(&slurm.replace('.', "-")) {
            return Err(at(
                r.spack.span(),
                format!(
                    "spack = {spack:?} is not a Spack version of Slurm {slurm} like \"{}-1-1\"",
                    slurm.replace('.', "-")
                ),
            ));
        }
        let sha256 = r.sha256.get_ref();
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(at(
                r.sha256.span(),
                format!("sha256 = {sha256:?} is not a sha256 (64 hex digits)"),
            ));
        }
        let when = r.support_ends.get_ref();
        let support_ends = match (when.date, when.time) {
            (Some(d), None) => Date::new(d.year as i16, d.month as i8, d.day as i8).ok(),
            _ => None,
        }
        .ok_or_else(|| {
            at(
                r.support_ends.span(),
                format!("support_ends = {when} is not a date like 2027-11-30"),
            )
        })?;
        if releases.iter().any(|seen| seen.slurm == *slurm) {
            return Err(at(r.slurm.span(), format!("Slurm {slurm} is listed twice")));
        }
        releases.push(Release {
            slurm: slurm.clone(),
            spack: spack.clone(),
            sha256: sha256.to_ascii_lowercase(),
            support_ends,
            default: false,
            supported: false,
            file: file.to_string(),
        });
    }
    Ok(releases)
}

/// `24-11-6-1`: the shape of SchedMD tags as Spack's slurm package names them.
pub fn is_spack_version(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 4
        && parts.iter().enumerate().all(|(i, p)| {
            (if i < 2 { 2..=2 } else { 1..=3 }).contains(&p.len())
                && p.bytes().all(|b| b.is_ascii_digit())
        })
}

/// `26.05`: two two-digit numbers.
fn is_series(s: &str) -> bool {
    matches!(s.split_once('.'), Some((a, b))
        if a.len() == 2 && b.len() == 2 && (a.to_owned() + b).bytes().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn on(day: Date) -> Catalog {
        Catalog::load(None, day).unwrap()
    }

    #[test]
    fn catalog_maps_releases_to_spack_versions() {
        let c = on(date(2026, 12, 7));
        let pairs: Vec<(&str, &str)> = c
            .releases()
            .iter()
            .map(|r| (r.slurm.as_str(), r.spack.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("26.05", "26-05-3-1"),
                ("25.11", "25-11-7-1"),
                ("25.05", "25-05-8-1"),
                ("24.11", "24-11-6-1"),
                ("23.11", "23-11-11-1"),
                ("23.02", "23-02-7-1"),
            ]
        );
        assert_eq!(c.releases().iter().filter(|r| r.default).count(), 1);
    }

    #[test]
    fn support_and_the_default_follow_the_date() {
        // The day 25.05's support ended, and the day after.
        let last_day = on(date(2026, 11, 30));
        assert_eq!(last_day.supported_versions(), ["26.05", "25.11", "25.05"]);
        assert_eq!(last_day.default_release().slurm, "26.05");
        let after = on(date(2026, 12, 1));
        assert_eq!(after.supported_versions(), ["26.05", "25.11"]);
        assert_eq!(after.ended_versions(), ["25.05", "24.11", "23.11", "23.02"]);
        // Once everything has ended, the newest still builds by default.
        let later = on(date(2028, 1, 1));
        assert!(later.supported_versions().is_empty());
        assert_eq!(later.default_release().slurm, "26.05");
        assert!(later.default_release().default);
    }

    fn site(text: &str) -> Result<Catalog> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(RELEASES_FILE), text).unwrap();
        Catalog::load(Some(dir.path()), date(2026, 12, 7))
    }

    #[test]
    fn a_site_adds_a_release_or_replaces_a_series() {
        let c = site(
            "[[release]]\nslurm = \"27.05\"\nspack = \"27-05-0-1\"\n\
             sha256 = \"ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12\"\n\
             support_ends = 2028-11-30\n\n\
             [[release]]\nslurm = \"24.11\"\nspack = \"24-11-5-1\"\n\
             sha256 = \"E1A5547EDD212C38B5E3230A284133F777B32746551F094AAA81CC4AF375E332\"\n\
             support_ends = 2026-05-31\n",
        )
        .unwrap();
        assert_eq!(c.default_release().slurm, "27.05");
        assert_eq!(c.known_versions()[0], "27.05");
        let replaced = c.find("24.11").unwrap();
        assert_eq!(replaced.spack, "24-11-5-1");
        assert!(replaced.sha256.starts_with("e1a5547e"));
        assert!(replaced.file.ends_with(RELEASES_FILE) && !replaced.file.contains("built-in"));
        assert_eq!(c.find("24-11-5-1"), Some(replaced));
        assert_eq!(c.find("24-11-6-1"), None);
    }

    #[test]
    fn bad_entries_name_the_file_and_line() {
        let entry = |slurm: &str, spack: &str, sha: &str, ends: &str| {
            format!(
                "# a site's releases\n[[release]]\nslurm = {slurm}\nspack = {spack}\n\
                 sha256 = {sha}\nsupport_ends = {ends}\n"
            )
        };
        let sha = "\"ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12\"";
        for (text, line, says) in [
            (
                entry("\"26.5\"", "\"26-05-3-1\"", sha, "2027-11-30"),
                3,
                "not a release series",
            ),
            (
                entry("\"26.05\"", "\"26.05.3\"", sha, "2027-11-30"),
                4,
                "not a Spack version",
            ),
            (
                entry("\"26.05\"", "\"25-11-7-1\"", sha, "2027-11-30"),
                4,
                "of Slurm 26.05",
            ),
            (
                entry("\"26.05\"", "\"26-05-3-1\"", "\"abc\"", "2027-11-30"),
                5,
                "not a sha256",
            ),
            (
                entry("\"26.05\"", "\"26-05-3-1\"", sha, "\"November 2027\""),
                6,
                "datetime",
            ),
            (
                entry("\"26.05\"", "\"26-05-3-1\"", sha, "2027-11-30T00:00:00"),
                6,
                "not a date",
            ),
            (
                entry("\"26.05\"", "\"26-05-3-1\"", sha, "2027-13-01"),
                6,
                "",
            ),
            (
                format!(
                    "{}{}",
                    entry("\"26.05\"", "\"26-05-3-1\"", sha, "2027-11-30"),
                    entry("\"26.05\"", "\"26-05-3-1\"", sha, "2027-11-30")
                ),
                9,
                "listed twice",
            ),
        ] {
            let err = site(&text).unwrap_err();
            match &err {
                Error::Template {
                    file,
                    line: Some(l),
                    message,
                    user: true,
                } => {
                    assert!(file.ends_with(RELEASES_FILE), "{err}");
                    assert_eq!(*l, line, "{err}\n{text}");
                    assert!(message.contains(says), "{err}");
                }
                other => panic!("{other:?} for\n{text}"),
            }
        }
    }

    #[test]
    fn no_site_file_is_the_built_in_catalogue() {
        let dir = tempfile::tempdir().unwrap();
        let today = date(2026, 12, 7);
        assert_eq!(Catalog::load(Some(dir.path()), today).unwrap(), on(today));
    }
}
