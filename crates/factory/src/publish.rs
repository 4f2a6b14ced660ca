//! Publishing for a cluster: a build's Spack binaries pushed to a buildcache
//! (`file://DIR`, `s3://BUCKET/PATH`, `oci://REGISTRY/REPO`), its archives and
//! manifest beside them, all signed with a GPG key of the user's; and builds
//! that install from such a buildcache, refusing entries that fail the
//! signature check.
//!
//! The secret key never reaches an argv, an environment variable, a log or
//! a base image: it is read here (a key file, or `gpg --export-secret-keys`
//! of a keyring's key id) and signs in a throwaway GnuPG home that is
//! removed after; the build instance gets it on stdin for the push only.

use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub use crate::options::BuildcacheScope;

/// What `build --publish` does after the package is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PublishOptions {
    /// `file:///DIR`, `s3://BUCKET/PATH`, `oci://REGISTRY/REPO` (HTTPS) or
    /// `oci+http://…`.
    pub to: String,
    pub buildcache: BuildcacheScope,
    /// A GPG key id of the user's keyring, or a file holding a secret key.
    pub sign: Option<String>,
    /// A file with the login: an OCI registry's `username=` and `password=`
    /// lines, or an S3 access key (`aws_access_key_id`, `aws_secret_access_key`).
    #[serde(default)]
    pub credentials: Option<String>,
    /// A CA certificate (PEM file) the registry's or object store's TLS
    /// certificate is signed by, trusted for the push besides the system's.
    #[serde(default)]
    pub registry_ca: Option<String>,
    /// The S3 endpoint for `s3://` (`https://HOST[:PORT]`, or `http://` on a
    /// private network); none: Amazon S3.
    #[serde(default)]
    pub s3_endpoint: Option<String>,
}

/// Reads a credentials file: a registry's `username=NAME` and
/// `password=SECRET` lines, or an S3 key as in `~/.aws/credentials`
/// (`aws_access_key_id = ID`, `aws_secret_access_key = SECRET`; the first
/// pair counts). `#` comments, blank lines and `[profile]` headers are
/// allowed. Returns the login as `username=` and `password=` lines, which is
/// all the build instance ever gets.
pub fn read_credentials(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("reading the credentials", path, e))?;
    let text = String::from_utf8_lossy(&bytes);
    let value = |keys: [&str; 2]| {
        text.lines().find_map(|line| {
            let (key, value) = line.split_once('=')?;
            let value = value.trim();
            (keys.contains(&key.trim()) && !value.is_empty()).then_some(value)
        })
    };
    let user = value(["username", "aws_access_key_id"]);
    let secret = value(["password", "aws_secret_access_key"]);
    match (user, secret) {
        (Some(user), Some(secret)) => {
            Ok(format!("username={user}\npassword={secret}\n").into_bytes())
        }
        _ => Err(invalid(
            "credentials file",
            &path.display().to_string(),
            "it needs `username=NAME` and `password=SECRET` lines (a registry), or \
             `aws_access_key_id` and `aws_secret_access_key` (S3, as in ~/.aws/credentials)",
        )),
    }
}

/// Where a buildcache lives, as the build instance reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A directory of this machine, mounted into the instance.
    Dir(PathBuf),
    /// An OCI registry; `loopback_port` when it listens on this machine's
    /// loopback, which an LXD proxy device brings into the instance.
    Oci { loopback_port: Option<u16> },
    /// An S3 bucket, at Amazon or at `endpoint` ([`PublishOptions::check`]
    /// sets it).
    S3 { endpoint: Option<Endpoint> },
}

/// An S3 endpoint URL, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    /// The port when it listens on this machine's loopback.
    pub loopback_port: Option<u16>,
}

