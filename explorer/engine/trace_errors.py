"""Clear errors for inputs a network cannot take: which layer, and the arithmetic why."""

from __future__ import annotations

from torch import nn

from explorer.core.errors import ExplorerError, InputSizeError, InputTooSmallError
from explorer.core.hyper import describe, module_hyper
from explorer.core.layer_math import first_dim_formula, lecture_shape

Shapes = tuple[tuple[int, ...], ...]


def _spatial(shape: tuple[int, ...]) -> str:
    return "×".join(str(d) for d in shape[2:]) if len(shape) > 2 else "×".join(map(str, shape))


def too_small(
    named: list[tuple[str, nn.Module]],
    i: int,
    in_shapes: list[Shapes],
    out_shapes: list[Shapes],
    label: str,
    input_shape: tuple[int, ...],
    hint: str,
    cause: Exception | None = None,
) -> ExplorerError:
    """A clear error naming the layer where the input stopped fitting, with the arithmetic."""
    mod_name, module = named[i]
    # the lecture's n_H×n_W×n_C for an image, PyTorch's order for anything else
    size = lecture_shape(input_shape) if len(input_shape) == 4 else "×".join(
        map(str, input_shape[1:]))  # fmt: skip
    hyper = module_hyper(module)
    detail = describe(hyper)
    if mod_name:
        where = f"layer {mod_name!r} ({type(module).__name__}"
    else:
        where = f"the network's own input check ({type(module).__name__}"
    where += f", {detail})" if detail else ")"
    got = in_shapes[i][0] if in_shapes[i] else None
    formula = first_dim_formula(hyper, got) if got is not None else None
    if got is not None and formula is not None and formula[1] < 1:
        text, _ = formula
        return InputTooSmallError(
            f"Input {size} is too small for {label}: at {where} the feature map is "
            f"{_spatial(got)}, and {text} < 1.{hint}"
        )
    if cause is None:  # a leaf's output collapsed to 0 pixels
        out = out_shapes[i][0] if out_shapes[i] else ()
        return InputTooSmallError(
            f"Input {size} is too small for {label}: at {where} the output is "
            f"{_spatial(out)}, below 1 pixel.{hint}"
        )
    first_line = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    first_line = first_line.rstrip(".!")
    if (
        got is not None
        and "in_channels" in hyper
        and len(got) >= 2
        and got[1] != hyper["in_channels"]
    ):
        first_line = f"it expects {hyper['in_channels']} input channels but receives {got[1]}"
    elif got is not None and "in_features" in hyper and got and got[-1] != hyper["in_features"]:
        first_line = (
            f"this fully connected layer expects {hyper['in_features']} features but receives "
            f"{got[-1]}, so the network only accepts the input size it was designed for"
        )
    return InputSizeError(
        f"{label} cannot run on input {size}: at {where}: {first_line}.{hint}"
    )
