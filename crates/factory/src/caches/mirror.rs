//! The air-gapped bundle: what an offline build needs from outside — the
//! source mirror layer, the clingo wheels, Spack and spack-packages — as one
//! `.tar.zst` with a manifest of every file's sha256. Made on a machine with
//! internet (`mirror export`), checked and unpacked on one without
//! (`mirror import`): sources into the mirror layer, the trees under the data
//! dir, and the offline settings pointed at them.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::caches::cache::CacheDirs;
use crate::caches::spack_source::SpackSource;
use crate::error::{Error, Result};
use crate::settings::Settings;

/// The manifest's name inside the bundle: its first entry.
pub const MANIFEST: &str = "slurm-factory-bundle.json";
/// 2: links are listed in the manifest (`links`), and only those unpack.
const FORMAT: u32 = 2;
/// The trees an import puts under [`offline_dir`], and the setting that names each.
const TREES: [(&str, &str); 3] = [
    ("spack", "spack_root"),
    ("spack-packages", "spack_packages_root"),
    ("wheels", "wheels_dir"),
];

/// What a bundle holds, part by part; `files` maps each path in the bundle
/// (`spack/bin/spack`) to its sha256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BundleManifest {
    pub format: u32,
    pub created: String,
    /// The Spack and spack-packages releases the build uses (the settings' refs).
    pub spack_ref: String,
    pub spack_packages_ref: String,
    pub parts: Vec<BundlePart>,
    pub files: BTreeMap<String, String>,
    /// Each symbolic link in the bundle (a Spack mirror's readable names,
    /// links in Spack's tree) and its target, which stays inside its part.
    #[serde(default)]
    pub links: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BundlePart {
    /// `mirror`, `wheels`, `spack` or `spack-packages`: the top directory in the bundle.
    pub name: String,
    pub files: u64,
    pub bytes: u64,
}

/// The parts of a bundle and where they come from on this machine.
fn parts(settings: &Settings) -> Result<Vec<(&'static str, PathBuf)>> {
    let SpackSource::Local {
        spack,
        packages,
        wheels,
    } = SpackSource::from_settings(settings, true)?
    else {
        unreachable!("an offline source is local")
    };
    Ok(vec![
        ("mirror", CacheDirs::new(settings).mirror),
        ("wheels", wheels),
        ("spack", spack),
        ("spack-packages", packages),
    ])
}

