//! The export stage.

use super::*;

impl Build<'_> {
    pub(super) async fn export(&self, staged: Staged) -> Result<Done<String>> {
        let req = &self.options.request;
        let spack_lock = self.run.file("spack.lock");
        let mut manifest = Manifest {
            name: req.artifact_name(),
            slurm_version: req.slurm.name.clone(),
            spack_version: req.slurm.spack.clone(),
            spack_release: Some(self.settings.spack_ref.clone()),
            package_type: req.package_type.label().into(),
            target: req.target.clone(),
            gpu: req.gpu_vendor().map(|v| v.as_str().into()),
            gpu_arch: (!req.gpu_arch.is_empty()).then(|| req.gpu_arch.join(",")),
            created: jiff::Timestamp::now(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            build_prefix: layout::STORE.into(),
            request: serde_json::to_value(req).expect("requests serialize"),
            options: self.options.flags.recorded(),
            spack_lock_sha256: spack_lock
                .is_file()
                .then(|| crate::package::sha256_file(&spack_lock))
                .transpose()?,
            sizes: Sizes {
                unpacked: staged.unpacked,
                ..Default::default()
            },
            tree_sha256: Some(staged.tree_sha256.clone()),
            archives: Vec::new(),
            stages: self.timings.lock().expect("timings lock").clone(),
            verify: staged.verify.clone(),
            inspection: staged.inspection.summary(),
        };
        manifest.set_archives(&staged.archives);
        manifest.write_atomic(&staged.dir.join(crate::package::MANIFEST_FILE))?;
        let store = Store::new(self.settings.artifacts_dir());
        let artifact = store.add(&staged.dir)?;
        let detail = format!("artifact {}", artifact.id);
        Ok(Done::new(artifact.id).detail(detail))
    }
}
