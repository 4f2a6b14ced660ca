"""Checks the entries of this environment's specs in signed buildcaches
before Spack installs from them: the signature of each manifest against the
trusted keys, and each file's checksum against its manifest. Spack itself
quietly compiles a spec whose entry fails a check, so a changed entry, or one
signed by a key nobody trusted, would go unnoticed.

Run as `spack -e ENV python check-buildcache.py URL...`. Prints
`::refused URL SPEC REASON` per bad entry and `::buildcache-checked URL N`
per buildcache; exits 3 if any entry was refused.
"""

import os
import sys

import spack.environment as ev
import spack.error
import spack.url_buildcache as ub

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from protocol import say  # noqa: E402


def reason_to_refuse(url, spec):
    """None when the entry is absent or sound, else why it is refused."""
    probe = ub.URLBuildcacheEntry(url, spec, allow_unsigned=True)
    try:
        probe.read_manifest()
    except ub.BuildcacheEntryError:
        return None, False
    finally:
        probe.destroy()
    entry = ub.URLBuildcacheEntry(url, spec, allow_unsigned=False)
    try:
        entry.fetch_metadata()
        entry.fetch_archive()
    except ub.NoVerifyException as e:
        return f"not signed by a trusted key ({e})", True
    except spack.error.NoChecksumException:
        return "a file does not match the checksum its signed manifest gives: it was changed", True
    except Exception as e:  # noqa: BLE001 - any other failure refuses the entry too
        return f"unreadable ({e})", True
    finally:
        entry.destroy()
    return None, True


def main(urls):
    env = ev.active_environment()
    specs = [s for s in env.all_specs() if not s.external]
    refused = 0
    for url in urls:
        checked = 0
        for spec in specs:
            reason, present = reason_to_refuse(url, spec)
            checked += present
            if reason:
                refused += 1
                say("refused", url, f"{spec.name}@{spec.version}/{spec.dag_hash(7)}", reason)
        say("buildcache-checked", url, checked)
    return 3 if refused else 0


sys.exit(main(sys.argv[1:]))