impl Place {
    /// The port of this machine's loopback the instance must reach, if any.
    pub fn loopback_port(&self) -> Option<u16> {
        match self {
            Place::Oci { loopback_port } => *loopback_port,
            Place::S3 {
                endpoint: Some(endpoint),
            } => endpoint.loopback_port,
            Place::S3 { endpoint: None } | Place::Dir(_) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildcacheUrl {
    /// The URL as the user gave it (normalised for `file://`).
    pub url: String,
    pub place: Place,
}

impl BuildcacheUrl {
    /// The URL Spack is given in an instance where a `Dir` is mounted at `mount`.
    pub fn in_instance(&self, mount: &str) -> String {
        match &self.place {
            Place::Dir(_) => format!("file://{mount}"),
            Place::Oci { .. } | Place::S3 { .. } => self.url.clone(),
        }
    }

    pub fn is_oci(&self) -> bool {
        matches!(self.place, Place::Oci { .. })
    }

    /// `file`, `oci` or `s3`: what the scripts are told, so none of them
    /// reads it from the URL again.
    pub fn kind(&self) -> &'static str {
        match self.place {
            Place::Dir(_) => "file",
            Place::Oci { .. } => "oci",
            Place::S3 { .. } => "s3",
        }
    }

    pub fn is_s3(&self) -> bool {
        matches!(self.place, Place::S3 { .. })
    }

    /// A registry reached without TLS (`oci+http://`).
    pub fn is_plain_http(&self) -> bool {
        self.url.starts_with("oci+http://")
    }

    /// A registry or a bucket: reached over the network (with a login, a
    /// CA), not a directory of this machine.
    pub fn is_networked(&self) -> bool {
        !matches!(self.place, Place::Dir(_))
    }

    /// Points an `s3://` buildcache at `endpoint`; false for any other kind.
    pub fn set_endpoint(&mut self, endpoint: &Endpoint) -> bool {
        match &mut self.place {
            Place::S3 { endpoint: at } => {
                *at = Some(endpoint.clone());
                true
            }
            Place::Dir(_) | Place::Oci { .. } => false,
        }
    }
}

fn invalid(what: &'static str, value: &str, reason: impl Into<String>) -> Error {
    Error::InvalidValue {
        what,
        value: value.into(),
        reason: reason.into(),
    }
}

/// Parses a buildcache URL (`what` names it in errors: "publish URL").
pub fn parse_url(what: &'static str, url: &str) -> Result<BuildcacheUrl> {
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid(what, url, "no spaces or control characters"));
    }
    if let Some(path) = url.strip_prefix("file://") {
        let path = Path::new(path);
        if !path.is_absolute() {
            return Err(invalid(
                what,
                url,
                "file:// takes an absolute path: file:///srv/cache",
            ));
        }
        if path.components().any(|c| c == Component::ParentDir) {
            return Err(invalid(what, url, "no `..` in the path"));
        }
        let dir: PathBuf = path.components().collect();
        return Ok(BuildcacheUrl {
            url: format!("file://{}", dir.display()),
            place: Place::Dir(dir),
        });
    }
    let (rest, default_port) = if let Some(rest) = url.strip_prefix("oci://") {
        (rest, 443)
    } else if let Some(rest) = url.strip_prefix("oci+http://") {
        (rest, 80)
    } else if let Some(rest) = url.strip_prefix("s3://") {
        return parse_s3(what, url, rest);
    } else {
        return Err(invalid(
            what,
            url,
            "give file:///DIR, s3://BUCKET/PATH, oci://REGISTRY/REPO or \
             oci+http://REGISTRY/REPO",
        ));
    };
    let (host, repo) = rest.split_once('/').ok_or_else(|| {
        invalid(
            what,
            url,
            "an OCI URL names a repository: oci://REGISTRY/REPO",
        )
    })?;
    let loopback_port = checked_host(
        what,
        url,
        host,
        default_port,
        &format!("`{host}` is not a registry host"),
    )?;
    let repo_ok = !repo.is_empty()
        && !repo.starts_with('/')
        && !repo.ends_with('/')
        && repo
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/".contains(&b));
    if !repo_ok {
        return Err(invalid(
            what,
            url,
            "the repository is lowercase letters, digits and . _ - / (OCI's rule)",
        ));
    }
    Ok(BuildcacheUrl {
        url: url.into(),
        place: Place::Oci { loopback_port },
    })
}

/// `s3://BUCKET[/PATH]`: S3's bucket naming rule (3 to 63 lowercase
/// letters, digits, `.` and `-`) and a plain key prefix.
fn parse_s3(what: &'static str, url: &str, rest: &str) -> Result<BuildcacheUrl> {
    let rest = rest.trim_end_matches('/');
    let (bucket, path) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !bucket_ok {
        return Err(invalid(
            what,
            url,
            format!("`{bucket}` is not a bucket name (3 to 63 lowercase letters, digits, . and -)"),
        ));
    }
    let path_ok = path.split('/').all(|part| {
        !part.is_empty()
            && part != ".."
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b))
    });
    if !path.is_empty() && !path_ok {
        return Err(invalid(
            what,
            url,
            "the path is letters, digits and . _ - + between single slashes",
        ));
    }
    Ok(BuildcacheUrl {
        url: format!("s3://{rest}"),
        place: Place::S3 { endpoint: None },
    })
}

