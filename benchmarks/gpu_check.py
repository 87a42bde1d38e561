"""On a CUDA machine: predict, activations and Grad-CAM on resnet50 agree with the CPU.

    .venv/bin/python benchmarks/gpu_check.py [--device cuda] [--repeats 5]

Two sets of weights, each written to a .safetensors file and loaded through
explorer.weights.loading.load on both devices (the user-file path), so both sides hold the same
values:
- "random": torchvision's own initialisation, seeded;
- "synthetic": a deterministic pattern without any RNG (sines of the element index, scaled
  like He initialisation; batch-norm statistics 0 and 1), the same on every machine.

For each: the prediction's probabilities, every recorded stage's activations and the Grad-CAM
map at layer4 are compared with the CPU's. The GPU runs channels-last under autocast (bf16 or
fp16), so the tolerances are those of half precision: probabilities within 0.02, each
stage's relative L2 error under 5 %, Grad-CAM maps correlated above 0.95. Latencies (best of
`repeats`, synchronised) are printed for both devices. Without CUDA it says so and exits 0.
`--device cpu` compares the CPU with itself (a dry run of this script).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from explorer.core import devices, images
from explorer.inside import activations, cam
from explorer.labs import predict
from explorer.weights import loading as weights

PROB_TOL = 0.02
STAGE_TOL = 0.05
CAM_MIN_CORR = 0.95


def _synthetic_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    state = {}
    for name, t in model.state_dict().items():
        if name.endswith("num_batches_tracked"):
            value = torch.zeros_like(t)
        elif name.endswith("running_var"):
            value = torch.ones_like(t)
        elif name.endswith("running_mean") or name.endswith("bias"):
            value = torch.zeros_like(t)
        elif t.ndim == 1:  # batch-norm weights
            value = torch.ones_like(t)
        else:
            fan_in = t[0].numel()
            index = torch.arange(t.numel(), dtype=torch.float64)
            pattern = torch.sin(index * 0.7853 + index.remainder(7) * 1.3).to(torch.float32)
            value = (pattern * math.sqrt(6.0 / fan_in)).view_as(t)
        state[name] = value.contiguous()
    return state


def _weights_files(folder: Path) -> dict[str, Path]:
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = weights.load("resnet50", "random", device="cpu").model
    files = {"random": folder / "random.safetensors", "synthetic": folder / "synthetic.safetensors"}
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(files["random"]))
    save_file(_synthetic_state(model), str(files["synthetic"]))
    return files


def _best_ms(fn: Callable[[], object], device: torch.device, repeats: int) -> tuple[float, object]:
    out = fn()  # warm-up (cuDNN autotuning, lazy initialisation)
    best = math.inf
    for _ in range(repeats):
        devices.synchronize(device)
        start = time.perf_counter()
        out = fn()
        devices.synchronize(device)
        best = min(best, (time.perf_counter() - start) * 1000)
    return best, out


def _run(path: Path, device: str, picture: object, cls: int | None, repeats: int) -> dict:
    loaded = weights.load("resnet50", str(path), device=device)
    x = predict.preprocessor_for(loaded).single(picture)  # type: ignore[arg-type]
    out: dict = {"device": str(loaded.device)}
    dev = loaded.device
    out["predict_ms"], pred = _best_ms(lambda: predict.predict(loaded, picture), dev, repeats)  # type: ignore[arg-type]
    out["acts_ms"], acts = _best_ms(lambda: activations.record_tensor(loaded, x), dev, repeats)
    k = cls if cls is not None else int(np.argmax(pred.probabilities))  # type: ignore[attr-defined]
    out["cam_ms"], maps = _best_ms(
        lambda: cam.class_maps(loaded, x, layer="layer4.2", classes=k), dev, repeats
    )
    out.update(probs=pred.probabilities, acts=acts, heat=maps[0].heatmap, cls=k)  # type: ignore[attr-defined,index]
    return out


def _compare(cpu: dict, gpu: dict) -> list[str]:
    problems = []
    dp = float(np.abs(cpu["probs"] - gpu["probs"]).max())
    if dp > PROB_TOL:
        problems.append(f"probabilities differ by {dp:.4f} (> {PROB_TOL})")
    worst = ("", -1.0)
    for a, b in zip(cpu["acts"].layers, gpu["acts"].layers, strict=True):
        ref = float(np.linalg.norm(a.values)) or 1.0
        err = float(np.linalg.norm(a.values - b.values)) / ref
        worst = max(worst, (a.name, err), key=lambda t: t[1])
    if worst[1] > STAGE_TOL:
        problems.append(f"stage {worst[0]} differs by {worst[1]:.1%} (> {STAGE_TOL:.0%})")
    corr = float(np.corrcoef(cpu["heat"].ravel(), gpu["heat"].ravel())[0, 1])
    if not corr >= CAM_MIN_CORR:
        problems.append(f"Grad-CAM maps correlate {corr:.3f} (< {CAM_MIN_CORR})")
    print(
        f"    max |Δp| {dp:.4f}; worst stage {worst[0]} {worst[1]:.2%}; Grad-CAM correlation "
        f"{corr:.4f}"
    )
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="the device to check against the CPU")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA: this machine has no CUDA GPU, nothing to check (exit 0).")
        return 0
    if args.device.startswith("cuda"):
        dtype = devices.autocast_dtype(torch.device("cuda"))
        print(f"GPU: {torch.cuda.get_device_name(0)}; autocast {dtype}")
    picture = images.load_sample("cat")
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, path in _weights_files(Path(tmp)).items():
            cpu = _run(path, "cpu", picture, None, args.repeats)
            other = _run(path, args.device, picture, cpu["cls"], args.repeats)
            print(f"resnet50, {kind} weights (class {cpu['cls']}):")
            for r in (cpu, other):
                print(
                    f"  {r['device']:>6}: predict {r['predict_ms']:8.1f} ms   activations "
                    f"{r['acts_ms']:8.1f} ms   Grad-CAM {r['cam_ms']:8.1f} ms"
                )
            failures += [f"{kind}: {p}" for p in _compare(cpu, other)]
    if failures:
        print("DISAGREE:\n  " + "\n  ".join(failures))
        return 1
    print(f"{args.device} agrees with the CPU within tolerance.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
