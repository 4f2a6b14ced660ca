//! The lines a recipe script prints for the engine among its log output,
//! `::KIND ARGS`: every kind there is, and the one parser. The shell scripts
//! print them with `say KIND ARGS…` (`scripts/_protocol.sh.j2`), the Python
//! ones with `protocol.say` (`scripts/protocol.py`).

use crate::caches::sources::SourceNeed;
use crate::kinds::Layer;

/// One protocol line. Anything else a script prints is only log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptLine<'a> {
    /// `::progress DONE TOTAL LABEL`: a script's own progress (DONE ≤ TOTAL).
    Progress {
        done: u32,
        total: u32,
        label: &'a str,
    },
    /// `::cache LAYER HITS LOOKUPS`: a script's own count of lookups in a
    /// cache layer, what Spack's output does not tell (0 < LOOKUPS ≥ HITS).
    Cache {
        layer: Layer,
        hits: u32,
        lookups: u32,
    },
    /// `::check pass|fail NAME`: one verification check (verify.sh).
    Check { passed: bool, name: &'a str },
    /// `::source {json}`: one source the closure fetches (sources.py).
    Source(SourceNeed),
    /// `::refused URL SPEC REASON`: a buildcache entry that fails its
    /// checks (check-buildcache.py).
    Refused { url: &'a str, entry: &'a str },
    /// `::buildcache-checked URL N`: a buildcache's entries all checked.
    BuildcacheChecked { url: &'a str, entries: u32 },
    /// `::unreadable URL REASON`: a buildcache Spack cannot read
    /// (probe-buildcaches.py).
    Unreadable { url: &'a str, reason: &'a str },
    /// `::no-index URL`: a readable buildcache without an index.
    NoIndex { url: &'a str },
    /// `::buildcache-readable URL`.
    BuildcacheReadable { url: &'a str },
    /// `::published WHERE`: a file or artifact published (publish-files.py).
    Published { place: &'a str },
}

impl<'a> ScriptLine<'a> {
    /// The protocol line `line` is, or `None` for a log line (or a protocol
    /// line that breaks its kind's form).
    pub fn parse(line: &'a str) -> Option<ScriptLine<'a>> {
        let (kind, rest) = line.trim_end().strip_prefix("::")?.split_once(' ')?;
        let two = || rest.split_once(' ');
        Some(match kind {
            "progress" => {
                let mut parts = rest.splitn(3, ' ');
                let done = parts.next()?.parse().ok()?;
                let total = parts.next()?.parse().ok()?;
                if done > total {
                    return None;
                }
                let label = parts.next().unwrap_or("");
                ScriptLine::Progress { done, total, label }
            }
            "cache" => {
                let mut parts = rest.split(' ');
                let layer = parts.next()?.parse().ok()?;
                let hits = parts.next()?.parse().ok()?;
                let lookups = parts.next()?.parse().ok()?;
                if parts.next().is_some() || lookups == 0 || hits > lookups {
                    return None;
                }
                ScriptLine::Cache {
                    layer,
                    hits,
                    lookups,
                }
            }
            "check" => match two()? {
                ("pass", name) => ScriptLine::Check { passed: true, name },
                ("fail", name) => ScriptLine::Check {
                    passed: false,
                    name,
                },
                _ => return None,
            },
            "source" => ScriptLine::Source(serde_json::from_str(rest).ok()?),
            "refused" => {
                let (url, entry) = two()?;
                ScriptLine::Refused { url, entry }
            }
            "buildcache-checked" => {
                let (url, n) = two()?;
                ScriptLine::BuildcacheChecked {
                    url,
                    entries: n.parse().ok()?,
                }
            }
            "unreadable" => {
                let (url, reason) = two()?;
                ScriptLine::Unreadable { url, reason }
            }
            "no-index" => ScriptLine::NoIndex { url: rest },
            "buildcache-readable" => ScriptLine::BuildcacheReadable { url: rest },
            "published" => ScriptLine::Published { place: rest },
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_parses_and_a_broken_one_is_log() {
        assert_eq!(
            ScriptLine::parse("::progress 2 3 compiling hello"),
            Some(ScriptLine::Progress {
                done: 2,
                total: 3,
                label: "compiling hello"
            })
        );
        assert_eq!(
            ScriptLine::parse("::cache ccache 40 52\n"),
            Some(ScriptLine::Cache {
                layer: Layer::Ccache,
                hits: 40,
                lookups: 52
            })
        );
        assert_eq!(
            ScriptLine::parse("::check pass srun-hostname"),
            Some(ScriptLine::Check {
                passed: true,
                name: "srun-hostname"
            })
        );
        assert_eq!(
            ScriptLine::parse("::check fail unpack\n"),
            Some(ScriptLine::Check {
                passed: false,
                name: "unpack"
            })
        );
        assert_eq!(
            ScriptLine::parse("::refused file:///c zlib@1.3/abc its archive is 5 of 9 bytes"),
            Some(ScriptLine::Refused {
                url: "file:///c",
                entry: "zlib@1.3/abc its archive is 5 of 9 bytes"
            })
        );
        assert_eq!(
            ScriptLine::parse("::unreadable oci://r/x HTTP Error 401: Unauthorized"),
            Some(ScriptLine::Unreadable {
                url: "oci://r/x",
                reason: "HTTP Error 401: Unauthorized"
            })
        );
        assert_eq!(
            ScriptLine::parse("::no-index s3://b/p"),
            Some(ScriptLine::NoIndex { url: "s3://b/p" })
        );
        assert_eq!(
            ScriptLine::parse("::buildcache-checked file:///c 21"),
            Some(ScriptLine::BuildcacheChecked {
                url: "file:///c",
                entries: 21
            })
        );
        let source = r#"::source {"package": "lz4", "version": "1.9.4", "hash": "abc", "paths": ["lz4/lz4-1.9.4.tar.gz"], "sha256": "0b0e", "url": null}"#;
        let Some(ScriptLine::Source(need)) = ScriptLine::parse(source) else {
            panic!("a source line")
        };
        assert_eq!(
            (need.package.as_str(), need.version.as_str()),
            ("lz4", "1.9.4")
        );
        for log in [
            "::progress 4 3 x",
            "::cache ccache 0 0",
            "::cache ccache 5 4",
            "::cache disk 1 1",
            "::cache ccache 1",
            "::cache ccache 1 2 3",
            "::check maybe x",
            "::check pass",
            "check pass x",
            "::source {broken",
            "::refused file:///c",
            "::buildcache-checked file:///c many",
            "::nosuchkind x",
            "==> Installing lz4",
        ] {
            assert_eq!(ScriptLine::parse(log), None, "{log}");
        }
    }
}