/// `--s3-endpoint`: `http(s)://HOST[:PORT]`, nothing more.
pub fn parse_endpoint(url: &str) -> Result<Endpoint> {
    let what = "S3 endpoint";
    let (rest, default_port) = if let Some(rest) = url.strip_prefix("https://") {
        (rest, 443)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (rest, 80)
    } else {
        return Err(invalid(what, url, "give https://HOST[:PORT] (or http://)"));
    };
    let host = rest.strip_suffix('/').unwrap_or(rest);
    let loopback_port = checked_host(
        what,
        url,
        host,
        default_port,
        "a scheme, a host and a port at most: https://HOST[:PORT]",
    )?;
    Ok(Endpoint {
        url: url.trim_end_matches('/').into(),
        loopback_port,
    })
}

/// Checks `HOST[:PORT]` (`default_port` without a port); returns the port
/// when the host is this machine's loopback. `bad_host` is the reason given
/// for a host that is not a plain name or address.
fn checked_host(
    what: &'static str,
    url: &str,
    host: &str,
    default_port: u16,
    bad_host: &str,
) -> Result<Option<u16>> {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) => (
            name,
            port.parse::<u16>()
                .map_err(|_| invalid(what, url, format!("`{port}` is not a port")))?,
        ),
        None => (host, default_port),
    };
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if !name_ok {
        return Err(invalid(what, url, bad_host));
    }
    Ok(matches!(name, "127.0.0.1" | "localhost").then_some(port))
}

/// What [`PublishOptions::check`] read and checked: the destination, and
/// the registry login and CA a push takes into the build instance (read
/// once, here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedPublish {
    pub to: BuildcacheUrl,
    pub credentials: Option<Vec<u8>>,
    pub registry_ca: Option<Vec<u8>>,
}

impl PublishOptions {
    /// Checks the options as a whole, reading the files they name.
    pub fn check(&self) -> Result<CheckedPublish> {
        let mut to = parse_url("publish URL", &self.to)?;
        if let Some(url) = &self.s3_endpoint {
            if !to.set_endpoint(&parse_endpoint(url)?) {
                return Err(invalid(
                    "S3 endpoint",
                    url,
                    "an endpoint is for an s3:// publish URL",
                ));
            }
        }
        if to.is_oci() && self.sign.is_some() && self.buildcache != BuildcacheScope::None {
            return Err(invalid(
                "publish URL",
                &self.to,
                "Spack cannot sign OCI buildcaches: publish signed to a file:// directory or an \
                 s3:// bucket, or push to the registry without --sign (with --buildcache none \
                 only the archives go there, and they are signed)",
            ));
        }
        if let Some(key) = &self.sign {
            key_source(key)?;
        }
        let credentials =
            match &self.credentials {
                Some(file) if !to.is_networked() => return Err(invalid(
                    "credentials file",
                    file,
                    "credentials are for an OCI registry or S3; a file:// buildcache needs none",
                )),
                Some(file) => Some(read_credentials(Path::new(file))?),
                None => None,
            };
        let registry_ca = match &self.registry_ca {
            Some(file) if !to.url.starts_with("oci://") && !to.is_s3() => {
                return Err(invalid(
                    "registry CA",
                    file,
                    "a CA certificate is for an oci:// registry or an S3 endpoint (HTTPS)",
                ))
            }
            Some(file) => Some(read_certificate(Path::new(file))?),
            None => None,
        };
        Ok(CheckedPublish {
            to,
            credentials,
            registry_ca,
        })
    }
}

/// Reads a PEM CA certificate; refuses a file that holds none.
pub fn read_certificate(path: &Path) -> Result<Vec<u8>> {
    let bytes =
        std::fs::read(path).map_err(|e| Error::io("reading the CA certificate", path, e))?;
    if !String::from_utf8_lossy(&bytes).contains("-----BEGIN CERTIFICATE-----") {
        return Err(invalid(
            "registry CA",
            &path.display().to_string(),
            "not a PEM certificate (-----BEGIN CERTIFICATE-----)",
        ));
    }
    Ok(bytes)
}

/// Where a signing key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    File(PathBuf),
    /// A key id, fingerprint or e-mail address in the user's keyring.
    Keyring(String),
}

/// `--sign KEY`: an existing file is a key file, else a key id.
pub fn key_source(key: &str) -> Result<KeySource> {
    let path = Path::new(key);
    if path.is_file() {
        return Ok(KeySource::File(path.to_path_buf()));
    }
    let id_ok = !key.is_empty()
        && !key.starts_with('-')
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@._+-<>".contains(&b));
    if !id_ok || key.contains('/') {
        return Err(invalid(
            "signing key",
            key,
            "neither a key file nor a key id (`gpg --list-secret-keys` shows your keys)",
        ));
    }
    Ok(KeySource::Keyring(key.into()))
}

