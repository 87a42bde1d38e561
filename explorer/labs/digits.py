"""`lenet5-digits`: the lecture's LeNet-5 trained on scikit-learn's handwritten digits.

The data: `sklearn.datasets.load_digits`, 1,797 images of 8×8 pixels with values 0..16, white
ink on black. A photo of a digit on paper goes through exactly the same preparation as those
8×8 images (`prepare_digit`), so that what the network sees at test time looks like what it saw
in training:

1. grayscale in [0, 1]; if the border is light (dark ink on paper), invert;
2. stretch the contrast from the background level to the ink level;
3. crop to the ink's bounding box and pad it to a square;
4. resize to 64×64 and thicken thin pen strokes until the ink covers about as much of the
   square as in the training digits (a no-op for those);
5. resize to 24×24 and centre it in a 32×32 canvas (a 4-pixel margin, like MNIST's);
6. normalise to [-1, 1] (`(x - 0.5) / 0.5`), the range of LeNet's tanh units.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from explorer.core.errors import ImageError
from explorer.labs import digit_photos

SIZE = 32  # LeNet-5's input
BOX = 24  # the digit's longest side inside the 32×32 canvas
WORK = 64  # working resolution for stroke thickening
INK_LEVEL = 0.25  # a pixel is ink above this (after contrast stretch)
INK_COVER = 0.30  # thicken strokes until the ink covers this share of the square
MEAN, STD = 0.5, 0.5

DEFAULT_SEED = 0
DEFAULT_EPOCHS = 20
TEST_SIZE = 0.2


# --------------------------------------------------------------------------- preprocessing


def prepare_digit(gray: np.ndarray) -> torch.Tensor:
    """A (1, 32, 32) tensor in [0, 1], white ink on black, from a 2-D grayscale array in [0, 1].

    Works the same for an 8×8 training digit and for a photo of a digit on paper.
    """
    a = np.asarray(gray, dtype=np.float32)
    if a.ndim != 2 or min(a.shape) < 2:
        raise ImageError("A digit image must be a 2-D picture at least 2×2 pixels.")
    border = np.concatenate([a[0], a[-1], a[1:-1, 0], a[1:-1, -1]])
    background = float(np.median(border))
    if background > 0.5:  # dark ink on light paper
        a = 1.0 - a
        background = 1.0 - background
    ink = float(np.percentile(a, 99))
    if ink - background < 0.05:
        raise ImageError("No digit found: the image has almost no contrast (is it blank?).")
    a = np.clip((a - background) / (ink - background), 0.0, 1.0)

    rows = np.flatnonzero((a > INK_LEVEL).any(axis=1))
    cols = np.flatnonzero((a > INK_LEVEL).any(axis=0))
    crop = a[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = crop.shape
    side = max(h, w)
    square = np.zeros((side, side), dtype=np.float32)
    top, left = (side - h) // 2, (side - w) // 2
    square[top : top + h, left : left + w] = crop

    t = torch.from_numpy(square)[None, None]
    t = F.interpolate(t, size=(WORK, WORK), mode="bilinear", align_corners=False, antialias=True)
    for _ in range(8):  # thin pen strokes: dilate until the ink covers like the training digits
        if float((t > INK_LEVEL).float().mean()) >= INK_COVER:
            break
        t = F.max_pool2d(t, kernel_size=3, stride=1, padding=1)
    t = F.interpolate(t, size=(BOX, BOX), mode="bilinear", align_corners=False, antialias=True)
    canvas = torch.zeros(1, 1, SIZE, SIZE)
    margin = (SIZE - BOX) // 2
    canvas[:, :, margin : margin + BOX, margin : margin + BOX] = t.clamp(0, 1)
    return canvas[0]


def normalize(x: torch.Tensor) -> torch.Tensor:
    return (x - MEAN) / STD


def image_to_gray(image: Image.Image, max_side: int = 512) -> np.ndarray:
    """A PIL image as a grayscale array in [0, 1], downscaled so its longest side <= max_side."""
    gray = image.convert("L")
    if max(gray.size) > max_side:
        gray = gray.copy()
        gray.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return np.asarray(gray, dtype=np.float32) / 255.0


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold: the level that best splits `values` (in [0, 1]) into two classes,
    maximising the between-class variance. (Hand-written in numpy: scikit-image's
    `threshold_otsu` does the same, but is not a dependency of this project.)"""
    hist, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    centres = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(hist).astype(np.float64)
    total = weight[-1]
    mean = np.cumsum(hist * centres)
    w0, w1 = weight[:-1], total - weight[:-1]
    valid = (w0 > 0) & (w1 > 0)
    between = np.zeros_like(w0)
    m0 = mean[:-1][valid] / w0[valid]
    m1 = (mean[-1] - mean[:-1][valid]) / w1[valid]
    between[valid] = w0[valid] * w1[valid] * (m0 - m1) ** 2
    return float(edges[1:][int(np.argmax(between))])


