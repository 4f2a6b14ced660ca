//! Saved builds ("presets"): YAML files a teaching lab hands out and the
//! desktop app saves and loads. A preset holds any build option, the request's
//! and the flags', as one flat map keyed by option name; the same checks as
//! any build apply.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::options::{BuildFlags, BuildRequest};

/// What a preset holds: a request and the flags of its build.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Preset {
    pub request: BuildRequest,
    pub flags: BuildFlags,
}

impl Preset {
    /// A preset from option values by name; an unknown name is refused, so
    /// that a typo does not pass silently.
    pub fn from_values(values: Map<String, Value>) -> std::result::Result<Preset, String> {
        let mut request = Map::new();
        let mut flags = Map::new();
        for (name, value) in values {
            let is =
                |options: Vec<&crate::options::OptionSpec>| options.iter().any(|o| o.name == name);
            if is(BuildRequest::all_options()) {
                request.insert(name, value);
            } else if is(BuildFlags::all_options()) {
                flags.insert(name, value);
            } else {
                return Err(format!(
                    "unknown option `{}`: a preset's keys are the build options' names \
                     (slurm_version, gpu, jobs, gzip, publish, ...)",
                    crate::error::shown(&name)
                ));
            }
        }
        // serde's messages may quote what they refused: kept readable.
        let readable = |e: serde_json::Error| crate::error::shown_up_to(&e.to_string(), 240);
        Ok(Preset {
            request: serde_json::from_value(Value::Object(request)).map_err(readable)?,
            flags: serde_json::from_value(Value::Object(flags)).map_err(readable)?,
        })
    }

    /// The options this preset gives (those that differ from their
    /// defaults), by name.
    pub fn values(&self) -> Map<String, Value> {
        let mut values = given(&self.request, &BuildRequest::default());
        values.extend(given(&self.flags, &BuildFlags::default()));
        values
    }
}

/// The fields of `value` that differ from `default`'s.
fn given<T: Serialize>(value: &T, default: &T) -> Map<String, Value> {
    let (Value::Object(value), Value::Object(default)) = (
        serde_json::to_value(value).expect("options serialize"),
        serde_json::to_value(default).expect("options serialize"),
    ) else {
        unreachable!("options serialize to an object")
    };
    value
        .into_iter()
        .filter(|(name, v)| default.get(name) != Some(v))
        .collect()
}

/// Reads a preset.
pub fn load(path: &Path) -> Result<Preset> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("reading a preset", path, e))?;
    parse(&text).map_err(|message| Error::PresetInvalid {
        path: path.to_path_buf(),
        message,
    })
}

pub fn parse(text: &str) -> std::result::Result<Preset, String> {
    let values: Option<Map<String, Value>> =
        serde_yaml::from_str(text).map_err(|e| crate::error::shown_up_to(&e.to_string(), 240))?;
    Preset::from_values(values.unwrap_or_default())
}

/// Writes a preset atomically, with a comment saying what it is.
pub fn save(path: &Path, preset: &Preset) -> Result<()> {
    let body = serde_yaml::to_string(&preset.values()).expect("option values serialize");
    let text = format!(
        "# slurm-factory build preset: `slurm-factory build --preset {}`\n{body}",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    );
    crate::fsutil::write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::GpuVendor;

    #[test]
    fn presets_round_trip_through_yaml_with_their_flags() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("lab.yaml");
        let mut preset = Preset {
            request: BuildRequest {
                slurm_version: "24.11".into(),
                gpu: Some(GpuVendor::Cuda),
                gpu_arch: vec!["80".into()],
                jobs: Some(4),
                ..Default::default()
            },
            flags: BuildFlags {
                gzip: true,
                label: Some("lab 3".into()),
                ..Default::default()
            },
        };
        preset.flags.package.keep_headers = true;
        save(&path, &preset).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        // Only what differs from the defaults is written, flat.
        assert!(text.contains("\ngzip: true\n"), "{text}");
        assert!(text.contains("\nkeep_headers: true\n"), "{text}");
        assert!(!text.contains("offline"), "{text}");
        assert_eq!(load(&path).unwrap(), preset);
    }

    #[test]
    fn partial_presets_fill_defaults_and_typos_fail() {
        let preset = parse("slurm_version: '23.11'\nminimal: true\nno_strip: true\n").unwrap();
        assert!(preset.request.minimal);
        assert_eq!(preset.request.target, None);
        assert!(preset.flags.package.no_strip);
        assert!(preset.flags.verify);
        let err = parse("slurm_versoin: '23.11'\n").unwrap_err();
        assert!(err.contains("unknown option `slurm_versoin`"), "{err}");
        let err = parse("jobs: many\n").unwrap_err();
        assert!(err.contains("invalid type"), "{err}");
        assert_eq!(parse("").unwrap(), Preset::default());
    }
}