fn gpg_failed(what: &str, stderr: &[u8]) -> Error {
    Error::Signing {
        message: format!("{what}: {}", String::from_utf8_lossy(stderr).trim()),
    }
}

fn spawn_gpg(mut cmd: Command) -> Result<std::process::Child> {
    cmd.spawn().map_err(|e| Error::Signing {
        message: format!("cannot run gpg: {e} (install it: `apt-get install gpg`)"),
    })
}

/// Runs gpg with `stdin` fed to it; returns stdout.
fn run_gpg(mut cmd: Command, stdin: &[u8], what: &str) -> Result<Vec<u8>> {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = spawn_gpg(cmd)?;
    let mut input = child.stdin.take().expect("stdin is piped");
    // Written from a thread: gpg may fill its stdout pipe before reading all of stdin.
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || input.write_all(&stdin));
    let out = child
        .wait_with_output()
        .map_err(|e| gpg_failed(what, e.to_string().as_bytes()))?;
    let _ = writer.join();
    if !out.status.success() {
        return Err(gpg_failed(what, &out.stderr));
    }
    Ok(out.stdout)
}

/// The armored secret key `source` names.
pub fn secret_key(source: &KeySource) -> Result<Vec<u8>> {
    match source {
        KeySource::File(path) => {
            std::fs::read(path).map_err(|e| Error::io("reading the signing key", path, e))
        }
        KeySource::Keyring(id) => {
            let key = export_signing_key(|| Command::new("gpg"), id)?;
            if key.is_empty() {
                return Err(Error::Signing {
                    message: format!(
                        "your keyring has no secret key `{id}` (`gpg --list-secret-keys` \
                         lists them)"
                    ),
                });
            }
            Ok(key)
        }
    }
}

/// The secret key `id` of the keyring `gpg` runs with, armored: only its
/// signing subkey when it has one (the primary key, which certifies, stays
/// in the keyring: what leaves it is a stub of it), else the whole key.
fn export_signing_key(gpg: impl Fn() -> Command, id: &str) -> Result<Vec<u8>> {
    let mut list = gpg();
    list.args(["--batch", "--with-colons", "--list-secret-keys", "--", id]);
    // No such key: an empty export, which the caller names.
    let listing = run_gpg(list, b"", "listing the signing key").unwrap_or_default();
    let listing = String::from_utf8_lossy(&listing);
    let mut lines = listing.lines().map(|l| l.split(':').collect::<Vec<_>>());
    // A usable signing subkey (`ssb`, capability `s`, not revoked or
    // expired), then its fingerprint on the `fpr` line after it.
    let mut subkey = None;
    while let Some(fields) = lines.next() {
        let signs = fields.first() == Some(&"ssb")
            && fields.get(11).is_some_and(|caps| caps.contains('s'))
            && !matches!(fields.get(1), Some(&"r" | &"e"));
        if signs {
            subkey = lines
                .next()
                .filter(|f| f.first() == Some(&"fpr"))
                .and_then(|f| f.get(9).map(|fpr| fpr.to_string()));
            break;
        }
    }
    let mut cmd = gpg();
    cmd.args(["--batch", "--armor"]);
    match subkey {
        // `!`: that subkey exactly.
        Some(fpr) => cmd.args(["--export-secret-subkeys", "--", &format!("{fpr}!")]),
        None => cmd.args(["--export-secret-keys", "--", id]),
    };
    run_gpg(cmd, b"", "exporting the signing key")
}

/// Signs each of `files` (`<file>.asc` beside it) with the secret key
/// `key`, in a throwaway keyring; returns the key's fingerprint and the
/// signatures.
pub fn sign_files(key: &[u8], files: &[PathBuf]) -> Result<(String, Vec<PathBuf>)> {
    let keyring = TempKeyring::new()?;
    keyring.import(key)?;
    let fingerprint = keyring.fingerprint()?;
    let sigs = files
        .iter()
        .map(|f| keyring.sign(&fingerprint, f))
        .collect::<Result<Vec<_>>>()?;
    Ok((fingerprint, sigs))
}

/// A GnuPG home of its own, removed (its agent stopped) when dropped.
pub struct TempKeyring {
    home: tempfile::TempDir,
}

impl TempKeyring {
    pub fn new() -> Result<TempKeyring> {
        let dir = Self::memory_dir();
        let home = tempfile::Builder::new()
            .prefix("sf-gnupg.")
            .tempdir_in(&dir)
            .map_err(|e| Error::io("creating a GnuPG home", &dir, e))?;
        Ok(TempKeyring { home })
    }

