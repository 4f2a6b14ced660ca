//! Turns the output of stage scripts into progress: Spack's own lines, and a
//! small protocol any template script may print:
//!
//! ```text
//! ::progress DONE TOTAL LABEL
//! ::cache LAYER HITS LOOKUPS
//! ::check pass|fail NAME
//! ```

use crate::layout;
use crate::protocol::ScriptLine;

/// What one line of output says about progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    pub done: u32,
    pub total: u32,
    pub label: String,
}

/// Follows Spack's `install` output (also concretize's spec list).
///
/// `==> Installing NAME-VERSION-HASH [i/n]` names the package being worked
/// on and the total (n counts externals and installed specs too); each
/// `[+] PREFIX` line marks one spec present, so their count is "done".
#[derive(Debug, Default)]
pub struct SpackProgress {
    done: u32,
    total: u32,
    current: String,
    from_buildcache: u32,
    built_from_source: u32,
    from_mirror: u32,
    from_elsewhere: u32,
    errors: Vec<String>,
    fetch_failures: Vec<FetchFailure>,
    /// The fetch failure whose indented list of tried URLs is being read.
    reading_urls: bool,
}

/// A package whose source no fetcher found (Spack's `FetchError: All
/// fetchers failed`), with every URL Spack tried, in its order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchFailure {
    pub name: String,
    pub version: String,
    pub urls: Vec<String>,
}

impl SpackProgress {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one line; returns an update when progress changed.
    pub fn feed(&mut self, line: &str) -> Option<Update> {
        if let Some(ScriptLine::Progress { done, total, label }) = ScriptLine::parse(line) {
            return Some(Update {
                done,
                total,
                label: label.into(),
            });
        }
        let line = line.trim_end();
        if self.reading_urls {
            if line.starts_with([' ', '\t']) {
                // `    URL: ErrorType: detail`; the URL itself holds `://`, not `: `.
                let url = line.trim_start();
                let url = url.split_once(": ").map_or(url, |(u, _)| u);
                if let Some(failure) = self.fetch_failures.last_mut() {
                    failure.urls.push(url.to_string());
                }
                return None;
            }
            self.reading_urls = false;
        }
        if let Some(rest) = line.strip_prefix("==> Installing ") {
            let (name, counts) = rest.rsplit_once(" [")?;
            let (_, total) = counts.trim_end_matches(']').split_once('/')?;
            self.total = total.parse().ok()?;
            self.current = package_name(name);
            return Some(self.update());
        }
        if line.starts_with("[+] ") {
            self.done += 1;
            if self.total < self.done {
                self.total = self.done;
            }
            return Some(self.update());
        }
        if line.starts_with("==> Extracting ") && line.ends_with(" from binary cache") {
            self.from_buildcache += 1;
        } else if line.starts_with("==> No binary for ") && line.ends_with("installing from source")
        {
            self.built_from_source += 1;
        } else if let Some(url) = line.strip_prefix("==> Fetching ") {
            match source_fetch(url) {
                Some(SourceFrom::Mirror) => self.from_mirror += 1,
                Some(SourceFrom::Elsewhere) => self.from_elsewhere += 1,
                None => {}
            }
        } else if let Some(path) = line.strip_prefix("==> Using cached archive: ") {
            // Spack's fetch cache (`source_cache`) is the mirror dir.
            if path.starts_with(&format!("{}/", layout::CACHE_MIRROR)) {
                self.from_mirror += 1;
            }
        } else if let Some(err) = line.strip_prefix("==> Error: ") {
            if let Some(stage) =
                err.strip_prefix("FetchError: All fetchers failed for spack-stage-")
            {
                let (name, version) = stage_package(stage);
                self.fetch_failures.push(FetchFailure {
                    name,
                    version,
                    urls: Vec::new(),
                });
                self.reading_urls = true;
            }
            self.errors.push(err.to_string());
        }
        None
    }

    fn update(&self) -> Update {
        Update {
            done: self.done,
            total: self.total,
            label: self.current.clone(),
        }
    }

    /// Packages extracted from the buildcache so far.
    pub fn from_buildcache(&self) -> u32 {
        self.from_buildcache
    }

