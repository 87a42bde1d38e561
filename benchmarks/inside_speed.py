"""How fast the Look inside page answers: activations + Grad-CAM, against what they cost.

    .venv/bin/python benchmarks/inside_speed.py [--repeats 7] [--threads 2]

- lenet5-digits, a drawn digit: what one stroke triggers (preprocess the canvas, record every
  stage, draw every grid, Grad-CAM at the default layer). Target: within 100 ms.
- resnet50 on the CPU (random weights: the time does not depend on the values), 224×224:
  activations (one recorded forward) + Grad-CAM at layer4 (forward, backward to layer4),
  against one plain forward + one full backward of the same network. Target: within 2×.

Best of `repeats` runs, interleaved so that both sides see the same machine load (the machine
may be shared: compare the ratios, not the absolute numbers).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from PIL import Image, ImageDraw

from explorer.inside import activations, cam
from explorer.inside import pictures as activation_pictures
from explorer.labs import predict
from explorer.weights import loading as weights
from explorer.weights.model_cache import private_copy


def _best(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    for fn in fns.values():
        fn()  # warm-up
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - start) * 1000)
    return {k: min(v) for k, v in times.items()}


def _drawn_seven() -> Image.Image:
    """What the canvas sends: a 240×240 RGB picture, black strokes on white."""
    picture = Image.new("RGB", (240, 240), "white")
    draw = ImageDraw.Draw(picture)
    draw.line([(60, 50), (180, 50), (110, 200)], fill="black", width=18)
    return picture


def lenet(repeats: int) -> None:
    loaded = weights.load("lenet5-digits", device="cpu")
    picture = _drawn_seven()

    def stroke() -> None:
        acts = activations.record(loaded, picture)
        scale = activation_pictures.overview_scale(acts)
        for layer in acts.spatial_layers:
            activation_pictures.feature_grid(layer, scale)
        x = predict.preprocessor_for(loaded).single(picture)
        cam.class_maps(loaded, x)

    def record_only() -> None:
        activations.record(loaded, picture)

    best = _best({"stroke": stroke, "record": record_only}, repeats)
    verdict = "within" if best["stroke"] <= 100 else "OVER"
    print(
        f"lenet5-digits, one stroke: {best['stroke']:.1f} ms (activations alone "
        f"{best['record']:.1f} ms) — {verdict} the 100 ms target"
    )


def resnet(repeats: int) -> None:
    torch.manual_seed(0)
    loaded = weights.load("resnet50", "random", device="cpu")
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    plain = private_copy(loaded.model)
    for p in plain.parameters():
        p.requires_grad_(True)

    def forward_backward() -> None:
        out = plain(x)
        out[0, int(out[0].argmax())].backward()
        for p in plain.parameters():
            p.grad = None

    def look_inside() -> None:
        activations.record_tensor(loaded, x)
        cam.class_maps(loaded, x, layer="layer4.2")

    def record_only() -> None:
        activations.record_tensor(loaded, x)

    def gradcam_only() -> None:
        cam.class_maps(loaded, x, layer="layer4.2")

    def forward_only() -> None:
        with torch.inference_mode():
            loaded.model(x)

    best = _best(
        {
            "base": forward_backward,
            "ours": look_inside,
            "record": record_only,
            "cam": gradcam_only,
            "forward": forward_only,
        },
        repeats,
    )
    ratio = best["ours"] / best["base"]
    verdict = "within" if ratio <= 2 else "OVER"
    print(
        f"resnet50 (CPU, 224×224): activations + Grad-CAM {best['ours']:.0f} ms "
        f"(activations {best['record']:.0f} ms, Grad-CAM {best['cam']:.0f} ms); one forward + "
        f"one backward {best['base']:.0f} ms (plain forward {best['forward']:.0f} ms); "
        f"ratio {ratio:.2f}× — {verdict} the 2× target"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, best of {args.repeats}")
    lenet(args.repeats)
    resnet(max(3, args.repeats // 2))


if __name__ == "__main__":
    main()