    /// Where the home goes: a secret key imported there (unprotected, to
    /// sign in batch) stays in memory, never on a disk: the user's runtime
    /// dir, else /dev/shm; /tmp where neither is. A short path each:
    /// gpg-agent's socket path must stay short.
    fn memory_dir() -> PathBuf {
        std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .into_iter()
            .chain([PathBuf::from("/dev/shm")])
            .find(|dir| dir.is_absolute() && is_writable_dir(dir))
            .unwrap_or_else(|| PathBuf::from("/tmp"))
    }

    fn gpg(&self) -> Command {
        let mut cmd = Command::new("gpg");
        cmd.arg("--batch").arg("--homedir").arg(self.home.path());
        cmd
    }

    /// Imports keys (armored or binary) given on stdin.
    pub fn import(&self, keys: &[u8]) -> Result<()> {
        let mut cmd = self.gpg();
        cmd.args(["--quiet", "--import"]);
        run_gpg(cmd, keys, "importing the key").map(drop)
    }

    /// The fingerprint of the first secret key, else of the first key.
    pub fn fingerprint(&self) -> Result<String> {
        for list in ["--list-secret-keys", "--list-keys"] {
            let mut cmd = self.gpg();
            cmd.args(["--with-colons", list]);
            let out = run_gpg(cmd, b"", "listing the key")?;
            let text = String::from_utf8_lossy(&out);
            if let Some(fpr) = text.lines().find_map(|l| {
                l.strip_prefix("fpr:")
                    .map(|r| r.trim_matches(':').to_string())
            }) {
                return Ok(fpr);
            }
        }
        Err(Error::Signing {
            message: "the key file holds no key".into(),
        })
    }

    /// Writes an armored detached signature of `file` to `<file>.asc`
    /// (through a temporary file: a reader never sees half a signature).
    pub fn sign(&self, fingerprint: &str, file: &Path) -> Result<PathBuf> {
        let sig = signature_path(file);
        let tmp = sig.with_extension("asc.part");
        let mut cmd = self.gpg();
        cmd.args([
            "--yes",
            "--armor",
            "--detach-sign",
            "--local-user",
            fingerprint,
        ])
        .arg("--output")
        .arg(&tmp)
        .arg(file);
        let signed = run_gpg(cmd, b"", "signing").and_then(|_| {
            std::fs::rename(&tmp, &sig).map_err(|e| Error::io("placing the signature", &sig, e))
        });
        if signed.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        signed.map(|()| sig)
    }
}

impl Drop for TempKeyring {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(self.home.path())
            .args(["--kill", "all"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Whether a directory is there and this process may make entries in it.
fn is_writable_dir(dir: &Path) -> bool {
    dir.is_dir()
        && tempfile::Builder::new()
            .prefix(".sf-probe.")
            .tempfile_in(dir)
            .is_ok()
}

/// `<file>.asc`, where a file's detached signature lives.
pub fn signature_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".asc");
    PathBuf::from(name)
}

/// Who signed a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct GoodSignature {
    #[cfg_attr(feature = "ts", ts(as = "String"))]
    pub file: PathBuf,
    /// The key that made the signature (a subkey, or the primary key).
    pub fingerprint: String,
    /// Its primary key's fingerprint (the one a publisher hands out).
    pub primary: String,
    /// The signer's user id as gpg prints it.
    pub signer: String,
}

