//! The buildcache-push stage.

use super::*;

impl Build<'_> {
    pub(super) async fn buildcache_push(
        &self,
        rendered: &Rendered,
        instance: &str,
        new_binaries: bool,
    ) -> Result<Done<()>> {
        if !rendered.files.contains_key("scripts/buildcache-push.sh") {
            return Ok(Done::skipped((), "the recipe has no buildcache-push.sh"));
        }
        if !new_binaries {
            return Ok(Done::skipped(
                (),
                "every package came from the buildcache layer",
            ));
        }
        self.run_script(Stage::BuildcachePush, instance, "buildcache-push.sh")
            .await?;
        // From a remote server, what it built and fetched reaches this
        // machine's layers, and so every server the next builds run on.
        for layer in [Layer::Buildcache, Layer::Mirror] {
            self.sync_layer(Stage::BuildcachePush, instance, layer, Way::Down)
                .await?;
        }
        Ok(Done::new(()))
    }
}
