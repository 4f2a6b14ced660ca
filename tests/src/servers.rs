//! Real servers on this machine for the tests: the second LXD server, a GPG
//! signing key, an OCI registry and an S3 endpoint, each on the loopback.

use std::path::{Path, PathBuf};

use crate::{slurm_factory, test_vars, REQUIRE_LXD};

/// The second LXD server `.ci/setup-lxd.sh` starts (`.ci/lxd-remote.sh`),
/// trusted by this machine's client as a remote (`sf-remote`).
pub struct RemoteServer {
    pub name: String,
    /// The client config that knows it, for a CLI or app given a home of
    /// its own.
    pub lxd_conf: String,
}

impl RemoteServer {
    /// From SLURM_FACTORY_TEST_REMOTE; `None` (after a loud SKIPPED line) when unset.
    pub fn from_env(test: &str) -> Option<RemoteServer> {
        let [name] = test_vars(
            test,
            ["SLURM_FACTORY_TEST_REMOTE"],
            "no second LXD server: run .ci/setup-lxd.sh (as root; it runs .ci/lxd-remote.sh) \
             and set SLURM_FACTORY_TEST_REMOTE (see ~/.cache/slurm-factory-ci/env)",
        )?;
        let lxd_conf = std::env::var("LXD_CONF").unwrap_or_else(|_| {
            format!("{}/.config/lxc", std::env::var("HOME").unwrap_or_default())
        });
        Some(RemoteServer { name, lxd_conf })
    }

    /// One test at a time uses it, across test binaries too (scripts/test.sh
    /// runs the real Spack test beside the others): one of them shuts it
    /// down. Held until dropped.
    pub fn turn(&self) -> std::fs::File {
        let path = std::env::temp_dir().join("slurm-factory-e2e-remote.lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .expect("opening the remote server's lock file");
        lock.lock().expect("waiting for the remote server");
        lock
    }

    /// `.ci/lxd-remote.sh start` or `stop`.
    pub fn control(&self, action: &str) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/lxd-remote.sh");
        let status = std::process::Command::new("bash")
            .arg(script)
            .arg(action)
            .status()
            .expect("running lxd-remote.sh");
        assert!(status.success(), "lxd-remote.sh {action}");
    }

    /// `lxc ARGS` with the client config that knows the remote.
    pub fn lxc(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new("lxc")
            .env("LXD_CONF", &self.lxd_conf)
            .args(args)
            .output()
            .expect("running lxc")
    }

    /// The names of the instances on it.
    pub fn instances(&self) -> Vec<String> {
        let out = self.lxc(&[
            "list",
            &format!("{}:", self.name),
            "--format",
            "csv",
            "-c",
            "n",
        ]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect()
    }
}

impl RemoteServer {
    /// The custom volumes in `pool` on it.
    pub fn volumes(&self, pool: &str) -> Vec<String> {
        let out = self.lxc(&[
            "storage",
            "volume",
            "list",
            &format!("{}:{pool}", self.name),
            "--format",
            "csv",
            "-c",
            "tn",
        ]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("custom,"))
            .map(String::from)
            .collect()
    }

