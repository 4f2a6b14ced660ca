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
