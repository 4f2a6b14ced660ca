"""Publishes a build's archives and manifest (and their signatures) beside a
buildcache that is not a directory of this machine: for s3:// each file
under URL/packages/ID/; for an OCI registry one artifact tagged ID in the
buildcache's repository, a layer per file named by its
org.opencontainers.image.title (`oras pull REGISTRY/REPO:ID` fetches them).

Run as `spack -e ENV python publish-files.py URL ID FILE...` once the
buildcache's mirror (and its login) is in ENV: Spack's own S3 session and
OCI opener find it there. Prints `::published WHERE` per file or artifact.
"""

import hashlib
import json
import os
import sys

import spack.oci.oci as oci
import spack.util.web as web
from spack.oci.image import Digest, ImageReference

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from protocol import say  # noqa: E402

#: OCI's empty descriptor: the config of an artifact that is only its layers.
EMPTY_CONFIG = b"{}"
ARTIFACT_TYPE = "application/vnd.slurm-factory.package.v1"


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def media_type(name):
    if name.endswith(".tar.zst"):
        return "application/vnd.oci.image.layer.v1.tar+zstd"
    if name.endswith(".json"):
        return "application/json"
    if name.endswith(".asc"):
        return "application/pgp-signature"
    return "application/octet-stream"


def publish_s3(url, artifact_id, files):
    for path in files:
        dest = f"{url.rstrip('/')}/packages/{artifact_id}/{os.path.basename(path)}"
        web.push_to_url(path, dest, keep_original=True)
        say("published", dest)


def publish_oci(url, artifact_id, files, workdir):
    ref = ImageReference.from_url(url).with_tag(artifact_id)
    config = os.path.join(workdir, "empty-config.json")
    with open(config, "wb") as f:
        f.write(EMPTY_CONFIG)
    config_digest = Digest.from_sha256(hashlib.sha256(EMPTY_CONFIG).hexdigest())
    oci.upload_blob(ref, config, config_digest)
    layers = []
    for path in files:
        digest = Digest.from_sha256(sha256(path))
        oci.upload_blob(ref, path, digest)
        name = os.path.basename(path)
        layers.append(
            {
                "mediaType": media_type(name),
                "digest": str(digest),
                "size": os.path.getsize(path),
                "annotations": {"org.opencontainers.image.title": name},
            }
        )
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": ARTIFACT_TYPE,
        "config": {
            "mediaType": "application/vnd.oci.empty.v1+json",
            "digest": str(config_digest),
            "size": len(EMPTY_CONFIG),
        },
        "layers": layers,
        "annotations": {"org.opencontainers.image.title": artifact_id},
    }
    digest, _ = oci.upload_manifest(ref, manifest)
    say("published", f"{ref} ({len(layers)} files, {digest})")


def main(argv):
    if len(argv) < 5 or argv[1] not in ("s3", "oci"):
        print("usage: publish-files.py s3|oci URL ID FILE...", file=sys.stderr)
        return 2
    kind, url, artifact_id, files = argv[1], argv[2], argv[3], argv[4:]
    if kind == "s3":
        publish_s3(url, artifact_id, files)
    else:
        publish_oci(url, artifact_id, files, os.path.dirname(files[0]))
    return 0


sys.exit(main(sys.argv))
