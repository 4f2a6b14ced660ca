//! Saved build requests ("presets"): YAML files a teaching lab hands out and
//! the desktop app saves and loads. The same checks as any request apply.

use std::path::Path;

use crate::error::{Error, Result};
use crate::request::BuildRequest;

/// Reads a preset; unknown keys are errors so typos do not pass silently.
pub fn load(path: &Path) -> Result<BuildRequest> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("reading a preset", path, e))?;
    parse(&text).map_err(|message| Error::PresetInvalid {
        path: path.to_path_buf(),
        message,
    })
}

pub fn parse(text: &str) -> std::result::Result<BuildRequest, String> {
    // serde's messages may quote what they refused: kept readable.
    serde_yaml::from_str(text).map_err(|e| crate::error::shown_up_to(&e.to_string(), 240))
}

/// Writes a preset atomically, with a comment saying what it is.
pub fn save(path: &Path, request: &BuildRequest) -> Result<()> {
    let body = serde_yaml::to_string(request).expect("requests serialize");
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
    fn presets_round_trip_through_yaml() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("lab.yaml");
        let req = BuildRequest {
            slurm_version: "24.11".into(),
            gpu: Some(GpuVendor::Cuda),
            gpu_arch: vec!["80".into()],
            jobs: Some(4),
            ..Default::default()
        };
        save(&path, &req).unwrap();
        assert_eq!(load(&path).unwrap(), req);
    }

    #[test]
    fn partial_presets_fill_defaults_and_typos_fail() {
        let req = parse("slurm_version: '23.11'\nminimal: true\n").unwrap();
        assert!(req.minimal);
        assert_eq!(req.target, None);
        let err = parse("slurm_versoin: '23.11'\n").unwrap_err();
        assert!(err.contains("unknown field `slurm_versoin`"), "{err}");
    }
}