PHOTO_SIDE = 160  # photos are cleaned at this size (longest side)


def clean_photo(gray: np.ndarray) -> np.ndarray:
    """A photo of a digit on paper as light ink on a black background, nothing else.

    1. ink is made the bright part (dark ink on light paper is inverted);
    2. the paper's own brightness, uneven lighting and shadows included, is estimated by a
       grey-level opening wider than any pen stroke, and subtracted;
    3. Otsu's threshold splits ink from paper; what touches the frame (a desk, the sheet's
       edge) and specks far smaller than the digit's largest stroke are dropped, and every
       pixel outside the ink is set to exactly 0.

    So paper, shadow and noise never reach the crop-to-ink step of `prepare_digit`, which
    then treats the photo exactly like a training digit.
    """
    from scipy import ndimage

    a = np.asarray(gray, dtype=np.float32)
    if a.ndim != 2 or min(a.shape) < 8:
        return a  # tiny pictures (an 8×8 digit) need no cleaning
    if float(np.median(a)) > 0.5:  # most of a photo is paper (the border may be a desk)
        a = 1.0 - a  # dark ink on light paper: the ink becomes the bright part
    window = max(5, int(max(a.shape) / 3) | 1)  # far wider than a pen stroke
    background = ndimage.uniform_filter(ndimage.grey_opening(a, size=window), size=window)
    ink = np.clip(a - background, 0.0, None)
    top = float(np.percentile(ink, 99.5))
    if top < 0.05:
        raise ImageError("No digit found: the image has almost no contrast (is it blank?).")
    ink = np.clip(ink / top, 0.0, 1.0)
    mask = ink > otsu_threshold(ink)
    labels, count = ndimage.label(mask)
    if count > 1:
        ids = np.arange(1, count + 1)
        sizes = ndimage.sum(mask, labels, index=ids)
        edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
        inside = ~np.isin(ids, edge)
        if inside.any():  # a desk or the sheet's edge touches the frame; the digit does not
            sizes = np.where(inside, sizes, 0)
        keep = ids[sizes >= 0.15 * sizes.max()]
        mask = np.isin(labels, keep)
    mask = ndimage.binary_dilation(mask, iterations=1)  # keep the strokes' soft edges
    return np.where(mask, ink, 0.0).astype(np.float32)


def photo_digit(image: Image.Image) -> torch.Tensor:
    """A photo of a digit as a (1, 32, 32) tensor in [0, 1], white ink on black."""
    return prepare_digit(clean_photo(image_to_gray(image, PHOTO_SIDE)))


def preprocess_photo(image: Image.Image) -> torch.Tensor:
    """What `lenet5-digits` sees of a photo: a normalised (1, 32, 32) tensor."""
    return normalize(photo_digit(image))


