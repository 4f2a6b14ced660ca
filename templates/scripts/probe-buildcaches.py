"""Reads the index of each OCI buildcache a build installs from (`--from`)
before Spack installs: Spack skips a registry it cannot read without a word
and compiles what it would have installed from it (a login it was not
given, a CA it does not trust, a host that does not answer).

Run as `spack -e ENV python probe-buildcaches.py URL...` (ENV's mirrors
carry the logins). Prints per registry `::unreadable URL REASON` (and exits
4), `::no-index URL` (it answers, but holds no index: Spack still looks up
each spec there), or `::buildcache-readable URL`.
"""

import sys
import urllib.error

import spack.binary_distribution as bindist
from spack.url_buildcache import CURRENT_BUILD_CACHE_LAYOUT_VERSION, MirrorURLAndVersion


def probe(url):
    """(readable, no_index, why not)."""
    where = MirrorURLAndVersion(url, CURRENT_BUILD_CACHE_LAYOUT_VERSION)
    try:
        bindist.get_index_fetcher("oci", where, {}).conditional_fetch()
    except bindist.FetchIndexError as e:
        cause = e.__cause__ or (e.args[1] if len(e.args) > 1 else None)
        if isinstance(cause, urllib.error.HTTPError) and cause.code == 404:
            return False, True, None
        return False, False, f"{e.args[0]}: {cause}" if cause else str(e.args[0])
    except Exception as e:  # the network's own errors, as they are
        return False, False, f"{type(e).__name__}: {e}"
    return True, False, None


def main(urls):
    status = 0
    for url in urls:
        readable, no_index, reason = probe(url)
        if readable:
            print(f"::buildcache-readable {url}", flush=True)
        elif no_index:
            print(f"::no-index {url}", flush=True)
        else:
            status = 4
            print(f"::unreadable {url} {' '.join(reason.split())}", flush=True)
    return status


sys.exit(main(sys.argv[1:]))
