"""Why explorer.serving.jobs runs training in worker processes rather than threads: measured.

A page's work (here: tracing resnet50, Python-heavy like most page work) is timed in the
server process three ways: alone; while a residual experiment trains in a thread of the same
process (what a plain background thread would do); and while it trains in an explorer.serving.jobs
worker process. Prints the median page-work latency of each and the ratios to "alone".

    .venv/bin/python benchmarks/jobs_isolation.py [--seconds 6] [--repeats 3]

On a shared machine the absolute times are noisy; compare the ratios of one run.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Callable

from explorer.analysis.trace import trace
from explorer.labs.residual_experiment import ExperimentConfig, run_experiment
from explorer.serving.jobs import JobRunner

CONFIG = ExperimentConfig(depths=(20,), epochs=100, seed=0)  # longer than the probe window


def probe(seconds: float) -> list[float]:
    """Latencies (s) of repeated page work during `seconds`."""
    out: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        trace("resnet50", batch_size=len(out) % 7 + 1)
        out.append(time.perf_counter() - start)
    return out


def in_thread(seconds: float) -> list[float]:
    stop = threading.Event()
    started = threading.Event()

    def keep_going(*_: object) -> bool:
        started.set()
        return not stop.is_set()

    worker = threading.Thread(target=run_experiment, args=(CONFIG, keep_going), daemon=True)
    worker.start()
    started.wait(120)
    try:
        return probe(seconds)
    finally:
        stop.set()
        worker.join()


def in_process(seconds: float) -> list[float]:
    runner = JobRunner(1)
    try:
        job = runner.submit("bench", run_experiment, CONFIG)
        while not job.events:  # the worker has started and finished its first epoch
            time.sleep(0.1)
        return probe(seconds)
    finally:
        runner.cancel("bench")
        runner.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="probe time per mode")
    parser.add_argument("--repeats", type=int, default=3, help="alternate the modes this often")
    args = parser.parse_args()
    trace("resnet50")  # warm: imports and the cached meta model
    modes: dict[str, Callable[[float], list[float]]] = {
        "alone": probe,
        "training in a thread": in_thread,
        "training in a worker process": in_process,
    }
    medians: dict[str, list[float]] = {name: [] for name in modes}
    for _ in range(args.repeats):  # alternate, so that a change of load hits every mode
        for name, run in modes.items():
            medians[name].append(statistics.median(run(args.seconds)))
    alone = statistics.median(medians["alone"])
    print(f"page work (trace resnet50), median latency over {args.repeats} alternations while …")
    for name, values in medians.items():
        median = statistics.median(values)
        each = ", ".join(f"{1000 * v:.0f}" for v in values)
        print(f"  {name:<30} {1000 * median:8.1f} ms  ({median / alone:.2f}× alone; {each} ms)")


if __name__ == "__main__":
    main()
