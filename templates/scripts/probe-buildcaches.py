"""Reads the index of each OCI registry and S3 bucket a build installs from
(`--from`) before Spack installs: Spack skips a buildcache it cannot read
without a word and compiles what it would have installed from it (a login
it was not given, a CA it does not trust, a host that does not answer).

Run as `spack -e ENV python probe-buildcaches.py oci|s3 URL ...` (each URL
after its kind, as the engine knows it; ENV's mirrors carry the logins and
endpoints). Prints per buildcache `::unreadable URL
REASON` (and exits 4), `::no-index URL` (it answers, but holds no index:
Spack still looks up each spec there), or `::buildcache-readable URL`.
"""

import os
import sys
import urllib.error
import urllib.parse

import spack.binary_distribution as bindist
import spack.util.s3
from spack.url_buildcache import CURRENT_BUILD_CACHE_LAYOUT_VERSION, MirrorURLAndVersion

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from protocol import say  # noqa: E402

READABLE, NO_INDEX = "readable", "no-index"


def probe_oci(url):
    where = MirrorURLAndVersion(url, CURRENT_BUILD_CACHE_LAYOUT_VERSION)
    try:
        bindist.get_index_fetcher("oci", where, {}).conditional_fetch()
    except bindist.FetchIndexError as e:
        cause = e.__cause__ or (e.args[1] if len(e.args) > 1 else None)
        if isinstance(cause, urllib.error.HTTPError) and cause.code == 404:
            return NO_INDEX
        return f"{e.args[0]}: {cause}" if cause else str(e.args[0])
    return READABLE


def probe_s3(url):
    cache = bindist.get_url_buildcache_class(layout_version=CURRENT_BUILD_CACHE_LAYOUT_VERSION)
    index = urllib.parse.urlparse(cache.get_index_url(url))
    s3 = spack.util.s3.get_s3_session(index, method="fetch")
    try:
        s3.head_object(Bucket=index.netloc, Key=index.path.lstrip("/"))
    except s3.ClientError as e:
        if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
            return NO_INDEX
        return f"{index.geturl()}: {e}"
    return READABLE


def main(args):
    status = 0
    for kind, url in zip(args[::2], args[1::2]):
        try:
            result = probe_s3(url) if kind == "s3" else probe_oci(url)
        except Exception as e:  # the network's own errors, as they are
            result = f"{type(e).__name__}: {e}"
        if result == READABLE:
            say("buildcache-readable", url)
        elif result == NO_INDEX:
            say("no-index", url)
        else:
            status = 4
            say("unreadable", url, *result.split())
    return status


sys.exit(main(sys.argv[1:]))
