"""Every catalog entry's totals and layer shapes, written once and checked after a change.

    python benchmarks/catalog_snapshot.py --write tests/data/catalog_snapshot.json [--timm]
    python benchmarks/catalog_snapshot.py --check tests/data/catalog_snapshot.json [--timm]

An entry is the trace at the network's own default input: total parameters, trainable
parameters, multiply-accumulates, output shape, and a digest of every module's (name, type,
output shape, parameters, MACs) in pre-order. `--check` prints how many entries were compared
and which differ (exit 1 if any). Only the public API (`explorer.names`, `explorer.trace`) is
used, so the same script runs on the code before and after a restructuring.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import explorer


def entry(name: str) -> dict[str, Any]:
    try:
        t = explorer.trace(name)
    except Exception as exc:  # recorded as it is: the same refusal must come back
        return {"error": type(exc).__name__}
    rows = [
        (r.name, r.type, list(r.output_shape), r.params, r.macs) for r in t.layers
    ]
    digest = hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]
    return {
        "params": t.total_params,
        "trainable": t.trainable_params,
        "macs": t.total_macs,
        "output": list(t.output_shape),
        "layers": len(t.layers),
        "digest": digest,
    }


def catalog(with_timm: bool) -> list[str]:
    """The entries the snapshot holds: timm's deploy forms came later (nothing to compare)."""
    return [
        n for n in explorer.names()
        if (with_timm or not n.startswith("timm/")) and not n.endswith("@deploy")
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", type=Path)
    group.add_argument("--check", type=Path)
    parser.add_argument("--timm", action="store_true", help="include timm's 1,371 models")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    names = catalog(args.timm)
    now = {n: entry(n) for n in names}
    took = time.perf_counter() - start
    if args.write:
        old = json.loads(args.write.read_text()) if args.write.exists() else {}
        old.update(now)
        args.write.write_text(json.dumps(old, indent=0, sort_keys=True) + "\n")
        print(f"wrote {len(now)} entries to {args.write} in {took:.1f} s")
        return 0
    stored = json.loads(args.check.read_text())
    compared = [n for n in names if n in stored]
    differ = [n for n in compared if stored[n] != now[n]]
    missing = [n for n in names if n not in stored]
    print(f"{len(compared)} entries compared in {took:.1f} s: {len(differ)} differ, "
          f"{len(missing)} not in the snapshot")
    for n in differ[:20]:
        print(f"  {n}: stored {stored[n]} now {now[n]}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