/// Checks `file` against `<file>.asc`: with the public key in `key` (a
/// file), else with the user's keyring.
pub fn verify_signature(file: &Path, key: Option<&Path>) -> Result<GoodSignature> {
    let sig = signature_path(file);
    if !sig.is_file() {
        return Err(Error::SignatureInvalid {
            file: file.to_path_buf(),
            detail: format!("no signature: {} is missing", sig.display()),
        });
    }
    let keyring;
    let mut cmd = match key {
        Some(key) => {
            let bytes =
                std::fs::read(key).map_err(|e| Error::io("reading the public key", key, e))?;
            keyring = TempKeyring::new()?;
            keyring.import(&bytes)?;
            keyring.gpg()
        }
        None => {
            let mut cmd = Command::new("gpg");
            cmd.arg("--batch");
            cmd
        }
    };
    cmd.args(["--status-fd", "1", "--verify"])
        .arg(&sig)
        .arg(file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = spawn_gpg(cmd)?
        .wait_with_output()
        .map_err(|e| gpg_failed("verifying", e.to_string().as_bytes()))?;
    let status = String::from_utf8_lossy(&out.stdout);
    let field = |tag: &str| {
        status.lines().find_map(|l| {
            l.strip_prefix("[GNUPG:] ")
                .and_then(|l| l.strip_prefix(tag))
                .map(|r| r.trim().to_string())
        })
    };
    match (out.status.success(), field("VALIDSIG "), field("GOODSIG ")) {
        (true, Some(valid), Some(good)) => Ok(GoodSignature {
            file: file.to_path_buf(),
            fingerprint: valid.split(' ').next().unwrap_or_default().to_string(),
            // VALIDSIG's tenth field; absent from old GnuPG: the same key.
            primary: valid
                .split(' ')
                .nth(9)
                .or_else(|| valid.split(' ').next())
                .unwrap_or_default()
                .to_string(),
            signer: good
                .split_once(' ')
                .map(|(_, u)| u)
                .unwrap_or("")
                .to_string(),
        }),
        _ => {
            let detail = if field("BADSIG ").is_some() {
                "BAD signature: the file was changed after it was signed".to_string()
            } else if field("NO_PUBKEY ").is_some() || field("ERRSIG ").is_some() {
                "signed by a key you do not have: import the publisher's public key, or give \
                 it with --key FILE"
                    .to_string()
            } else {
                String::from_utf8_lossy(&out.stderr).trim().to_string()
            };
            Err(Error::SignatureInvalid {
                file: file.to_path_buf(),
                detail,
            })
        }
    }
}

impl GoodSignature {
    /// Whether `signer` (a fingerprint or the key id it ends with, spaces
    /// and case aside) names the key that signed, or its primary key.
    pub fn is_by(&self, signer: &str) -> bool {
        let wanted: String = signer
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .trim_start_matches("0x")
            .to_ascii_uppercase();
        wanted.len() >= 16
            && [&self.fingerprint, &self.primary]
                .iter()
                .any(|fpr| fpr.to_ascii_uppercase().ends_with(&wanted))
    }
}

/// Copies `files` into `dir` (created), each through a temporary name
/// ([`crate::fsutil::write_atomic_with`]).
pub fn place_files(files: &[PathBuf], dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
    let mut placed = Vec::new();
    for file in files {
        let dest = dir.join(file.file_name().expect("published files have names"));
        crate::fsutil::write_atomic_with(&dest, "publishing", |tmp| {
            std::fs::copy(file, tmp).map(drop)
        })?;
        placed.push(dest);
    }
    Ok(placed)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn urls_parse_into_places() {
        let dir = parse_url("publish URL", "file:///srv/cache/./slurm").unwrap();
        assert_eq!(dir.url, "file:///srv/cache/slurm");
        assert_eq!(dir.place, Place::Dir("/srv/cache/slurm".into()));
        assert_eq!(dir.in_instance("/srv/sf-publish"), "file:///srv/sf-publish");
        let oci = parse_url("publish URL", "oci+http://127.0.0.1:5000/site/slurm").unwrap();
        assert_eq!(
            oci.place,
            Place::Oci {
                loopback_port: Some(5000)
            }
        );
        assert_eq!(
            oci.in_instance("/x"),
            "oci+http://127.0.0.1:5000/site/slurm"
        );
        let s3 = parse_url("publish URL", "s3://site-cache/hpc/slurm/").unwrap();
        assert_eq!(s3.url, "s3://site-cache/hpc/slurm");
        assert_eq!(s3.place, Place::S3 { endpoint: None });
        assert_eq!(s3.in_instance("/x"), "s3://site-cache/hpc/slurm");
        assert!(parse_url("publish URL", "s3://site-cache").is_ok());
        let remote = parse_url("publish URL", "oci://ghcr.io/site/slurm").unwrap();
        assert_eq!(
            remote.place,
            Place::Oci {
                loopback_port: None
            }
        );
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        for (url, says) in [
            ("file://relative/dir", "absolute"),
            ("file:///srv/../etc", ".."),
            ("file:///srv/a b", "spaces"),
            ("oci://ghcr.io", "repository"),
            ("oci://ghcr.io:x/r", "port"),
            ("oci://gh;cr.io/r", "registry host"),
            ("oci://ghcr.io/Site/$(reboot)", "lowercase"),
            ("s3://b/path", "bucket name"),
            ("s3://Bucket/path", "bucket name"),
            ("s3://bucket/a/../b", "the path"),
            ("s3://bucket/a;reboot", "the path"),
            ("https://example.org/cache", "file:///DIR"),
        ] {
            let err = parse_url("publish URL", url).unwrap_err().to_string();
            assert!(err.contains(says), "{url}: {err}");
        }
    }

    #[test]
    fn endpoints_are_a_scheme_a_host_and_a_port() {
        let aws = parse_endpoint("https://s3.eu-west-1.amazonaws.com").unwrap();
        assert_eq!(aws.loopback_port, None);
        assert_eq!(
            parse_endpoint("http://localhost").unwrap().loopback_port,
            Some(80)
        );
        for (url, says) in [
            ("s3.example.org", "https://HOST"),
            ("https://s3.example.org/bucket", "a host and a port"),
            ("https://s3.example.org:99999", "not a port"),
            ("http://a;b", "a host and a port"),
        ] {
            let err = parse_endpoint(url).unwrap_err().to_string();
            assert!(err.contains(says), "{url}: {err}");
        }
    }

    #[test]
    fn credentials_read_as_a_login_of_either_kind() {
        let dir = tempfile::tempdir().unwrap();
        let registry = dir.path().join("registry");
        std::fs::write(
            &registry,
            "# the site's robot\nusername=robot\npassword=s3cr=t\n",
        )
        .unwrap();
        assert_eq!(
            read_credentials(&registry).unwrap(),
            b"username=robot\npassword=s3cr=t\n"
        );
        let aws = dir.path().join("aws");
        std::fs::write(
            &aws,
            "[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = wJalr/K7+x\n\
             [other]\naws_access_key_id = NOT\n",
        )
        .unwrap();
        assert_eq!(
            read_credentials(&aws).unwrap(),
            b"username=AKIAEXAMPLE\npassword=wJalr/K7+x\n"
        );
        let half = dir.path().join("half");
        std::fs::write(&half, "aws_access_key_id = AKIAEXAMPLE\n").unwrap();
        let err = read_credentials(&half).unwrap_err().to_string();
        assert!(err.contains("aws_secret_access_key"), "{err}");
    }

    #[test]
    fn options_refuse_what_spack_cannot_do() {
        let opts = |to: &str, scope, sign: Option<&str>| PublishOptions {
            to: to.into(),
            buildcache: scope,
            sign: sign.map(String::from),
            credentials: None,
            registry_ca: None,
            s3_endpoint: None,
        };
        let signed_oci = opts(
            "oci://r.example/slurm",
            BuildcacheScope::All,
            Some("ABCDEF12"),
        );
        assert!(signed_oci
            .check()
            .unwrap_err()
            .to_string()
            .contains("cannot sign OCI"));
        // Signed archives beside an unsigned (or no) OCI buildcache are fine.
        let signed_files_to_oci = opts(
            "oci://r.example/slurm",
            BuildcacheScope::None,
            Some("ABCDEF12"),
        );
        assert!(signed_files_to_oci.check().is_ok());
        let mut s3 = opts(
            "s3://site-cache/slurm",
            BuildcacheScope::All,
            Some("ABCDEF12"),
        );
        s3.s3_endpoint = Some("http://127.0.0.1:9000/".into());
        let checked = s3.check().unwrap();
        assert_eq!(
            checked.to.place,
            Place::S3 {
                endpoint: Some(Endpoint {
                    url: "http://127.0.0.1:9000".into(),
                    loopback_port: Some(9000)
                })
            }
        );
        assert_eq!(checked.to.place.loopback_port(), Some(9000));
        let mut endpoint_for_dir = opts("file:///srv/c", BuildcacheScope::All, None);
        endpoint_for_dir.s3_endpoint = Some("https://s3.site.example".into());
        assert!(endpoint_for_dir
            .check()
            .unwrap_err()
            .to_string()
            .contains("for an s3://"));
        assert!(
            opts("file:///srv/c", BuildcacheScope::Deps, Some("ABCDEF12"))
                .check()
                .is_ok()
        );
    }

    #[test]
    fn key_ids_and_files_are_told_apart() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let path = file.path().to_str().unwrap();
        assert_eq!(key_source(path).unwrap(), KeySource::File(path.into()));
        assert_eq!(
            key_source("builder@site.example").unwrap(),
            KeySource::Keyring("builder@site.example".into())
        );
        assert!(key_source("--export-options=x").is_err());
        assert!(key_source("/no/such/key.asc").is_err());
        assert!(key_source("key; rm -rf /").is_err());
    }

    #[test]
    fn scopes_parse() {
        assert_eq!(
            "deps".parse::<BuildcacheScope>().unwrap(),
            BuildcacheScope::Deps
        );
        assert!("some".parse::<BuildcacheScope>().is_err());
    }

    /// A real key made by gpg, exported as a secret key file (what `--sign
    /// FILE` takes) and its public half.
    pub(crate) fn make_key(dir: &Path) -> (PathBuf, PathBuf) {
        let home = TempKeyring::new().unwrap();
        let status = home
            .gpg()
            .args([
                "--passphrase",
                "",
                "--quick-gen-key",
                "Site Builder <builder@site.example>",
            ])
            .args(["default", "default", "never"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        let export = |flag: &str, name: &str| {
            let mut cmd = home.gpg();
            cmd.args(["--armor", flag]);
            let key = run_gpg(cmd, b"", "export").unwrap();
            let path = dir.join(name);
            std::fs::write(&path, key).unwrap();
            path
        };
        (
            export("--export-secret-keys", "secret.asc"),
            export("--export", "public.asc"),
        )
    }

    #[test]
    fn a_signed_file_verifies_and_a_changed_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let (secret, public) = make_key(dir.path());
        let file = dir.path().join("slurm.tar.zst");
        std::fs::write(&file, b"the package").unwrap();

        let keyring = TempKeyring::new().unwrap();
        // The unprotected secret lives in memory, not on a disk under /tmp.
        if Path::new("/dev/shm").is_dir() {
            assert!(
                !keyring.home.path().starts_with("/tmp"),
                "{:?}",
                keyring.home
            );
        }
        keyring
            .import(&secret_key(&key_source(secret.to_str().unwrap()).unwrap()).unwrap())
            .unwrap();
        let fpr = keyring.fingerprint().unwrap();
        assert_eq!(keyring.sign(&fpr, &file).unwrap(), signature_path(&file));
        drop(keyring);

        let good = verify_signature(&file, Some(&public)).unwrap();
        assert_eq!(good.fingerprint, fpr);
        assert!(good.is_by(&fpr) && good.is_by(&fpr[fpr.len() - 16..].to_lowercase()));
        assert!(
            !good.is_by(&fpr[fpr.len() - 8..]),
            "a short key id is too weak"
        );
        assert!(!good.is_by("0000000000000000DEADBEEF"));
        assert!(good.signer.contains("builder@site.example"), "{good:?}");

        std::fs::write(&file, b"the package, changed").unwrap();
        let err = verify_signature(&file, Some(&public))
            .unwrap_err()
            .to_string();
        assert!(err.contains("BAD signature"), "{err}");

        std::fs::remove_file(signature_path(&file)).unwrap();
        let err = verify_signature(&file, Some(&public))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no signature"), "{err}");
    }

    /// A key with a signing subkey leaves the keyring as that subkey and a
    /// stub of its primary key, which still signs.
    #[test]
    fn only_the_signing_subkey_leaves_the_keyring() {
        let keyring = TempKeyring::new().unwrap();
        let gen = |args: &[&str]| {
            let mut cmd = keyring.gpg();
            cmd.args(["--passphrase", ""]).args(args);
            run_gpg(cmd, b"", "making a key").unwrap();
        };
        gen(&[
            "--quick-gen-key",
            "Site Builder <builder@site.example>",
            "ed25519",
            "cert",
            "never",
        ]);
        let primary = keyring.fingerprint().unwrap();
        gen(&["--quick-add-key", &primary, "ed25519", "sign", "never"]);

        let exported = export_signing_key(|| keyring.gpg(), "builder@site.example").unwrap();
        let elsewhere = TempKeyring::new().unwrap();
        elsewhere.import(&exported).unwrap();
        let mut list = elsewhere.gpg();
        list.args(["--with-colons", "--list-secret-keys"]);
        let listing = String::from_utf8(run_gpg(list, b"", "list").unwrap()).unwrap();
        let sec = listing.lines().find(|l| l.starts_with("sec:")).unwrap();
        assert_eq!(
            sec.split(':').nth(14),
            Some("#"),
            "the primary's secret left: {listing}"
        );
        // It still signs, by the subkey, for the primary key's owner.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("slurm.tar.zst");
        std::fs::write(&file, b"the package").unwrap();
        elsewhere.sign(&primary, &file).unwrap();
        let mut public = keyring.gpg();
        public.args(["--armor", "--export", &primary]);
        let public_key = dir.path().join("public.asc");
        std::fs::write(&public_key, run_gpg(public, b"", "export").unwrap()).unwrap();
        let good = verify_signature(&file, Some(&public_key)).unwrap();
        assert_eq!(good.primary, primary);
        assert_ne!(good.fingerprint, primary, "signed by the subkey");
    }

    #[test]
    fn a_key_id_the_keyring_lacks_is_named() {
        let mut cmd = Command::new("gpg");
        cmd.arg("--batch");
        let err = secret_key(&KeySource::Keyring("0000000000000000DEADBEEF".into()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("DEADBEEF"), "{err}");
    }
}
