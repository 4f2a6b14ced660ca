//! The spack-setup stage.

use super::*;

impl Build<'_> {
    pub(super) async fn spack_setup(
        &self,
        rendered: &Rendered,
        instance: &str,
    ) -> Result<Done<()>> {
        self.run_script(Stage::SpackSetup, instance, "spack-setup.sh")
            .await?;
        // `spack-gcc` builds first build the compiler every package is built with.
        if rendered.files.contains_key("scripts/toolchain.sh") {
            self.run_script(Stage::SpackSetup, instance, "toolchain.sh")
                .await?;
        }
        Ok(Done::new(()))
    }
}
