//! The spack-setup stage.

use super::*;

impl Build<'_> {
    pub(super) async fn spack_setup(
        &self,
        rendered: &Rendered,
        instance: &str,
    ) -> Result<Done<()>> {
        self.script(
            Stage::SpackSetup,
            instance,
            "spack-setup.sh",
            &[],
            &mut |_| {},
        )
        .await?;
        // `spack-gcc` builds first build the compiler every package is built with.
        if rendered.files.contains_key("scripts/toolchain.sh") {
            self.script(
                Stage::SpackSetup,
                instance,
                "toolchain.sh",
                &[],
                &mut |_| {},
            )
            .await?;
        }
        Ok(Done::new(()))
    }
}
