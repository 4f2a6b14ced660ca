//! Requests and settings shared by the recipe tests.

use std::path::PathBuf;

use factory::kinds::GpuVendor;
use factory::recipe::RecipeContext;
use factory::request::{BuildRequest, Compiler, Defaults};
use factory::settings::{Settings, XdgDirs};

pub fn settings() -> Settings {
    Settings::defaults(&XdgDirs {
        config: PathBuf::from("/home/u/.config/slurm-factory"),
        data: PathBuf::from("/home/u/.local/share/slurm-factory"),
        cache: PathBuf::from("/home/u/.cache/slurm-factory"),
    })
}

/// One golden case: a name for its folder and the request behind it.
pub struct Case {
    pub name: String,
    pub request: BuildRequest,
    pub offline: bool,
}

/// The newest release and one past its support x (default, cuda, rocm,
/// minimal), plus a Spack-built gcc and an offline build of the default release.
pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for version in ["26.05", "24.11"] {
        for (label, gpu, minimal, arch) in [
            ("default", None, false, vec![]),
            (
                "cuda",
                Some(GpuVendor::Cuda),
                false,
                vec!["80".to_string(), "90".to_string()],
            ),
            (
                "rocm",
                Some(GpuVendor::Rocm),
                false,
                vec!["gfx90a".to_string()],
            ),
            ("minimal", None, true, vec![]),
        ] {
            // An older release changes a GPU recipe only where it names the
            // version: 26.05's cases cover those.
            if version == "24.11" && gpu.is_some() {
                continue;
            }
            cases.push(Case {
                name: format!("{version}-{label}"),
                request: BuildRequest {
                    slurm_version: version.into(),
                    gpu,
                    minimal,
                    gpu_arch: arch,
                    ..Default::default()
                },
                offline: false,
            });
        }
    }
    cases.push(Case {
        name: "26.05-default-spack-gcc".into(),
        request: BuildRequest {
            compiler: Compiler::SpackGcc,
            ..Default::default()
        },
        offline: false,
    });
    cases.push(Case {
        name: "26.05-minimal-offline".into(),
        request: BuildRequest {
            minimal: true,
            ..Default::default()
        },
        offline: true,
    });
    cases
}

pub fn defaults() -> Defaults {
    Defaults {
        target: "x86_64_v3".into(),
        jobs: 8,
        gpu: None,
        toolchain: None,
        // A fixed day, so the golden files do not change with the calendar.
        catalog: std::sync::Arc::new(
            factory::request::catalog::Catalog::load(None, jiff::civil::date(2026, 12, 7)).unwrap(),
        ),
    }
}

pub fn context(case: &Case) -> RecipeContext {
    let resolved = case.request.resolve(&defaults()).expect("case resolves");
    RecipeContext::new(&resolved, &settings(), case.offline)
}
