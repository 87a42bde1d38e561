"""lenet5-digits on print as well as handwriting: the shipped weights' accuracies.

    python benchmarks/digits_printed.py [--per-digit 5]

For each shipped model: the held-out handwriting (scikit-learn's 360 held-out digits), the
360 generated photos of held-out handwriting (explorer.labs.digits.held_out_photos), and
photos of printed digits in fonts the training never saw (digit_photos.HELD_OUT_FONTS: STIX
and Computer Modern, `per_digit` photos of each digit in each font), per font, and the
40-photo check (the first four unseen fonts, one photo of each digit).
"""

from __future__ import annotations

import argparse
from collections import Counter

import torch

from explorer.labs import digit_photos, digits
from explorer.weights import loading as weights
from explorer.weights import shipped


def _read(model: torch.nn.Module, photos: list[tuple[object, int, str]]) -> list[bool]:
    x = torch.stack([digits.preprocess_photo(p) for p, _, _ in photos])  # type: ignore[arg-type]
    with torch.inference_mode():
        predicted = model(x).argmax(1).tolist()
    return [p == label for p, (_, label, _) in zip(predicted, photos)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-digit", type=int, default=5)
    per_digit = parser.parse_args(argv).per_digit
    unseen = list(digit_photos.printed_set(digit_photos.HELD_OUT_FONTS, per_digit, seed=1))
    check = list(digit_photos.printed_set(digit_photos.HELD_OUT_FONTS[:4], 1, seed=7))
    handwritten = list(digits.held_out_photos(360, seed=0))
    data = digits.load_data()
    print(f"training fonts: {', '.join(digit_photos.TRAINING_FONTS)}")
    print(f"unseen fonts:   {', '.join(digit_photos.HELD_OUT_FONTS)}\n")
    for name in shipped.SHIPPED:
        model = weights.load("lenet5", name, device="cpu").model
        hand = digits.accuracy(model, data.x_test, data.y_test)
        photos = _read(model, handwritten)  # type: ignore[arg-type]
        printed = _read(model, unseen)  # type: ignore[arg-type]
        forty = _read(model, check)  # type: ignore[arg-type]
        by_font = Counter(font for (_, _, font), ok in zip(unseen, printed) if ok)
        print(f"{name}: handwriting held out {hand:.2%} ({round(hand * 360)}/360); "
              f"handwritten photos {sum(photos)}/360; printed, unseen fonts "
              f"{sum(printed)}/{len(printed)} ({sum(printed) / len(printed):.1%}); "
              f"the 40-photo check {sum(forty)}/40")  # fmt: skip
        print("   per font: " + ", ".join(
            f"{f} {by_font[f]}/{10 * per_digit}" for f in digit_photos.HELD_OUT_FONTS))


if __name__ == "__main__":
    main()
