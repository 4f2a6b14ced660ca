//! Images: list, look up, import a tarball, publish an instance, delete.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::{check_instance_name, is_not_found, lxc_says, parse_json, Lxc};
use crate::error::{Error, Result};

/// How long a clean shutdown before publishing may take.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// One image as `lxc image list --format json` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    pub fingerprint: String,
    pub aliases: Vec<String>,
    /// Bytes.
    pub size: u64,
    /// RFC 3339, as LXD reports it.
    pub created_at: String,
    pub properties: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct ApiImage {
    fingerprint: String,
    #[serde(default)]
    aliases: Vec<ApiAlias>,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    created_at: String,
    #[serde(default)]
    properties: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct ApiAlias {
    name: String,
}

impl From<ApiImage> for ImageInfo {
    fn from(api: ApiImage) -> ImageInfo {
        ImageInfo {
            fingerprint: api.fingerprint,
            aliases: api.aliases.into_iter().map(|a| a.name).collect(),
            size: api.size,
            created_at: api.created_at,
            properties: api.properties,
        }
    }
}

/// The fingerprint in "… with fingerprint: abc…" (import and publish say so).
fn fingerprint_in(stdout: &str) -> Option<String> {
    stdout
        .lines()
        .rev()
        .find_map(|l| l.split_once("fingerprint: "))
        .map(|(_, f)| f.trim().to_string())
}

impl Lxc {
    /// Images on this handle's remote, in its project.
    pub async fn images(&self) -> Result<Vec<ImageInfo>> {
        let mut args: Vec<OsString> = vec!["image".into(), "list".into()];
        args.extend(self.remote_arg().map(OsString::from));
        args.extend(["--format".into(), "json".into()]);
        let out = self.run(&args).await?;
        let api: Vec<ApiImage> = parse_json(&out.stdout, "lxc image list")?;
        Ok(api.into_iter().map(ImageInfo::from).collect())
    }

    /// Whether `image` (alias, fingerprint, or `remote:alias`) resolves.
    pub async fn image_exists(&self, image: &str) -> Result<bool> {
        match self.run(&["image", "info", &self.image_ref(image)]).await {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Imports a unified image tarball under `alias`; returns its fingerprint.
    pub async fn import_image(&self, tarball: &Path, alias: &str) -> Result<String> {
        let mut args: Vec<OsString> = vec!["image".into(), "import".into(), tarball.into()];
        args.extend(self.remote_arg().map(OsString::from));
        args.extend(["--alias".into(), alias.into()]);
        let out = self.run(&args).await?;
        fingerprint_in(&out.stdout).ok_or_else(|| Error::Lxc {
            command: format!("{} image import", self.binary),
            stderr: format!("no fingerprint in its output: {}", out.stdout.trim()),
        })
    }

    /// Makes an image of an instance under `alias`, with `properties`
    /// (e.g. the hash of the inputs that made it); returns its fingerprint.
    /// A running instance is stopped first (an ephemeral one would be
    /// deleted by that: don't publish those).
    pub async fn publish(
        &self,
        instance: &str,
        alias: &str,
        properties: &[(String, String)],
    ) -> Result<String> {
        check_instance_name(instance)?;
        let target = self.on_remote(instance);
        match self.instance(instance).await? {
            None => {
                return Err(Error::InstanceNotFound {
                    name: instance.into(),
                })
            }
            Some(i) if i.is_running() => {
                // A clean shutdown, unless init ignores LXD's SIGPWR (stock
                // Debian systemd does): then the commands that wrote the
                // image's content have finished, and a forced stop is safe.
                let timeout = STOP_TIMEOUT.as_secs().to_string();
                if self
                    .run(&["stop", "--timeout", &timeout, &target])
                    .await
                    .is_err()
                {
                    self.run(&["stop", "--force", &target]).await?;
                }
            }
            Some(_) => {}
        }
        let mut args: Vec<OsString> = vec!["publish".into(), target.into()];
        args.extend(self.remote_arg().map(OsString::from));
        args.extend(["--alias".into(), alias.into()]);
        for (key, value) in properties {
            if key.is_empty() || key.contains('=') {
                return Err(Error::InvalidValue {
                    what: "image property name",
                    value: key.clone(),
                    reason: "must be non-empty and contain no `=`".into(),
                });
            }
            args.push(format!("{key}={value}").into());
        }
        // zstd packs as fast as no compression (9 s for a 420 MB rootfs
        // here, gzip several times longer) at a third of the size; LXD hosts
        // without the zstd tool fall back to LXD's default.
        let mut zstd = args.clone();
        zstd.extend(["--compression".into(), "zstd".into()]);
        let out = match self.run(&zstd).await {
            Err(e) if lxc_says(&e, "zstd") => self.run(&args).await?,
            other => other?,
        };
        fingerprint_in(&out.stdout).ok_or_else(|| Error::Lxc {
            command: format!("{} publish {instance}", self.binary),
            stderr: format!("no fingerprint in its output: {}", out.stdout.trim()),
        })
    }

    /// Waits, up to `limit`, for the image operations LXD is running (a
    /// publish whose `lxc` client died goes on in the daemon). Deleting an
    /// instance LXD is exporting fails that publish and can abort LXD 5.0
    /// itself; LXD names no instance on these operations, so all are awaited.
    pub async fn wait_image_operations(&self, limit: Duration) {
        #[derive(Deserialize)]
        struct Operations {
            #[serde(default)]
            running: Option<Vec<Operation>>,
        }
        #[derive(Deserialize)]
        struct Operation {
            id: String,
            class: String,
            description: String,
        }
        // With no operations at all `lxc query` prints nothing; a daemon
        // that does not answer fails the deletes that follow, with the hint.
        let Ok(ops) = self
            .query::<Operations>("/1.0/operations?recursion=1")
            .await
        else {
            return;
        };
        let started = std::time::Instant::now();
        for op in ops.running.unwrap_or_default() {
            if op.class != "task" || !op.description.contains("image") {
                continue;
            }
            let left = limit.saturating_sub(started.elapsed()).as_secs();
            if left == 0 {
                break;
            }
            tracing::info!("waiting up to {left} s for LXD's {:?}", op.description);
            // An operation that ends (or fails) as we ask is no error here.
            let _ = self
                .run(&[
                    "query",
                    &self.on_remote(&format!("/1.0/operations/{}/wait?timeout={left}", op.id)),
                ])
                .await;
        }
    }

    /// The fingerprint of the image `alias` names on this handle's remote.
    pub async fn image_fingerprint(&self, alias: &str) -> Result<Option<String>> {
        Ok(self
            .images()
            .await?
            .into_iter()
            .find(|i| i.aliases.iter().any(|a| a == alias))
            .map(|i| i.fingerprint))
    }

    /// Deletes the image `alias` points at; `Ok` when there is none.
    pub async fn delete_image(&self, alias: &str) -> Result<()> {
        match self.run(&["image", "delete", &self.image_ref(alias)]).await {
            Err(e) if is_not_found(&e) => Ok(()),
            other => other.map(drop),
        }
    }

    /// An image reference on this handle's remote unless it names its own.
    /// Copies the image `image` of this handle's remote to `target`'s, with
    /// its aliases. Another build copying it at the same time is no failure.
    pub async fn copy_image_to(&self, image: &str, target: &Lxc) -> Result<()> {
        let dest = format!("{}:", target.remote);
        let copied = self
            .run(&[
                "image",
                "copy",
                &self.image_ref(image),
                &dest,
                "--copy-aliases",
                // The client carries it: neither server needs to reach the other.
                "--mode",
                "relay",
            ])
            .await;
        match copied {
            Err(_) if target.image_exists(image).await? => Ok(()),
            other => other.map(drop),
        }
    }

    pub(super) fn image_ref(&self, image: &str) -> String {
        if image.contains(':') {
            image.to_string()
        } else {
            self.on_remote(image)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_list_json_parses() {
        // Trimmed from LXD 5.0's `lxc image list --format json`.
        let json = r#"[{"auto_update":false,"properties":{"os":"debian","release":"bookworm"},
            "public":false,"expires_at":"1970-01-01T00:00:00Z","profiles":["default"],
            "aliases":[{"name":"sf-test-build","description":""}],"architecture":"x86_64",
            "cached":false,"filename":"sf.tar.zst",
            "fingerprint":"9c400a3d5acacf44e3b8a6eb78233c00917e752d0d61c0e4e88c3b33628a9b3e",
            "size":147647229,"type":"container","created_at":"2026-11-24T15:28:40Z",
            "last_used_at":"0001-01-01T00:00:00Z","uploaded_at":"2026-11-24T15:29:10Z"}]"#;
        let api: Vec<ApiImage> = parse_json(json, "test").unwrap();
        let info = ImageInfo::from(api.into_iter().next().unwrap());
        assert_eq!(info.aliases, ["sf-test-build"]);
        assert_eq!(info.size, 147647229);
        assert_eq!(info.properties["release"], "bookworm");
        assert!(info.fingerprint.starts_with("9c400a3d"));
    }

    #[test]
    fn fingerprint_is_read_from_import_and_publish_output() {
        assert_eq!(
            fingerprint_in("Image imported with fingerprint: 8f2e7951\n").as_deref(),
            Some("8f2e7951")
        );
        assert_eq!(
            fingerprint_in("Instance published with fingerprint: abc123\n").as_deref(),
            Some("abc123")
        );
        assert_eq!(fingerprint_in("Transferring image: 100%"), None);
    }
}
