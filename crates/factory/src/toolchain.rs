//! Target-OS toolchains: the OS a package is built on decides the oldest
//! system it runs on (its glibc floor). A toolchain is data, a file per OS in
//! the templates (`toolchains/<name>.toml`), overridable like every template:
//! the build image and the clean verify image, how provision installs the
//! build tools (apt or dnf), and the OS's glibc and gcc.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Toolchain {
    /// The file's name: `debian12`, `rocky9`, ...
    #[serde(default)]
    pub name: String,
    pub description: String,
    /// The image builds start from (an LXD alias, local or `remote:alias`).
    pub image: String,
    /// The clean image packages are verified in.
    pub verify_image: String,
    pub package_manager: PackageManager,
    /// The OS's glibc: packages built on it need at most this.
    pub glibc: String,
    pub gcc: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum PackageManager {
    Apt,
    Dnf,
}

impl PackageManager {
    pub fn as_str(self) -> &'static str {
        match self {
            PackageManager::Apt => "apt",
            PackageManager::Dnf => "dnf",
        }
    }
}

/// A toolchain name as requests carry it: `debian12`, `ubuntu24.04`.
pub fn validate_name(name: &str) -> Result<String> {
    match crate::kinds::is_lowercase_name(name, 32, b".") {
        true => Ok(name.into()),
        false => Err(Error::UnknownToolchain {
            name: name.into(),
            known: Vec::new(),
        }),
    }
}

impl Toolchain {
    /// The toolchain file `name` holds `text`: parsed, its glibc a version.
    /// (Its images are checked as settings are, by `Settings::with_toolchain`.)
    pub fn parse(name: &str, file: &str, text: &str) -> Result<Toolchain> {
        let invalid = |message: String| Error::RecipeInvalid {
            file: file.into(),
            message,
        };
        let mut toolchain: Toolchain =
            toml::from_str(text).map_err(|e| invalid(e.message().to_string()))?;
        toolchain.name = name.into();
        if crate::package::dotted(&toolchain.glibc).is_none() {
            return Err(invalid(format!(
                "glibc = {:?} is not a version like 2.36",
                toolchain.glibc
            )));
        }
        Ok(toolchain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recipe::Templates;

    #[test]
    fn every_builtin_toolchain_loads_with_its_glibc() {
        let templates = Templates::load(None).unwrap();
        let all = templates.toolchains().unwrap();
        let names: Vec<&str> = all.iter().map(|t| t.name.as_str()).collect();
        for wanted in [
            "debian12",
            "debian13",
            "ubuntu22.04",
            "ubuntu24.04",
            "ubuntu26.04",
            "rocky8",
            "rocky9",
            "rocky10",
        ] {
            assert!(names.contains(&wanted), "{wanted} in {names:?}");
        }
        let rocky8 = templates.toolchain("rocky8").unwrap();
        assert_eq!(rocky8.package_manager, PackageManager::Dnf);
        assert_eq!(rocky8.glibc, "2.28");
        for t in &all {
            validate_name(&t.name).unwrap();
        }
    }

    #[test]
    fn unknown_and_malformed_toolchains_are_named() {
        let templates = Templates::load(None).unwrap();
        match templates.toolchain("solaris11") {
            Err(Error::UnknownToolchain { known, .. }) => {
                assert!(known.contains(&"debian12".to_string()), "{known:?}")
            }
            other => panic!("{other:?}"),
        }
        assert!(validate_name("Debian 12; rm -rf /").is_err());
        assert!(validate_name("debian12").is_ok());

        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("toolchains");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("site.toml"),
            "description = \"x\"\nimage = \"a b\"\nverify_image = \"v\"\n\
             package_manager = \"apt\"\nglibc = \"2.36\"\ngcc = \"12\"\n",
        )
        .unwrap();
        let user = Templates::load(Some(tmp.path())).unwrap();
        let site = user.toolchain("site").unwrap();
        let settings = crate::settings::Settings::defaults(&crate::settings::XdgDirs {
            config: "/c".into(),
            data: "/d".into(),
            cache: "/k".into(),
        });
        let err = settings.with_toolchain(Some(&site)).unwrap_err();
        assert!(err.to_string().contains("image"), "{err}");
    }
}