/// Everything under `root` (directories too, so empty ones survive), relative,
/// sorted (a directory before its contents); `.git` and byte-code caches left
/// out, as the base image's content key leaves them out.
fn walk(root: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            // An empty mirror layer has not been created yet.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && rel.as_os_str().is_empty() => {
                return Ok(out)
            }
            Err(e) => return Err(Error::io("reading", &dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("reading", &dir, e))?;
            if crate::fsutil::is_volatile(&entry.file_name()) {
                continue;
            }
            let path = rel.join(entry.file_name());
            let kind = entry
                .file_type()
                .map_err(|e| Error::io("reading", entry.path(), e))?;
            if kind.is_dir() {
                stack.push(path.clone());
            }
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Whether the link at `name` (a path in the bundle, `spack/a/b`) to
/// `target` resolves inside `name`'s part (`spack/`), by its words alone:
/// relative, and never above the part.
fn stays_inside_its_part(name: &Path, target: &Path) -> bool {
    let Some(dir) = name.parent() else {
        return false;
    };
    let mut depth = dir.components().count();
    for part in target.components() {
        match part {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir if depth > 1 => depth -= 1,
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    depth >= 1
}

/// What `export` wrote.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Exported {
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: String,
    pub manifest: BundleManifest,
    /// With a signing key: its fingerprint; the detached signature is
    /// `<path>.asc`, which `import --key` checks.
    pub signed_by: Option<String>,
}

/// Writes the bundle of this machine's offline site to `dest` (atomically:
/// a temporary name, then a rename; an existing file only with `force`),
/// signed (`<dest>.asc`) with the key `sign` names (a file or a key id of
/// your keyring), the manifest's checksums then covered by the signature.
/// Fails before writing anything when a setting is missing, naming it.
pub fn export(
    settings: &Settings,
    dest: &Path,
    force: bool,
    sign: Option<&str>,
) -> Result<Exported> {
    if dest.exists() && !force {
        return Err(Error::ExportTargetExists {
            path: dest.to_path_buf(),
        });
    }
    let key = match sign {
        Some(key) => Some(crate::publish::secret_key(&crate::publish::key_source(
            key,
        )?)?),
        None => None,
    };
    let parts = parts(settings)?;
    let mut files = BTreeMap::new();
    let mut links = BTreeMap::new();
    let mut part_rows = Vec::new();
    let mut entries = Vec::new();
    for (name, root) in &parts {
        let (mut count, mut bytes) = (0, 0);
        for rel in walk(root)? {
            let path = root.join(&rel);
            let in_bundle = Path::new(name).join(&rel);
            let meta =
                std::fs::symlink_metadata(&path).map_err(|e| Error::io("reading", &path, e))?;
            if meta.is_file() {
                files.insert(
                    in_bundle.display().to_string(),
                    crate::package::sha256_file(&path)?,
                );
                bytes += meta.len();
            } else if meta.is_symlink() {
                let target =
                    std::fs::read_link(&path).map_err(|e| Error::io("reading", &path, e))?;
                if !stays_inside_its_part(&in_bundle, &target) {
                    return Err(Error::io(
                        "exporting",
                        &path,
                        std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            format!(
                                "a link to {}, outside {name}: an air-gapped machine would not \
                                 have it",
                                target.display()
                            ),
                        ),
                    ));
                }
                links.insert(
                    in_bundle.display().to_string(),
                    target.display().to_string(),
                );
            } else if !meta.is_dir() {
                return Err(Error::io(
                    "exporting",
                    &path,
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "neither a file, a directory nor a link",
                    ),
                ));
            }
            count += u64::from(!meta.is_dir());
            entries.push((path, in_bundle));
        }
        part_rows.push(BundlePart {
            name: (*name).into(),
            files: count,
            bytes,
        });
    }
    let manifest = BundleManifest {
        format: FORMAT,
        created: jiff::Timestamp::now().to_string(),
        spack_ref: settings.spack_ref.clone(),
        spack_packages_ref: settings.spack_packages_ref.clone(),
        parts: part_rows,
        files,
        links,
    };
    crate::fsutil::write_atomic_with(dest, "writing the bundle", |tmp| {
        write_bundle(tmp, &manifest, &entries)
    })?;
    let signed_by = match key {
        Some(key) => Some(crate::publish::sign_files(&key, &[dest.to_path_buf()])?.0),
        None => {
            // An older signature would not be this bundle's.
            let _ = std::fs::remove_file(crate::publish::signature_path(dest));
            None
        }
    };
    Ok(Exported {
        signed_by,
        path: dest.to_path_buf(),
        bytes: std::fs::metadata(dest)
            .map_err(|e| Error::io("reading", dest, e))?
            .len(),
        sha256: crate::package::sha256_file(dest)?,
        manifest,
    })
}

fn write_bundle(
    tmp: &Path,
    manifest: &BundleManifest,
    entries: &[(PathBuf, PathBuf)],
) -> std::io::Result<()> {
    let mut enc = zstd::stream::write::Encoder::new(File::create(tmp)?, 9)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    enc.multithread(threads)?;
    enc.include_checksum(true)?;
    let mut tar = tar::Builder::new(enc);
    tar.follow_symlinks(false);
    let json = serde_json::to_vec_pretty(manifest).expect("a manifest serializes");
    let mut header = tar::Header::new_gnu();
    header.set_size(json.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(jiff::Timestamp::now().as_second().max(0) as u64);
    tar.append_data(&mut header, MANIFEST, json.as_slice())?;
    for (path, name) in entries {
        tar.append_path_with_name(path, name)?;
    }
    let file = tar.into_inner()?.finish()?;
    file.sync_all()
}

/// What `import` did.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Imported {
    pub manifest: BundleManifest,
    /// Who signed the bundle, checked with the key `import` was given.
    pub signature: Option<crate::publish::GoodSignature>,
    /// Sources new to the mirror layer (the others were there already).
    pub new_sources: u64,
    #[serde(flatten)]
    pub trees: OfflineTrees,
}