class DigitTransform:
    """The `lenet5-digits` preprocessing as a transform (PIL image -> (1, 32, 32) tensor)."""

    crop_size = (SIZE, SIZE)

    def __call__(self, image: Image.Image) -> torch.Tensor:
        return preprocess_photo(image)

    def __repr__(self) -> str:
        return "DigitTransform(grayscale, auto-invert, crop to ink, pad, 32×32, [-1, 1])"


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class DigitsData:
    """sklearn's digits, prepared: x in [0, 1] (N, 1, 32, 32), labels (N,), fixed split."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    raw_test: np.ndarray  # the held-out 8×8 images (0..16), for display


@functools.lru_cache(maxsize=4)  # bounded: seeds come from users
def raw_split(seed: int = DEFAULT_SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The split without any preparation (fast): all 8×8 images (0..16), all labels, the
    training and the held-out indices. The Predict page's sample digits need only this."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    idx_train, idx_test = train_test_split(
        np.arange(len(digits.target)),
        test_size=TEST_SIZE,
        stratify=digits.target,
        random_state=seed,
    )
    return digits.images, digits.target, idx_train, idx_test


@functools.lru_cache(maxsize=4)  # bounded: a seed is ~8 MB, and seeds come from users
def load_data(seed: int = DEFAULT_SEED) -> DigitsData:
    """The digits with a stratified 80/20 split fixed by `seed` (360 held-out images)."""
    raw, target, idx_train, idx_test = raw_split(seed)
    images = raw.astype(np.float32) / 16.0
    prepared = torch.stack([prepare_digit(img) for img in images])
    labels = torch.as_tensor(target, dtype=torch.long)
    data = DigitsData(
        x_train=prepared[idx_train],
        y_train=labels[idx_train],
        x_test=prepared[idx_test],
        y_test=labels[idx_test],
        raw_test=raw[idx_test],
    )
    return data


# Printed digits beside the handwriting: photos of every digit in each training font
# (explorer.labs.digit_photos.TRAINING_FONTS), cleaned as any photo is. Fonts kept out of
# training check how well the model reads print it has never seen.
PRINTED_PER_DIGIT = 4


def held_out_photos(n: int = 360, seed: int = 0) -> Iterator[tuple[Image.Image, int, str]]:
    """`n` generated photos of the held-out handwritten digits (explorer.labs.digit_photos):
    (photo, label, pen name)."""
    images, labels, _, held_out = raw_split(DEFAULT_SEED)
    return digit_photos.photo_set(images[held_out], labels[held_out], n, seed)


@functools.lru_cache(maxsize=2)
def printed_training(per_digit: int = PRINTED_PER_DIGIT, seed: int = 0) -> tuple[
    torch.Tensor, torch.Tensor
]:
    """Photos of printed digits in the training fonts, prepared: x in [0, 1] (N, 1, 32, 32)
    and labels (N,), the same on every run."""
    pictures = digit_photos.printed_set(digit_photos.TRAINING_FONTS, per_digit, seed)
    xs, ys = [], []
    for picture, label, _ in pictures:
        xs.append(photo_digit(picture))
        ys.append(label)
    return torch.stack(xs), torch.as_tensor(ys, dtype=torch.long)


# --------------------------------------------------------------------------- training


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Small random rotations (±10°), scalings (0.9-1.1) and shifts (±2 px), per image."""
    n = x.shape[0]
    angle = (torch.rand(n, generator=gen) * 2 - 1) * (10 * np.pi / 180)
    scale = 0.9 + 0.2 * torch.rand(n, generator=gen)
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * (2 * 2 / SIZE)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")


@torch.inference_mode()
def accuracy(model: nn.Module, x01: torch.Tensor, y: torch.Tensor) -> float:
    """Share of images in [0, 1] (N, 1, 32, 32) that `model` classifies correctly."""
    model.eval()
    pred = model(normalize(x01)).argmax(1)
    return float((pred == y).float().mean())


@dataclass(frozen=True)
class TrainReport:
    seed: int
    split_seed: int
    epochs: int
    batch_size: int
    lr: float
    train_size: int
    test_size: int
    test_correct: int
    test_accuracy: float
    seconds: float
    losses: tuple[float, ...]
    printed_size: int = 0  # of train_size: photos of printed digits (the rest handwriting)


Progress = Callable[[int, int, float, float], None]  # epoch, epochs, loss, test accuracy


