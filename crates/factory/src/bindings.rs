//! TypeScript declarations of every type the desktop app exchanges with the
//! engine, so the UI and the engine cannot drift apart: a test fails when
//! `ui/src/lib/bindings.ts` differs from what these types generate.

use ts_rs::{Config, TS};

/// The contents of `ui/src/lib/bindings.ts`.
pub fn typescript() -> String {
    // JSON numbers: u64 fields (milliseconds, sizes) stay far below 2^53.
    let cfg = Config::new().with_large_int("number");
    let mut out = String::from(
        "// Generated from the engine's Rust types (crates/factory/src/bindings.rs).\n\
         // Do not edit: run `UPDATE_BINDINGS=1 cargo test -p factory --features ts bindings`.\n\n",
    );
    macro_rules! export {
        ($($t:ty),* $(,)?) => {$(
            out.push_str("export ");
            out.push_str(&<$t as TS>::decl(&cfg));
            out.push_str("\n\n");
        )*};
    }
    use crate::caches::{cache, mirror, sources};
    use crate::error::remedy;
    use crate::pipeline::{matrix, plan};
    use crate::request::{catalog, presets};
    use crate::store::{artifacts, history, runs};
    use crate::{
        doctor, error, events, hardware, kinds, options, package, pipeline, publish, recipe,
        remotes, request, settings, toolchain, units,
    };
    export!(
        error::ExitKind,
        error::ErrorReport,
        kinds::Stage,
        kinds::Stream,
        kinds::StageOutcome,
        kinds::Outcome,
        kinds::RunStatus,
        events::BuildEvent,
        events::EventRecord,
        events::BatchItem,
        catalog::Release,
        catalog::Support,
        kinds::GpuVendor,
        request::Compiler,
        request::BuildRequest,
        toolchain::Toolchain,
        toolchain::PackageManager,
        request::PackageType,
        request::SlurmVersion,
        request::ResolvedRequest,
        plan::Plan,
        plan::PlanRow,
        doctor::Status,
        doctor::Check,
        doctor::Report,
        settings::Source,
        settings::Entry,
        settings::Overview,
        runs::RunRecord,
        runs::RunSummary,
        units::Size,
        runs::LogPage,
        history::StageTime,
        history::LayerUse,
        history::RunStats,
        history::StageFailures,
        history::History,
        hardware::HostReport,
        hardware::CpuInfo,
        hardware::TargetFlags,
        hardware::CompilerVersion,
        hardware::GpuInfo,
        hardware::GpuSupport,
        hardware::Suggestions,
        hardware::Suggestion<String>,
        hardware::PackageChoice,
        artifacts::ArtifactSummary,
        artifacts::StoredFile,
        artifacts::Artifact,
        artifacts::ExportResult,
        package::Manifest,
        package::Sizes,
        package::ArchiveEntry,
        package::StageTiming,
        package::VerifyResult,
        package::VerifyCheck,
        package::InspectionSummary,
        package::VersionNeed,
        package::ArchiveFormat,
        recipe::ModuleLayout,
        serde_json::Value,
        pipeline::BuildFlags,
        pipeline::PackageOptions,
        presets::Preset,
        options::OptionKind,
        options::OptionGroup,
        options::Choice,
        options::OptionDescription,
        publish::PublishOptions,
        publish::GoodSignature,
        artifacts::SignatureReport,
        publish::BuildcacheScope,
        kinds::Layer,
        cache::CacheOverview,
        cache::LayerStatus,
        cache::LayerHits,
        cache::RunHits,
        mirror::BundleManifest,
        mirror::BundlePart,
        mirror::Exported,
        mirror::Imported,
        mirror::OfflineTrees,
        sources::SourcesReport,
        sources::MissingSource,
        pipeline::MirrorResult,
        matrix::MatrixBuild,
        matrix::BuildOutcome,
        matrix::MatrixEvent,
        remotes::Server,
        remedy::Remedy,
        remedy::RemedyPart,
        remedy::Flag,
        remedy::Command,
    );
    // The engine's orders, so the UI lists stages and layers as the engine does.
    let list = |names: Vec<&str>| {
        names
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    out.push_str(&format!(
        "/** Every stage, in pipeline order. */\nexport const STAGES: Stage[] = [{}];\n\n",
        list(kinds::Stage::ALL.iter().map(|s| s.as_str()).collect())
    ));
    out.push_str(&format!(
        "/** Every cache layer. */\nexport const LAYERS: Layer[] = [{}];\n\n",
        list(kinds::Layer::ALL.iter().map(|l| l.as_str()).collect())
    ));
    let options: Vec<options::OptionDescription> = pipeline::BuildFlags::all_options()
        .into_iter()
        .map(|o| o.describe())
        .collect();
    out.push_str(&format!(
        "/** Every build option, group by group: the Build page's Advanced form. */\n\
         export const BUILD_OPTIONS: OptionDescription[] = {};\n",
        serde_json::to_string_pretty(&options).expect("options serialize")
    ));
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn bindings_file_is_fresh() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/bindings.ts");
        let fresh = super::typescript();
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::write(&path, &fresh).unwrap();
        }
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            current == fresh,
            "{} is stale: run `UPDATE_BINDINGS=1 cargo test -p factory --features ts bindings`",
            path.display()
        );
    }
}
