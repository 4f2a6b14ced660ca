//! The host side of the package stage: check a relocated tree ([`inspect`]), archive it
//! ([`archive()`]) and describe it ([`Manifest`]). The tree itself is made inside the build
//! container by `templates/scripts/relocate.sh`.

mod archive;
mod inspect;
mod manifest;

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

pub use archive::{archive, ArchiveFile, ArchiveFormat};
pub use inspect::{
    dotted, driver_libraries, glibc_floor, inspect, Allowlist, Inspection, InspectionSummary,
    Problem, VersionNeed, Warning,
};
pub use manifest::{
    ArchiveEntry, Manifest, Sizes, StageTiming, VerifyCheck, VerifyResult, MANIFEST_FILE,
};

/// Lower-case hex SHA-256 of a file's contents.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file =
        std::fs::File::open(path).map_err(|e| Error::io("opening a file to hash", path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| Error::io("reading a file to hash", path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(crate::fsutil::hex(&hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(
            sha256_file(&p).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