def train(
    *,
    epochs: int = DEFAULT_EPOCHS,
    seed: int = DEFAULT_SEED,
    split_seed: int = DEFAULT_SEED,
    batch_size: int = 64,
    lr: float = 3e-3,
    printed: bool = True,
    progress: Progress | None = None,
) -> tuple[nn.Module, TrainReport]:
    """Train the lecture's LeNet-5 on the digits' training split, reproducibly from `seed`
    (initialisation, shuffling, augmentation); `split_seed` fixes the held-out split, the same
    for every model so that their accuracies (and an ensemble's) are comparable."""
    from explorer.analysis.building import build_model

    if epochs < 1:
        raise ValueError("epochs must be at least 1")
    start = time.perf_counter()
    data = load_data(split_seed)
    x_train, y_train = data.x_train, data.y_train
    if printed:  # handwriting and print, shuffled together
        x_print, y_print = printed_training()
        x_train, y_train = torch.cat([x_train, x_print]), torch.cat([y_train, y_print])
    init = torch.Generator().manual_seed(seed)  # the weights: never the global RNG
    gen = torch.Generator().manual_seed(seed)  # shuffling and augmentation
    model = build_model("lenet5", generator=init)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    losses = []
    n = len(y_train)
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(n, generator=gen)
        total = 0.0
        for i in range(0, n, batch_size):
            idx = order[i : i + batch_size]
            xb = normalize(_augment(x_train[idx], gen))
            loss = F.cross_entropy(model(xb), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
        losses.append(total / n)
        if progress is not None:
            progress(epoch, epochs, losses[-1], accuracy(model, data.x_test, data.y_test))
    model.eval()
    acc = accuracy(model, data.x_test, data.y_test)
    report = TrainReport(
        seed=seed,
        split_seed=split_seed,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        train_size=n,
        test_size=len(data.y_test),
        test_correct=round(acc * len(data.y_test)),
        test_accuracy=acc,
        seconds=time.perf_counter() - start,
        losses=tuple(losses),
        printed_size=n - len(data.y_train),
    )
    return model, report


def save(model: nn.Module, report: TrainReport, path: str | Path) -> Path:
    """Write the weights as safetensors and the training metadata as JSON next to them, as one
    atomic pair (explorer.core.safe_io.atomic_write_all: never new weights beside old
    metadata); the folder must exist and `path` must end in .safetensors."""
    from safetensors.torch import save

    from explorer.core.safe_io import atomic_write_all, output_path

    path = output_path(path, suffixes=(".safetensors",), what="weights file")
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    data = save(state, metadata={"architecture": "lenet5", "weights": path.stem})
    meta: dict[str, Any] = {
        "architecture": "lenet5",
        "weights": path.stem,
        "dataset": "sklearn.datasets.load_digits (1,797 8×8 images)"
        + (
            f", and {report.printed_size} photos of printed digits (explorer.labs.digit_photos:"
            f" {PRINTED_PER_DIGIT} of each digit in each of the "
            f"{report.printed_size // (10 * PRINTED_PER_DIGIT)} training fonts)"
            if report.printed_size
            else ""
        ),
        "split": f"stratified train_test_split(test_size={TEST_SIZE}, random_state=split_seed)",
        "preprocessing": "explorer.labs.digits.prepare_digit, then (x - 0.5) / 0.5",
        "augmentation": "random rotation ±10°, scale 0.9-1.1, shift ±2 px",
        "optimizer": "Adam, cosine learning-rate schedule, cross-entropy",
        **{k: v for k, v in asdict(report).items() if k not in ("losses", "seconds")},
        "final_train_loss": report.losses[-1],
        "torch": torch.__version__,
        "sha256": hashlib.sha256(data).hexdigest(),
        "command": (
            f"explorer train lenet5-digits --epochs {report.epochs} --seed {report.seed} "
            f"-o {path.name}"
        ),
    }
    text = json.dumps(meta, indent=2, ensure_ascii=False) + "\n"
    atomic_write_all({path: data, path.with_suffix(".json"): text.encode("utf-8")})  # one change
    return path


@torch.inference_mode()
def held_out_accuracies(
    models: list[nn.Module], seed: int = DEFAULT_SEED
) -> tuple[list[float], float]:
    """Each model's accuracy on the held-out split, and that of their averaged probabilities."""
    data = load_data(seed)
    x = normalize(data.x_test)
    probs = []
    for model in models:
        model.eval()
        device = next(model.parameters()).device
        probs.append(model(x.to(device)).float().softmax(-1).cpu())
    each = [float((p.argmax(1) == data.y_test).float().mean()) for p in probs]
    mean = torch.stack(probs).mean(0)
    return each, float((mean.argmax(1) == data.y_test).float().mean())


def _sample(index: int, seed: int) -> tuple[np.ndarray, int]:
    """Held-out sample `index`: its 8×8 pixels (0 … 16) and its label."""
    images, target, _, idx_test = raw_split(seed)
    k = int(idx_test[index % len(idx_test)])
    return images[k], int(target[k])


def sample_label(index: int, seed: int = DEFAULT_SEED) -> int:
    """The digit that held-out sample `index` shows (what sample_photo draws)."""
    return _sample(index, seed)[1]


def sample_photo(index: int, seed: int = DEFAULT_SEED) -> tuple[Image.Image, int]:
    """A held-out digit drawn as dark ink on light paper (160×160 RGB), and its label: what a
    photo of a handwritten digit looks like, for trying the preprocessing."""
    pixels, label = _sample(index, seed)
    raw = pixels / 16.0
    small = Image.fromarray(np.uint8(235 - 215 * raw), mode="L")
    big = small.resize((112, 112), Image.Resampling.BICUBIC)
    paper = Image.new("L", (160, 160), 235)
    paper.paste(big, (24, 24))
    return paper.convert("RGB"), label