    /// Packages compiled from source so far.
    pub fn built_from_source(&self) -> u32 {
        self.built_from_source
    }

    /// Source archives (and patches) served from the mirror layer so far.
    pub fn from_mirror(&self) -> u32 {
        self.from_mirror
    }

    /// Source archives (and patches, and files of the package repository)
    /// fetched from anywhere but the mirror so far: the mirror missed them.
    /// Git clones are not counted: Spack does not print them.
    pub fn from_elsewhere(&self) -> u32 {
        self.from_elsewhere
    }

    /// Packages whose sources could not be fetched from anywhere.
    pub fn fetch_failures(&self) -> &[FetchFailure] {
        &self.fetch_failures
    }

    /// Spack's `==> Error:` lines, first line of each.
    pub fn errors(&self) -> &[String] {
        &self.errors
    }
}

#[derive(Debug, PartialEq, Eq)]
enum SourceFrom {
    Mirror,
    Elsewhere,
}

/// Classifies the URL of a `==> Fetching URL` line. Spack prints that line
/// only once the URL answered (urllib, its default fetch method), so each one
/// is a fetch that succeeded; it tries its fetch cache (the mirror dir) first,
/// so a fetch from anywhere else is a mirror miss. Buildcache blobs are not
/// source fetches.
fn source_fetch(url: &str) -> Option<SourceFrom> {
    if url.starts_with(&format!("file://{}/", layout::CACHE_MIRROR)) {
        return Some(SourceFrom::Mirror);
    }
    // The local buildcache, or a binary mirror's layout (v3 blobs, v2 build_cache).
    let binary = url.starts_with(&format!("file://{}/", layout::CACHE_BUILDCACHE))
        || url.contains("/blobs/sha256/")
        || url.contains("/build_cache/");
    (!binary).then_some(SourceFrom::Elsewhere)
}

/// A stage directory's `NAME-VERSION-HASH` → (NAME, VERSION). Both may hold
/// dashes (`libgpg-error-1.51-…`, `slurm-22-05-8-1-…`): the version starts at
/// the first dash followed by a digit.
fn stage_package(stage: &str) -> (String, String) {
    let without_hash = stage.rsplit_once('-').map_or(stage, |(rest, _)| rest);
    let split = without_hash
        .char_indices()
        .find(|&(i, c)| c == '-' && without_hash[i + 1..].starts_with(|d: char| d.is_ascii_digit()))
        .map(|(i, _)| i);
    match split {
        Some(i) => (without_hash[..i].into(), without_hash[i + 1..].into()),
        None => (without_hash.into(), String::new()),
    }
}

/// `lz4-1.9.4-r427wvnwuvdmmmituu6ykdxzprw7shlz` → `lz4@1.9.4`.
fn package_name(full: &str) -> String {
    let mut parts: Vec<&str> = full.rsplitn(3, '-').collect();
    parts.reverse();
    match parts.as_slice() {
        [name, version, hash] if hash.len() >= 7 => format!("{name}@{version}"),
        _ => full.to_string(),
    }
}

