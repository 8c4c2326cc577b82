"""A stage's view of the dbt manifest: the same manifest with the stage's models tagged.

Cosmos applies `select` by testing every selector against every node, so selecting a
stage of 500 models by name costs 500 x nodes checks (about 25 s at parse time for a
500-model project). Tagging the stage's models in a copy of the manifest turns that into
one `tag:` selector. The copy is cached under the temp folder, keyed by the manifest and
the stage's models, so a DAG processor writes it once and then only checks it exists.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

CACHE_DIR_ENV = "DUALENGINE_CACHE_DIR"


def cache_root() -> Path:
    """Where the provider keeps what it can rebuild (stage manifests, dbt's parse state)."""
    return Path(os.environ.get(CACHE_DIR_ENV) or Path(tempfile.gettempdir()) / "dualengine")


def stage_manifest(manifest_path: Path, unique_ids: list[str]) -> tuple[Path, str]:
    """(path of the tagged manifest, the tag that selects exactly `unique_ids`)."""
    stat = manifest_path.stat()
    key = hashlib.sha256(
        f"{manifest_path.resolve()}\0{stat.st_mtime_ns}\0{stat.st_size}\0{chr(0).join(sorted(unique_ids))}".encode()
    ).hexdigest()[:16]
    tag = f"dualengine_stage_{key}"
    cache = cache_root() / "manifests"
    target = cache / f"{key}.json"
    if not target.is_file():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        for unique_id in unique_ids:
            node = manifest["nodes"][unique_id]
            node["tags"] = [*node.get("tags", []), tag]
        cache.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(manifest), encoding="utf-8")
        os.replace(tmp, target)  # atomic: concurrent parsers never read half a file
    return target, tag