    /// `slurm-factory cache clean` of the layers a remote server replicates,
    /// with the CLI's `vars` (which name this server among `remotes`): the
    /// replicas go with the layers.
    pub fn clean_replicas<K, V>(&self, home: &Path, vars: impl IntoIterator<Item = (K, V)> + Clone)
    where
        K: AsRef<std::ffi::OsStr>,
        V: AsRef<std::ffi::OsStr>,
    {
        for layer in ["buildcache", "mirror", "ccache"] {
            let out = slurm_factory(home, vars.clone(), &["cache", "clean", layer, "--yes"]);
            assert!(
                out.status.success(),
                "cache clean {layer}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// A real GPG key without a passphrase, made in a GnuPG home of its own, and
/// exported as a site exports one: the secret half (what `--sign FILE`
/// takes) and the public half (what `--trust` and `artifacts verify --key`
/// take).
pub struct SigningKey {
    pub home: PathBuf,
    pub secret: PathBuf,
    pub public: PathBuf,
}

impl SigningKey {
    pub fn new(dir: &Path) -> SigningKey {
        use std::os::unix::fs::PermissionsExt;
        let home = dir.join("gnupg");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
        let gpg = |args: &[&str]| {
            let out = std::process::Command::new("gpg")
                .arg("--batch")
                .arg("--homedir")
                .arg(&home)
                .args(args)
                .output()
                .expect("gpg runs");
            assert!(
                out.status.success(),
                "gpg {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        };
        gpg(&[
            "--passphrase",
            "",
            "--quick-gen-key",
            "Site Builder <builder@site.example>",
            "default",
            "default",
            "never",
        ]);
        let secret = dir.join("builder-secret.asc");
        let public = dir.join("builder.asc");
        std::fs::write(&secret, gpg(&["--armor", "--export-secret-keys"])).unwrap();
        std::fs::write(&public, gpg(&["--armor", "--export"])).unwrap();
        SigningKey {
            home,
            secret,
            public,
        }
    }
}

impl Drop for SigningKey {
    fn drop(&mut self) {
        let _ = std::process::Command::new("gpgconf")
            .arg("--homedir")
            .arg(&self.home)
            .args(["--kill", "all"])
            .output();
    }
}

/// A real OCI registry (Debian's `docker-registry`) on 127.0.0.1, storing
/// under a directory of its own, with `login` (user, password) required
/// through htpasswd when given, and with `tls` on HTTPS, its certificate
/// (for 127.0.0.1) signed by a CA of its own (`ca`); stopped when dropped. `None` (the test
/// prints why) where the binary is missing, unless
/// SLURM_FACTORY_REQUIRE_LXD asks for every part.
pub struct Registry {
    child: std::process::Child,
    pub port: u16,
    /// The CA that signed its TLS certificate.
    pub ca: Option<PathBuf>,
}

/// A CA and a certificate for 127.0.0.1 it signed, made with openssl:
/// returns (CA certificate, server certificate, server key).
fn test_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Slurm Factory test CA",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "key.pem",
        "-out",
        "cert.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        "cert.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "cert.pem",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    )
}

impl Registry {
    pub fn start(dir: &Path, login: Option<(&str, &str)>, tls: bool) -> Option<Registry> {
        let Some(binary) = factory::lxd::find_on_path("docker-registry") else {
            assert!(
                std::env::var_os(REQUIRE_LXD).is_none(),
                "docker-registry is not installed (apt-get install docker-registry)"
            );
            eprintln!("SKIPPED the OCI registry part: no docker-registry on PATH");
            return None;
        };
        let port = free_port();
        let dir = dir.join(format!("registry-{port}"));
        let storage = dir.join("storage");
        std::fs::create_dir_all(&storage).unwrap();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: 127.0.0.1:{port}\n",
            storage.display()
        );
        let ca = tls.then(|| {
            let (ca, cert, key) = test_certificates(&dir);
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            ));
            ca
        });
        if let Some((user, password)) = login {
            let hash = bcrypt::hash(password, 6).unwrap();
            std::fs::write(dir.join("htpasswd"), format!("{user}:{hash}\n")).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: site\n    path: {}\n",
                dir.join("htpasswd").display()
            ));
        }
        let config_file = dir.join("registry.yml");
        std::fs::write(&config_file, config).unwrap();
        let log = std::fs::File::create(dir.join("registry.log")).unwrap();
        let child = std::process::Command::new(binary)
            .arg("serve")
            .arg(&config_file)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let registry = Registry { child, port, ca };
        wait_for_port(port, "the registry");
        Some(registry)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free TCP port of the loopback: bound, read, released.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, what: &str) {
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "{what} did not listen on {port}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A real S3 endpoint on 127.0.0.1: moto's server (the virtualenv named by
/// SLURM_FACTORY_TEST_MOTO, which .ci/setup-lxd.sh makes) with its access
/// control on: requests must be signed (SigV4) with the key of an IAM user
/// it knows, made here, who may use S3; one bucket.
pub struct S3Store {
    child: std::process::Child,
    python: PathBuf,
    pub endpoint: String,
    pub bucket: String,
    pub key_id: String,
    pub secret: String,
}

/// What S3Store::start and S3Store::keys run with moto's boto3.
const S3_SETUP: &str = r#"
import json, sys
import boto3
endpoint, bucket = sys.argv[1], sys.argv[2]
iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id="setup", aws_secret_access_key="setup")
iam.create_user(UserName="publisher")
iam.put_user_policy(UserName="publisher", PolicyName="s3", PolicyDocument=json.dumps(
    {"Version": "2012-10-17",
     "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
key = iam.create_access_key(UserName="publisher")["AccessKey"]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id=key["AccessKeyId"],
                  aws_secret_access_key=key["SecretAccessKey"])
s3.create_bucket(Bucket=bucket)
print(key["AccessKeyId"], key["SecretAccessKey"])
"#;

const S3_KEYS: &str = r#"
import sys
import boto3
endpoint, bucket, key_id, secret = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id=key_id, aws_secret_access_key=secret)
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
    for item in page.get("Contents", []):
        print(item["Key"])
"#;

impl S3Store {
    pub fn start(dir: &Path) -> Option<S3Store> {
        let [venv] = test_vars(
            "the S3 part",
            ["SLURM_FACTORY_TEST_MOTO"],
            ".ci/setup-lxd.sh makes moto's virtualenv and names it in its env file",
        )?;
        let venv = PathBuf::from(venv);
        let port = free_port();
        let log = std::fs::File::create(dir.join(format!("moto-{port}.log"))).unwrap();
        // The IAM calls that make the user are the only ones let through unsigned.
        let child = std::process::Command::new(venv.join("bin/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", "3")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("moto_server starts");
        let mut store = S3Store {
            child,
            python: venv.join("bin/python"),
            endpoint: format!("http://127.0.0.1:{port}"),
            bucket: "site-cache".into(),
            key_id: String::new(),
            secret: String::new(),
        };
        wait_for_port(port, "moto's S3 server");
        let out = store.python(S3_SETUP, &[]);
        let (key_id, secret) = out.trim().split_once(' ').expect("a key id and a secret");
        (store.key_id, store.secret) = (key_id.into(), secret.into());
        Some(store)
    }

    fn python(&self, script: &str, args: &[&str]) -> String {
        let out = std::process::Command::new(&self.python)
            .arg("-c")
            .arg(script)
            .args([self.endpoint.as_str(), self.bucket.as_str()])
            .args(args)
            .output()
            .expect("moto's python runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The bucket's object keys, listed with the user's key.
    pub fn keys(&self) -> Vec<String> {
        self.python(S3_KEYS, &[&self.key_id, &self.secret])
            .lines()
            .map(String::from)
            .collect()
    }

    /// The user's key as ~/.aws/credentials holds it.
    pub fn credentials_file(&self, secret: &str) -> String {
        format!(
            "[default]\naws_access_key_id = {}\naws_secret_access_key = {secret}\n",
            self.key_id
        )
    }
}

impl Drop for S3Store {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
