"""How long the Augmentation lab takes to render 16 samples of a 512×512 image.

The issue's target: 16 samples of a 512×512 image in under a second on this machine. Prints,
for the page's default pipeline, each preset and each single augmentation, the median time of
`Pipeline.samples` (16 samples), of the grid + PNG encoding the page adds, and the ratio of the
total to the 1-second target. Also prices the thread-local seeded generator `Pipeline.samples`
uses (a TorchFunctionMode that hands every random draw a private torch.Generator, so that no
global RNG is seeded) against seeding the global RNG, as the exported code does.

Then the lab's redraw as a student builds a pipeline: the page's default pipeline on the lab's
default picture ("cat", 451×300, 8 samples), one step added at a time (elastic warping first,
as in benchmarks/page_timing.py), each timed cold (every step of every sample rerun, the page
before the memo) and with an `augment.PrefixMemo` holding the states the previous pipeline
left (the page now: only the new step runs); the pixels are compared too.

    .venv/bin/python benchmarks/augment_speed.py [--repeats 3] [--n 16]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import torch

from explorer.core.images import fit_within, load_sample, to_png_bytes
from explorer.labs.augment import (
    AUGMENTATIONS,
    DEFAULT_PIPELINE,
    PRESETS,
    Augmentation,
    ElasticWarp,
    HorizontalFlip,
    Pipeline,
    PrefixMemo,
    Rotation,
    VerticalFlip,
    grid_image,
)

TARGET_S = 1.0
PAGE_DEFAULT = "page default (resized crop, flip, colour, PCA)"


def median_time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: kernels, caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def global_seed_samples(pipeline: Pipeline, image: object, n: int) -> list[torch.Tensor]:
    """The same samples drawn from the global RNG (what exported code does; not for a server)."""
    transform = pipeline.to_transform()
    with torch.random.fork_rng(devices=[]):
        out = []
        for k in range(n):
            torch.manual_seed(k)
            out.append(transform(image))
    return out


def report(name: str, pipeline: Pipeline, image: object, n: int, repeats: int) -> float:
    sample_s = median_time(lambda: pipeline.samples(image, n, seed=0), repeats)
    samples = pipeline.samples(image, n, seed=0)
    page_s = median_time(
        lambda: to_png_bytes(grid_image(samples, 4, max_cell=512), compress_level=1), repeats)
    total = sample_s + page_s
    print(f"{name[:52]:52s} {sample_s * 1000:8.0f} {page_s * 1000:8.0f} {total * 1000:8.0f}"
          f" {total / TARGET_S:6.2f}")
    return total


def clocks(
    run: Callable[[], object], prepare: Callable[[], object], repeats: int
) -> tuple[float, float]:
    """Median wall-clock and CPU (this process, all threads) seconds of `run()`, each time
    after an untimed `prepare()`. CPU time is what other users' load disturbs least."""
    walls, cpus = [], []
    for _ in range(repeats):
        prepare()
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def grown(n: int, repeats: int) -> None:
    image = fit_within(load_sample("cat"), 512)  # what the lab works on (components.cache)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"-- the lab's pipeline grown one step at a time: {n} samples of cat "
          f"{image.width}×{image.height}, median of {repeats}, load average {load:.1f} --")
    print(f"{'change':42s} {'cold ms':>8s} {'memo ms':>8s} {'cold cpu':>8s} {'memo cpu':>8s}"
          f" {'cpu ratio':>9s} same")
    added: list[tuple[str, Augmentation]] = [
        ("add elastic warping (α 150, σ 6)", ElasticWarp(alpha=150.0, sigma=6.0)),
        ("add mirroring (after elastic)", HorizontalFlip()),
        ("add rotation", Rotation()),
        ("add vertical flip", VerticalFlip()),
    ]
    pipeline = DEFAULT_PIPELINE
    changes = [(name, pipeline, pipeline := pipeline.add(step)) for name, step in added]
    last = len(pipeline.steps) - 1
    changes.append(("change the last step (flip p 0.5 -> 0.3)", pipeline,
                    pipeline.replace(last, VerticalFlip(p=0.3))))
    changes.append(("change elastic's α (150 -> 200)", pipeline,
                    pipeline.replace(4, ElasticWarp(alpha=200.0, sigma=6.0))))
    memo = [PrefixMemo()]
    for name, before, after in changes:

        def fill(before: Pipeline = before) -> None:  # what the page held before the change
            memo[0] = PrefixMemo()
            before.samples(image, n, seed=0, memo=memo[0])

        cold_wall, cold_cpu = clocks(lambda: after.samples(image, n, seed=0),  # noqa: B023
                                     lambda: None, repeats)
        warm_wall, warm_cpu = clocks(lambda: after.samples(image, n, seed=0,  # noqa: B023
                                                           memo=memo[0]), fill, repeats)
        fill()
        same = all(torch.equal(a, b) for a, b in zip(
            after.samples(image, n, seed=0, memo=memo[0]), after.samples(image, n, seed=0)))
        print(f"{name:42s} {cold_wall * 1000:8.0f} {warm_wall * 1000:8.0f} "
              f"{cold_cpu * 1000:8.0f} {warm_cpu * 1000:8.0f} "
              f"{cold_cpu / max(warm_cpu, 1e-3):9.1f} {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--grown-only", action="store_true", help="only the grown pipeline")
    args = parser.parse_args()
    if args.grown_only:
        grown(8, args.repeats)
        return

    image = load_sample("astronaut")
    assert image.size == (512, 512)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{args.n} samples of a 512×512 image; torch {torch.__version__}, "
          f"{os.cpu_count()} CPUs, {torch.get_num_threads()} default intra-op threads, "
          f"load average {load:.1f}; median of {args.repeats}")
    print(f"{'pipeline':52s} {'samples':>8s} {'grid+png':>8s} {'total ms':>8s} {'/1 s':>6s}")
    report(PAGE_DEFAULT, DEFAULT_PIPELINE, image, args.n, args.repeats)
    for name, pipeline in PRESETS.items():
        report(name, pipeline, image, args.n, args.repeats)
    print("-- single steps (default parameters) --")
    for kind, cls in AUGMENTATIONS.items():
        report(kind, Pipeline((cls(),)), image, args.n, args.repeats)

    print("-- thread-local seeded generator (Pipeline.samples) vs the global RNG --")
    local = median_time(lambda: DEFAULT_PIPELINE.samples(image, args.n, seed=0), args.repeats)
    shared = median_time(lambda: global_seed_samples(DEFAULT_PIPELINE, image, args.n),
                         args.repeats)
    print(f"{PAGE_DEFAULT}: local generator {local * 1000:.0f} ms, global RNG "
          f"{shared * 1000:.0f} ms, ratio local/global = {local / shared:.2f}")
    grown(8, args.repeats)


if __name__ == "__main__":
    main()