/// Counts what `spack concretize` says: (specs to build, specs already present or external).
pub fn concretize_counts(output: &str) -> (u32, u32) {
    let mut to_build = 0;
    let mut present = 0;
    for line in output.lines() {
        if line.starts_with(" -   ") {
            to_build += 1;
        } else if line.starts_with("[+]  ")
            || line.starts_with("[e]  ")
            || line.starts_with("[^]  ")
        {
            present += 1;
        }
    }
    (to_build, present)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/spack/");

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{FIXTURES}{name}")).unwrap()
    }

    fn run(text: &str) -> (SpackProgress, Vec<Update>) {
        let mut p = SpackProgress::new();
        let updates = text.lines().filter_map(|l| p.feed(l)).collect();
        (p, updates)
    }

    #[test]
    fn source_build_reaches_all_six_specs() {
        let (p, updates) = run(&fixture("install-from-source.txt"));
        let last = updates.last().unwrap();
        assert_eq!((last.done, last.total), (6, 6));
        assert!(updates.iter().any(|u| u.label == "lz4@1.9.4"));
        assert_eq!(p.built_from_source(), 1);
        assert_eq!(p.from_buildcache(), 0);
        assert_eq!(
            (p.from_mirror(), p.from_elsewhere()),
            (1, 0),
            "lz4's tarball"
        );
        assert!(p.errors().is_empty());
    }

    #[test]
    fn buildcache_install_counts_extractions() {
        let (p, updates) = run(&fixture("install-from-buildcache.txt"));
        let last = updates.last().unwrap();
        assert_eq!(last.total, 6);
        assert_eq!(last.done, 6);
        assert_eq!(p.from_buildcache(), 3);
        assert_eq!(
            (p.from_mirror(), p.from_elsewhere()),
            (0, 0),
            "buildcache blobs are not source fetches"
        );
    }

    #[test]
    fn fetch_error_is_reported() {
        let (p, updates) = run(&fixture("install-fetch-error.txt"));
        assert_eq!(updates.last().unwrap().label, "lz4@1.9.4");
        assert_eq!(updates.last().unwrap().done, 5, "lz4 never finished");
        assert_eq!(p.errors().len(), 1);
        assert!(p.errors()[0].starts_with("FetchError: All fetchers failed"));
        let failures = p.fetch_failures();
        assert_eq!(failures.len(), 1);
        assert_eq!(
            (failures[0].name.as_str(), failures[0].version.as_str()),
            ("lz4", "1.9.4")
        );
        assert_eq!(failures[0].urls.len(), 4, "{:?}", failures[0].urls);
        assert_eq!(
            failures[0].urls[0],
            "file:///opt/slurm-factory/cache/mirror/_source-cache/archive/0b/\
             0b0e3aa07c8c063ddf40b082bdf7e37a1562bda40a0ff5272957f3e987e0e54b.tar.gz"
        );
        assert!(failures[0].urls[3].starts_with("https://github.com/lz4/"));
        // cc.sh came from the package repository, past the mirror; the
        // failed tarball fetched nothing.
        assert_eq!((p.from_mirror(), p.from_elsewhere()), (0, 1));
    }

    #[test]
    fn stage_names_split_into_name_and_version() {
        for (stage, name, version) in [
            ("lz4-1.9.4-r427wvnwuvdmmmituu6ykdxzprw7shlz", "lz4", "1.9.4"),
            (
                "libgpg-error-1.51-abcdefghabcdefghabcdefghabcdefgh",
                "libgpg-error",
                "1.51",
            ),
            (
                "slurm-22-05-8-1-abcdefghabcdefghabcdefghabcdefgh",
                "slurm",
                "22-05-8-1",
            ),
        ] {
            assert_eq!(
                stage_package(stage),
                (name.into(), version.into()),
                "{stage}"
            );
        }
    }

    #[test]
    fn source_fetches_are_told_apart_by_where_they_came_from() {
        // Spack 1.1's messages: `tty.msg(f"Fetching {url}")` once a URL answered,
        // `tty.msg(f"Using cached archive: {path}")` for its fetch cache.
        let (p, _) = run(concat!(
            "==> Fetching https://download.schedmd.com/slurm/slurm-24.11.1.tar.bz2\n",
            "==> Using cached archive: /opt/slurm-factory/cache/mirror/_source-cache/archive/ab/ab12.tar.gz\n",
            "==> Fetching file:///opt/slurm-factory/cache/mirror/_source-cache/archive/0b/0b0e.tar.gz\n",
            "==> Fetching https://example.org/bc/blobs/sha256/a1/a1a1\n",
            "==> Fetching file:///opt/slurm-factory/cache/buildcache/blobs/sha256/57/5732\n",
            "==> Using cached archive: /elsewhere/x.tar.gz\n",
        ));
        assert_eq!((p.from_mirror(), p.from_elsewhere()), (2, 1));
    }

    #[test]
    fn concretize_output_counts_specs() {
        assert_eq!(concretize_counts(&fixture("concretize-lz4.txt")), (3, 3));
        let (build, present) = concretize_counts(&fixture("concretize-slurm-openmpi.txt"));
        assert_eq!(present, 2, "gcc and glibc are externals");
        assert!(build > 70, "{build}");
    }
}
