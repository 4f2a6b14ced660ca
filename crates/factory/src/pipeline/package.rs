//! The package stage.

use super::*;

impl Build<'_> {
    /// The package script relocates the runtime tree into the host-mounted
    /// output dir; the host then checks every ELF file and archives it.
    /// `verify_lacks_zstd`: the verify instance cannot unpack a .tar.zst, so a
    /// .tar.gz is written too (what the target can read, not a failure at
    /// verify after the whole build).
    pub(super) async fn package(
        &self,
        rendered: &Rendered,
        instance: &str,
        verify_lacks_zstd: bool,
    ) -> Result<Done<Staged>> {
        let req = &self.options.request;
        let name = req.artifact_name();
        let dest = format!("{}/{name}", layout::OUT);
        let mut args: Vec<String> = vec![
            "--build-prefix".into(),
            layout::STORE.into(),
            "--report".into(),
            format!("{}/leftovers.txt", layout::OUT),
        ];
        for lib in crate::package::driver_libraries(req.gpu_vendor()) {
            args.extend(["--allow-system".to_string(), lib.to_string()]);
        }
        let debug_name = format!("{name}-debug");
        args.extend(
            self.options
                .flags
                .package
                .relocate_args(&format!("{}/{debug_name}", layout::OUT)),
        );
        args.extend([layout::VIEW.to_string(), dest.clone()]);
        self.script(Stage::Package, instance, "package.sh", &args, &mut |_| {})
            .await?;
        self.collect_out(instance).await?;
        // Nothing the build left running may change the tree while it is
        // read and written here (a file swapped for a link after its check);
        // nothing later needs the build instance.
        self.lxc.stop(instance).await?;
        // The tree is in the run's out dir (mounted, or collected from a
        // remote server): the rendered files the package carries are
        // written there from here.
        let tree = self.run.file("out").join(&name);
        let modules = crate::recipe::ModuleTree::new(
            self.options.flags.package.modules,
            &req.slurm.name,
            &self.run.file("spack.lock"),
        );
        rendered.write_package_files(&tree, &modules)?;
        let allow = Allowlist::for_gpu(req.gpu_vendor());
        let inspection = crate::package::inspect(&tree, &[layout::STORE, layout::VIEW], &allow)?;
        for w in &inspection.warnings {
            self.emit(BuildEvent::Warning {
                stage: Stage::Package,
                message: w.to_string(),
            });
        }
        if !inspection.problems.is_empty() {
            let problems: Vec<String> = inspection.problems.iter().map(|p| p.to_string()).collect();
            let log = self.run.file("inspection.log");
            crate::fsutil::write_atomic(&log, problems.join("\n").as_bytes())?;
            return Err(Error::VerifyFailed {
                problems: problems.join("; "),
                log,
            });
        }
        let staging = self.run.file("staging");
        std::fs::create_dir_all(&staging).map_err(|e| Error::io("creating", &staging, e))?;
        let mut formats = vec![ArchiveFormat::TarZst];
        let gzip_for_verify = verify_lacks_zstd && !self.options.flags.gzip;
        if self.options.flags.gzip || gzip_for_verify {
            formats.push(ArchiveFormat::TarGz);
        }
        if gzip_for_verify {
            self.emit(BuildEvent::Warning {
                stage: Stage::Package,
                message: format!(
                    "the verify image `{}` has no zstd: the package gets a .tar.gz too, which \
                     plain tar reads; machines like it need zstd for the .tar.zst",
                    self.settings.verify_image
                ),
            });
        }
        // The same tree as an earlier artifact's (a warm rebuild): its archives
        // are copied rather than compressed again (zstd -19 takes seconds).
        let tree_sha256 = {
            let tree = tree.clone();
            tokio::task::spawn_blocking(move || crate::fsutil::tree_digest(&tree))
                .await
                .expect("the digest task does not panic")?
        };
        let store = Store::new(self.settings.artifacts_dir());
        let (mut archives, reused_from) =
            match store.reusable_archives(&name, &tree_sha256, &formats, &staging)? {
                Some((id, archives)) => (archives, Some(id)),
                None => {
                    let (tree, staging, name) = (tree.clone(), staging.clone(), name.clone());
                    let made = tokio::task::spawn_blocking(move || {
                        crate::package::archive(&tree, &staging, &name, &formats)
                    })
                    .await
                    .expect("the archive task does not panic")?;
                    (made, None)
                }
            };
        let debug_tree = self.run.file("out").join(&debug_name);
        if debug_tree.is_dir() {
            archives.extend(crate::package::archive(
                &debug_tree,
                &staging,
                &debug_name,
                &[ArchiveFormat::TarZst],
            )?);
        }
        let unpacked = crate::fsutil::tree_usage(&tree).0;
        let mut detail = format!(
            "{} ELF files relocated; {} unpacked, {} as .tar.zst",
            inspection.elf_files,
            human_bytes(unpacked),
            human_bytes(archives[0].bytes)
        );
        if gzip_for_verify {
            detail.push_str(" and .tar.gz (the verify image has no zstd)");
        }
        if let Some(id) = reused_from {
            detail.push_str(&format!(" (the same tree as {id}: its archives reused)"));
        }
        Ok(Done::new(Staged {
            dir: staging,
            archives,
            unpacked,
            tree_sha256,
            inspection,
            verify: None,
        })
        .detail(detail))
    }
}

/// What package hands on to verify and export: the package dir, its archives
/// and what inspecting it found.
pub(super) struct Staged {
    pub(super) dir: PathBuf,
    pub(super) archives: Vec<crate::package::ArchiveFile>,
    pub(super) unpacked: u64,
    /// `fsutil::tree_digest` of the package tree.
    pub(super) tree_sha256: String,
    pub(super) inspection: crate::package::Inspection,
    pub(super) verify: Option<VerifyResult>,
}
