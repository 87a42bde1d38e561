"""Block diagrams over the catalog: time and box count per model, worst first.

Method: one process; imports (torch, torchvision, explorer) and the garbage collector's
start-up settings (explorer.core.gc_settings) before the clock, as the app does. Per model, the
first
drawing: `record` is the one meta forward pass that records the data flow (it builds the meta
model too), `graph` picks the depth (`auto_depth`, as the Architecture page does) and replays
the recording there, `svg` lays it out with graphviz's `dot`. `total` is what the Architecture
page's first diagram costs after imports. Timings on a shared machine are noisy; the ranking is
what matters.

    python benchmarks/diagram_speed.py                 # every torchvision classifier + ours
    python benchmarks/diagram_speed.py --models densenet201 --depth 4 --no-collapse
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", nargs="+", default=None)
    parser.add_argument("--depth", type=int, default=None, help="default: auto_depth")
    parser.add_argument("--no-collapse", action="store_true")
    parser.add_argument("--top", type=int, default=0, help="print only the N worst")
    args = parser.parse_args()

    import torchvision  # noqa: F401  (imported before the clock, as the app does)

    import explorer.analysis.trace  # noqa: F401
    from explorer.analysis.analysis import record_architecture
    from explorer.catalog import specs
    from explorer.core.gc_settings import settle_after_imports
    from explorer.graph import diagram
    from explorer.graph.dataflow import auto_depth, build_graph

    names = args.models or [s.name for s in specs() if s.source != "timm"]
    settle_after_imports()
    rows = []
    for name in names:
        t0 = time.perf_counter()
        rec = record_architecture(name)
        t1 = time.perf_counter()
        depth = auto_depth(rec) if args.depth is None else args.depth
        graph = build_graph(rec, depth, collapse=not args.no_collapse)
        t2 = time.perf_counter()
        svg = diagram.render(graph, "svg") if diagram.dot_available() else b""
        t3 = time.perf_counter()
        rows.append((t3 - t0, name, t1 - t0, t2 - t1, t3 - t2, depth, graph, len(svg)))
    rows.sort(key=lambda r: r[0], reverse=True)
    print(__doc__.split("\n\n")[1])
    print(f"\n{'model':<24} {'total':>8} {'record':>8} {'graph':>8} {'svg':>8} "
          f"{'depth':>5} {'boxes':>6} {'arrows':>6}")
    for total, name, rec_t, graph_t, svg_t, depth, graph, _ in rows[: args.top or None]:
        print(f"{name:<24} {total * 1e3:>6.0f}ms {rec_t * 1e3:>6.0f}ms {graph_t * 1e3:>6.0f}ms "
              f"{svg_t * 1e3:>6.0f}ms {depth:>5} {len(graph.nodes):>6} {len(graph.edges):>6}")
    over = [r[1] for r in rows if r[0] >= 1.0]
    print(f"\n{len(rows)} models; worst {rows[0][1]} {rows[0][0]:.2f} s; "
          f"{len(over)} at or over 1 s: {', '.join(over) or 'none'}")


if __name__ == "__main__":
    main()
