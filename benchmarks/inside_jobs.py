"""What the Look inside page runs inline and what it sends to a worker, and what each costs.

    .venv/bin/python benchmarks/inside_jobs.py [--models lenet5,resnet18,resnet50,vit_b_16]

For each model (random weights; lenet5 with its shipped digits weights) at the page's defaults
(the default layer, the predicted class, a quarter-side patch moved by half a patch), the price
the page decides with (explorer.inside.cam.class_map_work / occlusion_work,
explorer.inside.activations
.check_budget; refused requests say so) and the time at one torch thread, as in a worker
(best of 2). explorer.serving.jobs.INLINE_MAX_MACS (10 G) is meant to be about 0.3 s of one core:
the
"ms per G" column shows how well a price predicts the time. Then the cost of a round trip:
the same request inline and as a job in a warm worker.

Timings depend on the machine's load (it may be shared): compare within one run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time
from collections.abc import Callable

import torch

from explorer.core import images, work
from explorer.core.errors import BudgetError
from explorer.inside import activations as A
from explorer.inside import cam
from explorer.labs import digits
from explorer.serving import inside_jobs, jobs
from explorer.weights import loading as weights


def _best(fn: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        with contextlib.redirect_stderr(io.StringIO()):  # Score-CAM's tqdm bar
            start = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - start)
    return best


def _row(label: str, price: Callable[[], int], fn: Callable[[], object], repeats: int) -> None:
    try:
        macs = price()
    except BudgetError as exc:
        print(f"  {label:<24} refused: {exc}")
        return
    seconds = _best(fn, repeats)
    where = "inline" if work.runs_inline(macs) else "worker job"
    per_g = seconds * 1000 / max(macs / 1e9, 1e-9)
    print(f"  {label:<24} {macs / 1e9:8.2f} G {seconds:8.3f} s {per_g:8.1f} ms/G  {where}")


def model_rows(arch: str, repeats: int) -> None:
    loaded = weights.load(arch, "lenet5-digits" if arch == "lenet5" else weights.RANDOM,
                          device="cpu")  # fmt: skip
    if arch == "lenet5":
        picture = digits.sample_photo(0)[0]
    else:
        picture = images.load_sample(images.sample_names()[0])
    layer = cam.default_layer(loaded)
    patch, stride = cam.default_patch(loaded)
    print(f"{arch} (Grad-CAM layer {layer}, occlusion patch {patch} stride {stride})")
    A.record(loaded, picture)  # warm-up
    _row("activations", lambda: A.check_budget(loaded)[0], lambda: A.record(loaded, picture),
         repeats)  # fmt: skip
    for method in cam.METHODS:
        _row(f"{cam.METHODS[method]}, one image",
             lambda m=method: cam.class_map_work(loaded, 1, layer, m),
             lambda m=method: cam.image_class_maps(loaded, picture, layer, m, None, False),
             repeats)  # fmt: skip
    for ten in (False, True):
        what = "ten crops" if ten else "one image"
        if ten:
            _row(f"Grad-CAM, {what}", lambda: cam.class_map_work(loaded, 10, layer, "gradcam"),
                 lambda: cam.image_class_maps(loaded, picture, layer, "gradcam", None, True),
                 1)  # fmt: skip
        _row(f"occlusion, {what}",
             lambda t=ten: cam.occlusion_work(loaded, 10 if t else 1, patch, stride),
             lambda t=ten: cam.image_occlusion(loaded, picture, None, patch, stride, t),
             1)  # fmt: skip


def round_trip(repeats: int) -> None:
    """resnet18's Grad-CAM on one image (cheap): inline against a job in a warm worker."""
    loaded = weights.load("resnet18", weights.RANDOM, device="cpu")
    picture = images.load_sample(images.sample_names()[0])
    runner = jobs.JobRunner(1, threads=1, preload=("explorer.serving.inside_jobs",))
    try:
        runner.warm()
        args = ("resnet18", weights.RANDOM, "cpu", work.Picture.of(picture), "layer4.1",
                "gradcam", None, False)  # fmt: skip
        first = runner.submit(("warm",), inside_jobs.class_maps_job, *args)
        first.wait(300)  # the worker loads the model once
        times = []
        for i in range(repeats):
            start = time.perf_counter()
            job = runner.submit(("trip", i), inside_jobs.class_maps_job, *args)
            job.wait(300)
            times.append(time.perf_counter() - start)
        inline = _best(lambda: cam.image_class_maps(loaded, picture, "layer4.1", "gradcam",
                                                    None, False), repeats)  # fmt: skip
        trip = min(times)
        print(f"resnet18 Grad-CAM, one image: inline {inline * 1000:.0f} ms, as a job in a "
              f"warm worker {trip * 1000:.0f} ms ({trip / inline:.2f}×)")  # fmt: skip
    finally:
        runner.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="lenet5,resnet18,resnet50,vit_b_16")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)  # as in a worker process; this benchmark's own process only
    print(f"inline up to {work.INLINE_MAX_MACS / 1e9:.0f} G multiply-accumulates; 1 thread\n")
    for arch in args.models.split(","):
        model_rows(arch, args.repeats)
    print()
    round_trip(max(args.repeats, 3))


if __name__ == "__main__":
    main()
