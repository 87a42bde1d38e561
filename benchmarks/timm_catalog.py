"""Trace the WHOLE timm catalog on the meta device: how many trace, how long, why others fail.

Every `timm/<name>` in the catalog is traced once at its pretrained config's input size, in
this process (as the app would, meta models built on demand). Prints the count traced, the
total and per-model median time, the slowest models, the failures grouped by reason (each a
clear ExplorerError, or counted as a bug when it is not), and how our totals compare with
timm's published parameter counts and GMACs.

    python benchmarks/timm_catalog.py [--limit N] [--filter WORDS] [--threads 1]
"""

from __future__ import annotations

import argparse
import collections
import re
import statistics
import time
import warnings


def reason_of(message: str) -> str:
    """A short failure class from an error message (for grouping, not for users)."""
    m = message.lower()
    for needle, reason in (
        ("data-dependent", "data-dependent operation (a value read from a tensor)"),
        (".item()", "data-dependent operation (a value read from a tensor)"),
        ("nonzero", "data-dependent operation (a value read from a tensor)"),
        ("torchscript", "TorchScript"),
        ("custom kernel", "custom kernel"),
        ("too small", "input too small"),
        ("budget", "over a budget"),
        ("cannot run on input", "input size refused by a layer"),
    ):
        if needle in m:
            return reason
    return re.sub(r"'[^']*'", "'…'", message.splitlines()[0])[:100]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=0, help="only the first N timm models")
    parser.add_argument("--filter", default="", help="only names matching these words")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    t_import = time.perf_counter()
    import torch

    import explorer
    from explorer.architectures import search
    from explorer.architectures.timm_models import fvcore_macs

    torch.set_num_threads(args.threads)  # a benchmark process of its own, never the app
    names = [n for n in explorer.names() if n.startswith("timm/")]
    if args.filter:
        names = search(args.filter, names)
    if args.limit:
        names = names[: args.limit]
    import gc

    gc.freeze()
    print(f"{len(names)} timm models; imports + catalog {time.perf_counter() - t_import:.1f} s")

    times: dict[str, float] = {}
    failures: dict[str, list[str]] = collections.defaultdict(list)
    bugs: list[str] = []
    published = collections.Counter()
    off: list[str] = []
    t_all = time.perf_counter()
    for name in names:
        t = time.perf_counter()
        try:
            tr = explorer.trace(name)
        except explorer.ExplorerError as e:
            failures[reason_of(str(e))].append(name)
            continue
        except Exception as e:  # a traceback would reach the user: count it as a bug
            bugs.append(f"{name}: {type(e).__name__}: {str(e).splitlines()[0][:120]}")
            continue
        finally:
            times[name] = time.perf_counter() - t
        pub = explorer.get(name).published
        if pub is None:
            published["no published figure at this size"] += 1
            continue
        assert pub.params is not None and pub.macs is not None
        published["params ✓" if abs(tr.total_params - pub.params) <= pub.params_tolerance
                  else "params Δ"] += 1
        if abs(tr.total_macs - pub.macs) <= pub.macs_tolerance:
            published["MACs ✓ as published"] += 1
        elif abs(fvcore_macs(tr) - pub.macs) <= pub.macs_tolerance:
            published["MACs ✓ once fvcore's extra counts are added"] += 1
        else:
            published["MACs Δ"] += 1
            off.append(f"{name}: ours {tr.total_macs / 1e9:.3f} G, fvcore-style "
                       f"{fvcore_macs(tr) / 1e9:.3f} G, published {pub.macs / 1e9:.2f} G")
    total = time.perf_counter() - t_all

    traced = len(names) - sum(len(v) for v in failures.values()) - len(bugs)
    print(f"\ntraced {traced}/{len(names)} ({100 * traced / max(len(names), 1):.1f}%) "
          f"in {total:.1f} s; median {1000 * statistics.median(times.values()):.0f} ms/model")
    for name, t in sorted(times.items(), key=lambda kv: -kv[1])[:8]:
        print(f"  slowest: {name:<45} {t:6.2f} s")
    print(f"\nfailures with a clear error ({sum(len(v) for v in failures.values())}):")
    for reason, group in sorted(failures.items(), key=lambda kv: -len(kv[1])):
        more = " …" if len(group) > 6 else ""
        print(f"  {len(group):4d}  {reason}: {', '.join(group[:6])}{more}")
    print(f"\ntracebacks (bugs: should be clear errors) ({len(bugs)}):")
    for line in bugs[:40]:
        print("  " + line)
    print("\npublished figures (timm's benchmark table):")
    for key, count in sorted(published.items()):
        print(f"  {count:4d}  {key}")
    for line in off[:25]:
        print("  Δ " + line)


if __name__ == "__main__":
    main()
