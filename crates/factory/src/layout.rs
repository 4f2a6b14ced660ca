//! The fixed directory layout inside a build container. The pipeline (which
//! mounts and pushes files) and the templates (which refer to them as
//! `paths.*`) both read these names, so they cannot drift apart.

use serde::Serialize;

/// The Spack checkout.
pub const SPACK: &str = "/opt/slurm-factory/spack";
/// The spack-packages checkout (Spack >= 1.0 keeps its recipes there).
pub const SPACK_PACKAGES: &str = "/opt/slurm-factory/spack-packages";
/// A Python venv with clingo, used as `SPACK_PYTHON` (no bootstrap download).
pub const PYTHON_VENV: &str = "/opt/slurm-factory/python";
/// Python wheels pushed in for offline sites (clingo and its dependencies).
pub const WHEELS: &str = "/opt/slurm-factory/wheels";
/// The Spack environment: spack.yaml, spack.lock.
pub const ENV: &str = "/opt/slurm-factory/env";
/// The toolchain environment (a Spack-built gcc), only for `spack-gcc` builds.
pub const TOOLCHAIN: &str = "/opt/slurm-factory/toolchain";
/// Config written by spack-setup.sh (repos, externals, compiler), included by spack.yaml.
pub const CONFIG: &str = "/opt/slurm-factory/config";
/// Spack's install tree.
pub const STORE: &str = "/opt/slurm-factory/store";
/// The view gathering the runtime tree of the environment.
pub const VIEW: &str = "/opt/slurm-factory/view";
/// Host cache layer: the Spack buildcache (a mirror of binaries).
pub const CACHE_BUILDCACHE: &str = "/opt/slurm-factory/cache/buildcache";
/// Host cache layer: the source mirror.
pub const CACHE_MIRROR: &str = "/opt/slurm-factory/cache/mirror";
/// Host cache layer: ccache.
pub const CACHE_CCACHE: &str = "/opt/slurm-factory/cache/ccache";
/// The `upstream_mirror` setting's directory, mounted read-only.
pub const UPSTREAM_MIRROR: &str = "/opt/slurm-factory/upstream-mirror";
/// Where the rendered recipe is pushed: scripts/, modules/, spack.yaml.
pub const RECIPE: &str = "/opt/slurm-factory/recipe";
/// A host-mounted directory for what the build hands back.
pub const OUT: &str = "/opt/slurm-factory/out";
/// Where a `file://` buildcache being published to is mounted.
pub const PUBLISH: &str = "/opt/slurm-factory/publish";
/// The archives, manifest and signatures publish.sh uploads beside an S3
/// or OCI buildcache (it removes them).
pub const PUBLISH_FILES: &str = "/opt/slurm-factory/publish-files";
/// Where the `file://` buildcaches a build installs from are mounted:
/// `<INSTALL_FROM>/<n>`, n counting from 0 in the order given.
pub const INSTALL_FROM: &str = "/opt/slurm-factory/install-from";
/// The public keys of `--trust`, for `spack gpg trust`: `<TRUSTED_KEYS>/<n>.asc`.
pub const TRUSTED_KEYS: &str = "/opt/slurm-factory/trusted-keys";
/// The secret signing key, there only while publish.sh runs (it removes it).
pub const SIGNING_KEY: &str = "/run/slurm-factory-signing-key.asc";
/// The registry credentials, there only while publish.sh runs (it removes them).
pub const REGISTRY_CREDENTIALS: &str = "/run/slurm-factory-registry-credentials";
/// The `--from-credentials` login, there only until install.sh reads it (and removes it).
pub const FROM_LOGIN: &str = "/run/slurm-factory-from-credentials";
/// The `--from-registry-ca` certificate, for install.sh.
pub const FROM_REGISTRY_CA: &str = "/run/slurm-factory-from-ca.pem";
/// The `--registry-ca` certificate, for publish.sh.
pub const REGISTRY_CA: &str = "/run/slurm-factory-registry-ca.pem";

/// The layout as templates see it (`paths.spack`, `paths.store`, ...). Tests
/// may point these at host directories; the pipeline uses [`Paths::container`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Paths {
    pub spack: String,
    pub spack_packages: String,
    pub python_venv: String,
    pub wheels: String,
    pub env: String,
    pub toolchain: String,
    pub config: String,
    pub store: String,
    pub view: String,
    pub buildcache: String,
    pub mirror: String,
    pub ccache: String,
    pub upstream_mirror: String,
    pub recipe: String,
    pub out: String,
    pub trusted_keys: String,
    pub registry_login: String,
    pub registry_ca: String,
}

impl Paths {
    /// The fixed container layout.
    pub fn container() -> Paths {
        Paths {
            spack: SPACK.into(),
            spack_packages: SPACK_PACKAGES.into(),
            python_venv: PYTHON_VENV.into(),
            wheels: WHEELS.into(),
            env: ENV.into(),
            toolchain: TOOLCHAIN.into(),
            config: CONFIG.into(),
            store: STORE.into(),
            view: VIEW.into(),
            buildcache: CACHE_BUILDCACHE.into(),
            mirror: CACHE_MIRROR.into(),
            ccache: CACHE_CCACHE.into(),
            upstream_mirror: UPSTREAM_MIRROR.into(),
            recipe: RECIPE.into(),
            out: OUT.into(),
            trusted_keys: TRUSTED_KEYS.into(),
            registry_login: FROM_LOGIN.into(),
            registry_ca: FROM_REGISTRY_CA.into(),
        }
    }

    /// The same layout under another root, for running recipes outside a container.
    pub fn under(root: &str) -> Paths {
        let c = Paths::container();
        let move_ = |p: String| format!("{root}{}", p.trim_start_matches("/opt/slurm-factory"));
        Paths {
            spack: move_(c.spack),
            spack_packages: move_(c.spack_packages),
            python_venv: move_(c.python_venv),
            wheels: move_(c.wheels),
            env: move_(c.env),
            toolchain: move_(c.toolchain),
            config: move_(c.config),
            store: move_(c.store),
            view: move_(c.view),
            buildcache: move_(c.buildcache),
            mirror: move_(c.mirror),
            ccache: move_(c.ccache),
            upstream_mirror: move_(c.upstream_mirror),
            recipe: move_(c.recipe),
            out: move_(c.out),
            trusted_keys: move_(c.trusted_keys),
            registry_login: move_(c.registry_login),
            registry_ca: move_(c.registry_ca),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under_moves_every_path_below_the_new_root() {
        let c = Paths::container();
        let h = Paths::under("/tmp/sf");
        assert_eq!(c.store, STORE);
        assert_eq!(h.store, "/tmp/sf/store");
        assert_eq!(h.buildcache, "/tmp/sf/cache/buildcache");
        let all = serde_json::to_value(&h).unwrap();
        for (key, value) in all.as_object().unwrap() {
            assert!(value.as_str().unwrap().starts_with("/tmp/sf/"), "{key}");
        }
    }
}
