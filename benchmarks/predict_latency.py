"""Per-image latency of explorer.labs.predict vs a bare torchvision eval loop, on the same device.

    .venv/bin/python benchmarks/predict_latency.py [--device cpu|cuda|mps] [--repeats 5]

For resnet50 and lenet5-digits: one image, a batch of 32, and ten-crop. Both sides include
preprocessing from a decoded PIL image, run under torch.inference_mode() in eval mode, and on
CUDA use channels-last + autocast like the explorer. resnet50 runs with random weights when its
file is not cached (latency does not depend on the values). Prints the best-of-N milliseconds per
image and the ratio explorer / bare (1.00 = no overhead).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from torchvision.transforms import v2

from explorer.core import devices, images
from explorer.labs import digits, predict
from explorer.weights import loading as weights


def _best_ms(a: Callable[[], object], b: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Fastest of `repeats` runs of each, interleaved so that both see the same machine load
    (the minimum is the least noisy estimate on a shared machine)."""
    a(), b()  # warm-up (lazy initialisation, cudnn autotuning)
    ta, tb = [], []
    for _ in range(repeats):
        for fn, out in ((a, ta), (b, tb)):
            start = time.perf_counter()
            fn()
            out.append((time.perf_counter() - start) * 1000)
    return min(ta), min(tb)


def _bare(
    loaded: weights.LoadedModel, transform: Callable[..., torch.Tensor]
) -> Callable[..., torch.Tensor]:
    """The loop a tutorial writes: transform, stack, forward, softmax."""
    model, device = loaded.model, loaded.device

    def run(batch: torch.Tensor) -> torch.Tensor:
        x = batch.to(device)
        if device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), devices.autocast(device):
            probs = model(x).float().softmax(-1).cpu()
        devices.synchronize(device)
        return probs

    return run


def bench(name: str, loaded: weights.LoadedModel, picture: object, repeats: int) -> None:
    pre = predict.preprocessor_for(loaded)
    if loaded.tv_weights is not None:  # what a torchvision tutorial writes
        transform = loaded.tv_weights.transforms()
        crop_all = v2.Compose(
            [v2.Resize(transform.resize_size, antialias=True), v2.TenCrop(transform.crop_size)]
        )
        per_crop = v2.Compose(
            [
                v2.PILToTensor(),
                v2.ToDtype(torch.float32, scale=True),
                v2.Normalize(transform.mean, transform.std),
            ]
        )

        def ten(img: object) -> torch.Tensor:
            return torch.stack([per_crop(c) for c in crop_all(img)])
    else:  # lenet5-digits: its own preprocessing has no torchvision equivalent
        transform, ten = pre.single, pre.ten_crop
    forward = _bare(loaded, transform)
    batch = [picture] * 32
    rows = [
        (
            "single image",
            1,
            lambda: predict.predict(loaded, picture),
            lambda: forward(transform(picture)[None]),
        ),
        (
            "batch of 32",
            32,
            lambda: predict.predict_many(loaded, batch),
            lambda: forward(torch.stack([transform(p) for p in batch])),
        ),
        (
            "ten-crop",
            1,
            lambda: predict.ten_crop_predict(loaded, picture),
            lambda: forward(ten(picture)).mean(0),
        ),
    ]
    for label, n, ours, theirs in rows:
        e, b = (t / n for t in _best_ms(ours, theirs, repeats))
        print(
            f"{name:<14} {label:<13} {loaded.device!s:<6} explorer {e:9.2f} ms/img   "
            f"bare {b:9.2f} ms/img   ratio {e / b:5.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--threads", type=int, default=0, help="CPU threads (0: torch's default); 1 is steadiest"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = devices.pick_device(args.device)
    torch.manual_seed(0)
    resnet_weights = "DEFAULT" if weights.find("resnet50").cached else weights.RANDOM
    photo = images.load_sample(images.sample_names()[0])
    digit, _ = digits.sample_photo(0)
    print(
        f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, "
        f"resnet50 weights: {resnet_weights}"
    )
    bench("lenet5-digits", weights.load("lenet5-digits", device=device), digit, args.repeats)
    bench("resnet50", weights.load("resnet50", resnet_weights, device=device), photo, args.repeats)


if __name__ == "__main__":
    main()
