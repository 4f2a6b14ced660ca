//! Garbage in: every entry point that takes user or tool text (requests,
//! presets, settings variables, toolchain files, Spack's output and the
//! scripts' `::` protocol lines) is fed arbitrary strings, shell syntax,
//! newlines, NULs and very long values for a bounded number of cases. None may
//! panic, and whatever a request accepts comes out as a name with nothing a
//! shell or `lxc` could read as syntax.

use std::collections::BTreeMap;

use factory::progress::{self, SpackProgress};
use factory::protocol::ScriptLine;
use factory::request::{BuildRequest, Defaults};
use factory::settings::XdgDirs;
use proptest::prelude::*;

/// Text a user (or a broken tool) might hand over: any unicode, shell
/// metacharacters, control characters and NULs, sometimes very long.
fn garbage() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,80}",
        "[;&|`$(){}<>*?!~#'\"\\\\ \n\t\r\u{0}-]{0,40}",
        "[a-z0-9._-]{0,20}",
        ".{0,4000}",
    ]
}

fn defaults() -> Defaults {
    Defaults {
        target: "x86_64_v3".into(),
        jobs: 2,
        gpu: None,
        toolchain: None,
        catalog: factory::request::catalog::Catalog::builtin(),
    }
}

/// What may appear in a package or artifact name: it becomes a file name, an
/// LXD instance name part and a tar entry.
fn is_plain_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn requests_resolve_or_refuse_and_accepted_names_are_plain(
        version in garbage(),
        target in garbage(),
        arch in garbage(),
        toolchain in garbage(),
        cuda in any::<bool>(),
        jobs in any::<Option<u32>>(),
    ) {
        let request = BuildRequest {
            slurm_version: version,
            gpu: cuda.then_some(factory::kinds::GpuVendor::Cuda),
            target: Some(target),
            gpu_arch: if cuda { vec![arch] } else { Vec::new() },
            jobs,
            toolchain: Some(toolchain),
            ..Default::default()
        };
        match request.resolve(&defaults()) {
            Ok(resolved) => {
                let name = resolved.artifact_name();
                prop_assert!(is_plain_name(&name), "{name:?}");
            }
            Err(e) => {
                // A refusal says something and names what to do.
                prop_assert!(!e.to_string().is_empty());
                prop_assert_eq!(e.kind().code(), 2, "{}", e);
            }
        }
    }

    #[test]
    fn presets_of_any_bytes_load_or_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("preset.yaml");
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(preset) = factory::request::presets::load(&path) {
            // What loads resolves or is refused like any request.
            let _ = preset.request.resolve(&defaults());
            let _ = preset.flags.check();
        }
    }

    #[test]
    fn settings_variables_of_any_value_load_or_are_refused(
        key in prop::sample::select(vec![
            "IMAGE", "VERIFY_IMAGE", "STORAGE_POOL", "LXD_PROJECT", "SPACK_REF",
            "CACHE_DIR", "DATA_DIR", "TOOLCHAIN", "UPSTREAM_MIRROR", "MIN_FREE_DISK_MIB",
            "WHEELS_DIR", "NO_SUCH_KEY",
        ]),
        value in garbage(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let dirs = XdgDirs {
            config: dir.path().join("config"),
            data: dir.path().join("data"),
            cache: dir.path().join("cache"),
        };
        let vars = BTreeMap::from([(format!("SLURM_FACTORY_{key}"), value)]);
        if let Ok(loaded) = factory::settings::load(&dirs, &vars) {
            let s = loaded.settings;
            for name in [&s.image, &s.verify_image, &s.storage_pool, &s.lxd_project, &s.spack_ref] {
                prop_assert!(
                    !name.starts_with('-')
                        && !name.bytes().any(|b| b.is_ascii_whitespace() || b";&|`$()<>'\"\\".contains(&b)),
                    "{name:?} reached the settings"
                );
            }
        }
    }

    #[test]
    fn toolchain_files_of_any_text_parse_or_are_refused(text in garbage()) {
        let _ = factory::toolchain::Toolchain::parse("site", "toolchains/site.toml", &text);
    }

    #[test]
    fn spack_output_and_protocol_lines_never_panic(lines in proptest::collection::vec(garbage(), 0..40)) {
        let mut spack = SpackProgress::new();
        for line in &lines {
            let _ = spack.feed(line);
            let _ = ScriptLine::parse(line);
        }
        let _ = progress::concretize_counts(&lines.join("\n"));
        let _ = (spack.from_buildcache(), spack.built_from_source(), spack.fetch_failures());
    }

    #[test]
    fn manifests_of_any_json_are_read_or_refused(text in garbage()) {
        let _ = serde_json::from_str::<factory::package::Manifest>(&text);
        let _ = serde_json::from_str::<factory::caches::mirror::BundleManifest>(&text);
    }
}

/// The protocol lines that look right but carry absurd numbers.
#[test]
fn protocol_lines_with_absurd_numbers_are_ignored_not_trusted() {
    for line in [
        "::progress 99999999999999999999 3 x",
        "::progress -1 3 x",
        "::cache buildcache 5 2",
        "::cache nosuchlayer 1 1",
        "::check maybe name",
        "::source {\"package\": 1}",
    ] {
        assert_eq!(ScriptLine::parse(line), None, "{line}");
    }
}
