# Lists every source the concrete specs of the active environment fetch
# (archives, resources, patches), with the paths Spack looks for each in a
# mirror, as one `::source {json}` line each; slurm-factory checks them
# against the mirror layer. Run as `spack -e ENV python sources.py`.
# Externals and bundle packages fetch nothing; files the package
# repository itself carries need no mirror.
import json
import os
import sys

import spack.environment as ev

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from protocol import say  # noqa: E402

seen = set()
for spec in ev.active_environment().all_specs():
    if spec.external or not spec.package.has_code:
        continue
    for stage in spec.package.stage:
        layout = getattr(stage, "mirror_layout", None)
        if layout is None:
            continue
        paths = list(layout)
        if paths[0] in seen:
            continue
        seen.add(paths[0])
        fetcher = stage.default_fetcher
        url = getattr(fetcher, "url", None)
        # Files inside the package repository (compiler-wrapper's) travel with it.
        if url and url.startswith("file://"):
            continue
        need = {
            "package": spec.name,
            "version": str(spec.version),
            "hash": spec.dag_hash(),
            "paths": paths,
            "sha256": getattr(fetcher, "digest", None),
            "url": url,
        }
        say("source", json.dumps(need))