/// The trees an offline build takes from this machine, as the settings name them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OfflineTrees {
    pub spack_root: PathBuf,
    pub spack_packages_root: PathBuf,
    pub wheels_dir: PathBuf,
}

/// Where imported trees live: `<data_dir>/offline/{spack,spack-packages,wheels}`.
pub fn offline_dir(settings: &Settings) -> PathBuf {
    settings.data_dir.join("offline")
}

/// Unpacks the bundle at `src` into a staging dir, checks every file against
/// the manifest (nothing missing, nothing added, every sha256), and only then
/// puts it in place: sources merged into the mirror layer, the trees under
/// [`offline_dir`] (replacing an earlier import), and `spack_root`,
/// `spack_packages_root` and `wheels_dir` written to the config file at
/// `config`. With `key` (a public key file) the bundle's signature
/// (`<src>.asc`) must be good and by that key, before anything is unpacked.
/// A bad bundle changes nothing.
pub fn import(
    settings: &Settings,
    src: &Path,
    config: &Path,
    key: Option<&Path>,
) -> Result<Imported> {
    let invalid = |reason: String| Error::BundleInvalid {
        path: src.to_path_buf(),
        reason,
    };
    let signature = key
        .map(|key| crate::publish::verify_signature(src, Some(key)))
        .transpose()?;
    let offline = offline_dir(settings);
    crate::fsutil::create_private_dir_all(&offline)
        .map_err(|e| Error::io("creating", &offline, e))?;
    let staging = tempfile::Builder::new()
        .prefix(".import-")
        .tempdir_in(&offline)
        .map_err(|e| Error::io("creating a staging dir in", &offline, e))?;
    let file = File::open(src).map_err(|e| Error::io("opening the bundle", src, e))?;
    let dec = zstd::stream::read::Decoder::new(file)
        .map_err(|e| invalid(format!("not a zstd stream: {e}")))?;
    let mut archive = tar::Archive::new(dec);
    let mut manifest: Option<BundleManifest> = None;
    let mut seen = BTreeMap::new();
    let mut seen_links = Vec::new();
    let entries = archive
        .entries()
        .map_err(|e| invalid(format!("not a tar archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| invalid(format!("a damaged entry: {e}")))?;
        let name = entry
            .path()
            .map_err(|e| invalid(format!("an entry with a bad name: {e}")))?
            .into_owned();
        if !name.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(invalid(format!(
                "an entry outside the bundle: {}",
                name.display()
            )));
        }
        if name == Path::new(MANIFEST) {
            let mut json = Vec::new();
            entry
                .read_to_end(&mut json)
                .map_err(|e| invalid(format!("an unreadable manifest: {e}")))?;
            manifest = Some(
                serde_json::from_slice(&json)
                    .map_err(|e| invalid(format!("a malformed manifest: {e}")))?,
            );
            continue;
        }
        // Files are checked against the manifest below; a link only as the
        // manifest lists it, inside its part; nothing else unpacks.
        let kind = entry.header().entry_type();
        let is_file = kind.is_file();
        if kind.is_symlink() {
            let target = entry
                .link_name()
                .map_err(|e| invalid(format!("a link with a bad target: {e}")))?
                .unwrap_or_default();
            let listed = manifest
                .as_ref()
                .and_then(|m| m.links.get(&name.display().to_string()));
            if listed.map(String::as_str) != Some(&*target.to_string_lossy()) {
                return Err(invalid(format!(
                    "{} is a link (to {}) the manifest does not list",
                    name.display(),
                    target.display()
                )));
            }
            if !stays_inside_its_part(&name, &target) {
                return Err(invalid(format!(
                    "{} is a link out of the bundle (to {})",
                    name.display(),
                    target.display()
                )));
            }
            seen_links.push(name.display().to_string());
        } else if !is_file && !kind.is_dir() {
            return Err(invalid(format!(
                "{} is neither a file, a directory nor a listed link ({kind:?})",
                name.display()
            )));
        }
        entry
            .unpack_in(staging.path())
            .map_err(|e| invalid(format!("{} could not be unpacked: {e}", name.display())))?;
        if is_file {
            let path = staging.path().join(&name);
            seen.insert(
                name.display().to_string(),
                crate::package::sha256_file(&path)?,
            );
        }
    }
    let manifest = manifest.ok_or_else(|| invalid(format!("no {MANIFEST}")))?;
    if manifest.format != FORMAT {
        return Err(invalid(format!(
            "bundle format {} (this slurm-factory reads format {FORMAT})",
            manifest.format
        )));
    }
    for (path, sha) in &manifest.files {
        match seen.get(path) {
            None => return Err(invalid(format!("{path} is missing"))),
            Some(actual) if actual != sha => {
                return Err(invalid(format!(
                    "{path}: sha256 {actual}, the manifest says {sha}"
                )))
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = seen.keys().find(|p| !manifest.files.contains_key(*p)) {
        return Err(invalid(format!("{extra} is not in the manifest")));
    }
    if let Some(link) = manifest.links.keys().find(|l| !seen_links.contains(l)) {
        return Err(invalid(format!("{link} is missing")));
    }
    for (tree, _) in TREES {
        if !staging.path().join(tree).is_dir() {
            return Err(invalid(format!("no {tree}/ in the bundle")));
        }
    }

    // Checked. The trees (and the settings) first: a config file that cannot
    // take the settings stops the import before anything moved.
    let trees = adopt_trees(settings, staging.path(), config)?;
    let mirror = CacheDirs::new(settings).mirror;
    let mut new_sources = 0;
    let staged_mirror = staging.path().join("mirror");
    for rel in walk(&staged_mirror)? {
        let (from, to) = (staged_mirror.join(&rel), mirror.join(&rel));
        if from.is_dir() {
            continue;
        }
        // A link already there to the same target stays, as does a file
        // already there with the digest the manifest checked.
        if let Ok(target) = std::fs::read_link(&from) {
            if std::fs::read_link(&to).is_ok_and(|there| there == target) {
                continue;
            }
        }
        let key = Path::new("mirror").join(&rel).display().to_string();
        if let Some(sha) = seen.get(&key) {
            let len = |p: &Path| {
                std::fs::symlink_metadata(p)
                    .ok()
                    .filter(|m| m.is_file())
                    .map(|m| m.len())
            };
            if len(&to).is_some()
                && len(&to) == len(&from)
                && crate::package::sha256_file(&to)? == *sha
            {
                continue;
            }
        }
        let parent = to.parent().expect("under the mirror dir");
        std::fs::create_dir_all(parent).map_err(|e| Error::io("creating", parent, e))?;
        std::fs::rename(&from, &to).map_err(|e| Error::io("moving a source into", &to, e))?;
        new_sources += 1;
    }
    Ok(Imported {
        manifest,
        signature,
        new_sources,
        trees,
    })
}

/// Moves the `spack`, `spack-packages` and `wheels` trees found in `staged`
/// to [`offline_dir`] (replacing what an earlier import or `mirror create`
/// left there) and writes `spack_root`, `spack_packages_root` and
/// `wheels_dir` to the config file at `config`, first: a config file that
/// cannot take them stops it before anything moved.
pub fn adopt_trees(settings: &Settings, staged: &Path, config: &Path) -> Result<OfflineTrees> {
    let offline = offline_dir(settings);
    crate::fsutil::create_private_dir_all(&offline)
        .map_err(|e| Error::io("creating", &offline, e))?;
    let updates: BTreeMap<String, String> = TREES
        .iter()
        .map(|(tree, key)| (key.to_string(), offline.join(tree).display().to_string()))
        .collect();
    crate::settings::update_file(config, &updates)?;
    for (tree, _) in TREES {
        let dest = offline.join(tree);
        let old = offline.join(format!(".{tree}.old-{}", std::process::id()));
        if dest.exists() {
            std::fs::rename(&dest, &old).map_err(|e| Error::io("moving aside", &dest, e))?;
        }
        std::fs::rename(staged.join(tree), &dest)
            .map_err(|e| Error::io("moving into place", &dest, e))?;
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(|e| Error::io("removing", &old, e))?;
        }
    }
    Ok(OfflineTrees {
        spack_root: offline.join("spack"),
        spack_packages_root: offline.join("spack-packages"),
        wheels_dir: offline.join("wheels"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::XdgDirs;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// A connected machine's offline site (spack_source's test site): a site
    /// config and a byte-code cache in the Spack tree, a source in the mirror
    /// layer by name and by digest.
    fn site(root: &Path) -> Settings {
        let s = crate::caches::spack_source::tests::site(root);
        let spack = s.spack_root.clone().unwrap();
        write(&spack.join("etc/spack/packages.yaml"), "packages: {}\n");
        write(&spack.join("lib/__pycache__/x.pyc"), "byte code");
        let mirror = CacheDirs::new(&s).mirror;
        write(&mirror.join("lz4/lz4-1.9.4.tar.gz"), "lz4 source");
        write(
            &mirror.join("_source-cache/archive/0b/0b0e.tar.gz"),
            "lz4 source",
        );
        s
    }

    #[test]
    fn a_bundle_carries_the_site_to_an_air_gapped_machine() {
        let online = tempfile::tempdir().unwrap();
        let s = site(online.path());
        // A Spack mirror's readable name: a link into its own layout.
        std::os::unix::fs::symlink(
            "lz4-1.9.4.tar.gz",
            CacheDirs::new(&s).mirror.join("lz4/lz4-latest.tar.gz"),
        )
        .unwrap();
        let bundle = online.path().join("site.tar.zst");
        let exported = export(&s, &bundle, false, None).unwrap();
        assert_eq!(
            exported.manifest.links,
            BTreeMap::from([(
                "mirror/lz4/lz4-latest.tar.gz".to_string(),
                "lz4-1.9.4.tar.gz".to_string()
            )])
        );
        let names: Vec<(&str, u64)> = exported
            .manifest
            .parts
            .iter()
            .map(|p| (p.name.as_str(), p.files))
            .collect();
        assert_eq!(
            names,
            [
                ("mirror", 3),
                ("wheels", 1),
                ("spack", 2),
                ("spack-packages", 1)
            ],
            "byte-code caches stay behind"
        );
        assert_eq!(
            exported.sha256,
            crate::package::sha256_file(&bundle).unwrap()
        );
        let again = export(&s, &bundle, false, None).unwrap_err();
        assert!(matches!(again, Error::ExportTargetExists { .. }), "{again}");

        let offline = tempfile::tempdir().unwrap();
        let target = Settings::under(offline.path());
        let config = offline.path().join("config/slurm-factory/config.toml");
        write(&config, "min_free_disk_mib = 3000\n");
        write(
            &CacheDirs::new(&target)
                .mirror
                .join("zlib/zlib-1.3.1.tar.gz"),
            "zlib",
        );
        let imported = import(&target, &bundle, &config, None).unwrap();
        assert_eq!(imported.new_sources, 3);
        assert_eq!(imported.manifest, exported.manifest);
        let mirror = CacheDirs::new(&target).mirror;
        assert_eq!(
            std::fs::read_to_string(mirror.join("lz4/lz4-1.9.4.tar.gz")).unwrap(),
            "lz4 source"
        );
        assert!(
            mirror.join("zlib/zlib-1.3.1.tar.gz").exists(),
            "what was there stays"
        );
        assert_eq!(
            std::fs::read_link(mirror.join("lz4/lz4-latest.tar.gz")).unwrap(),
            Path::new("lz4-1.9.4.tar.gz")
        );
        let config_text = std::fs::read_to_string(&config).unwrap();
        assert!(
            config_text.contains("min_free_disk_mib = 3000"),
            "{config_text}"
        );
        let vars = BTreeMap::from([(
            "SLURM_FACTORY_CONFIG".to_string(),
            config.display().to_string(),
        )]);
        let loaded = crate::settings::load(
            &XdgDirs {
                config: offline.path().join("config"),
                data: offline.path().join("data"),
                cache: offline.path().join("cache"),
            },
            &vars,
        )
        .unwrap()
        .settings;
        // The imported site is a complete offline source.
        let source = SpackSource::from_settings(&loaded, true).unwrap();
        let original = SpackSource::from_settings(&s, true).unwrap();
        assert_eq!(source.key_parts().unwrap(), original.key_parts().unwrap());

        // A second import of the same bundle replaces the trees, adds no source.
        let twice = import(&target, &bundle, &config, None).unwrap();
        assert_eq!(twice.new_sources, 0);
        let leftovers: Vec<_> = std::fs::read_dir(offline_dir(&target))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let mut leftovers = leftovers;
        leftovers.sort();
        assert_eq!(leftovers, ["spack", "spack-packages", "wheels"]);
    }

    #[test]
    fn a_tampered_bundle_changes_nothing() {
        let online = tempfile::tempdir().unwrap();
        let s = site(online.path());
        let bundle = online.path().join("site.tar.zst");
        let exported = export(&s, &bundle, false, None).unwrap();
        // The same files under a manifest that promises other bytes for one.
        let mut manifest = exported.manifest.clone();
        manifest
            .files
            .insert("mirror/lz4/lz4-1.9.4.tar.gz".into(), "0".repeat(64));
        let tampered = online.path().join("tampered.tar.zst");
        let mut entries = Vec::new();
        for (name, root) in parts(&s).unwrap() {
            for rel in walk(&root).unwrap() {
                entries.push((root.join(&rel), Path::new(name).join(rel)));
            }
        }
        write_bundle(&tampered, &manifest, &entries).unwrap();

        let offline = tempfile::tempdir().unwrap();
        let target = Settings::under(offline.path());
        let config = offline.path().join("config.toml");
        let err = import(&target, &tampered, &config, None).unwrap_err();
        assert!(
            err.to_string()
                .contains("mirror/lz4/lz4-1.9.4.tar.gz: sha256"),
            "{err}"
        );
        assert_eq!(err.kind(), crate::ExitKind::Usage);
        assert!(
            err.hint().contains("nothing was imported"),
            "{}",
            err.hint()
        );
        assert!(!config.exists(), "no setting written");
        assert!(!CacheDirs::new(&target).mirror.exists(), "no source added");
        let left: Vec<_> = std::fs::read_dir(offline_dir(&target)).unwrap().collect();
        assert!(left.is_empty(), "the staging dir is gone");

        // Links, one the manifest does not list and one it lists out of the
        // bundle, and a FIFO: each refused, nothing imported.
        let planted = online.path().join("planted");
        std::fs::create_dir_all(&planted).unwrap();
        std::os::unix::fs::symlink("../../etc/shadow", planted.join("out")).unwrap();
        std::os::unix::fs::symlink("../../../etc", planted.join("up")).unwrap();
        let cases = [
            (
                "out",
                "spack/bin/spack-real",
                false,
                "the manifest does not list",
            ),
            ("up", "spack/lib/up", true, "a link out of the bundle"),
        ];
        for (planted_name, in_bundle, listed, says) in cases {
            let mut manifest = exported.manifest.clone();
            if listed {
                let target = std::fs::read_link(planted.join(planted_name)).unwrap();
                manifest
                    .links
                    .insert(in_bundle.into(), target.display().to_string());
            }
            let mut with = entries.clone();
            with.push((planted.join(planted_name), PathBuf::from(in_bundle)));
            let bad = online.path().join(format!("{planted_name}.tar.zst"));
            write_bundle(&bad, &manifest, &with).unwrap();
            let err = import(&target, &bad, &config, None).unwrap_err();
            assert!(err.to_string().contains(says), "{in_bundle}: {err}");
            assert!(!config.exists(), "{in_bundle}: a setting written");
        }
        // A FIFO (a device would do the same) after the whole site.
        let fifo = online.path().join("fifo.tar.zst");
        write_bundle(&fifo, &exported.manifest, &entries).unwrap();
        let mut tar_bytes = Vec::new();
        zstd::stream::read::Decoder::new(File::open(&fifo).unwrap())
            .unwrap()
            .read_to_end(&mut tar_bytes)
            .unwrap();
        tar_bytes.truncate(tar_bytes.len() - 1024); // the two closing blocks
        let mut builder = tar::Builder::new(tar_bytes);
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Fifo);
        header.set_size(0);
        header.set_mode(0o644);
        builder
            .append_data(&mut header, "mirror/fifo", std::io::empty())
            .unwrap();
        let tar_bytes = builder.into_inner().unwrap();
        std::fs::write(&fifo, zstd::encode_all(tar_bytes.as_slice(), 3).unwrap()).unwrap();
        let err = import(&target, &fifo, &config, None).unwrap_err();
        assert!(
            err.to_string().contains("neither a file, a directory"),
            "{err}"
        );
        assert!(!CacheDirs::new(&target).mirror.exists(), "no source added");

        let garbage = online.path().join("garbage.tar.zst");
        std::fs::write(&garbage, "not a bundle").unwrap();
        let err = import(&target, &garbage, &config, None).unwrap_err();
        assert!(matches!(err, Error::BundleInvalid { .. }), "{err}");
    }

    /// Signed with the site's key, checked with its public key on the
    /// air-gapped host: the manifest's checksums are the signer's.
    #[test]
    fn a_signed_bundle_imports_only_with_a_good_signature_by_the_key() {
        let online = tempfile::tempdir().unwrap();
        let s = site(online.path());
        let key_dir = |name: &str| {
            let dir = online.path().join(name);
            std::fs::create_dir_all(&dir).unwrap();
            dir
        };
        let (secret, public) = crate::publish::tests::make_key(&key_dir("site-key"));
        let (_, stranger) = crate::publish::tests::make_key(&key_dir("other-key"));
        let bundle = online.path().join("site.tar.zst");
        let exported = export(&s, &bundle, false, Some(secret.to_str().unwrap())).unwrap();
        let signed_by = exported.signed_by.clone().expect("signed");

        let offline = tempfile::tempdir().unwrap();
        let target = Settings::under(offline.path());
        let config = offline.path().join("config.toml");
        for (key, says) in [(&stranger, "signature"), (&public, "")] {
            let result = import(&target, &bundle, &config, Some(key));
            if says.is_empty() {
                let imported = result.unwrap();
                assert_eq!(imported.signature.unwrap().fingerprint, signed_by);
            } else {
                let err = result.unwrap_err();
                assert!(matches!(err, Error::SignatureInvalid { .. }), "{err}");
                assert!(!config.exists(), "imported with another key's signature");
            }
        }
        // A byte changed after signing, or no signature: refused.
        let mut bytes = std::fs::read(&bundle).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&bundle, &bytes).unwrap();
        let err = import(&target, &bundle, &config, Some(&public)).unwrap_err();
        assert!(err.to_string().contains("BAD signature"), "{err}");
        std::fs::remove_file(crate::publish::signature_path(&bundle)).unwrap();
        let err = import(&target, &bundle, &config, Some(&public)).unwrap_err();
        assert!(err.to_string().contains("no signature"), "{err}");
    }

    #[test]
    fn export_names_a_missing_setting() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = site(tmp.path());
        s.wheels_dir = None;
        let dest = tmp.path().join("x.tar.zst");
        let err = export(&s, &dest, false, None).unwrap_err();
        assert!(err.to_string().contains("wheels_dir"), "{err}");
        assert!(!dest.exists());
    }
}
