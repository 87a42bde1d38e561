"""Typed, bounded parameters of an augmentation step, and the step's base class.

Each augmentation is a frozen dataclass whose fields are its parameters, each with bounds
(`ParamSpec`) that are checked on construction (`SpecError` when out of range) and that the UI
turns into sliders. `to_transform()` gives the torchvision v2 transform; `to_code()` the same
call as Python source, so the exported code and the preview cannot disagree. `output_bound()`
is the largest picture the step can make from a given one, for budgets checked before work.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from torchvision.transforms import v2

from explorer.core.errors import SpecError
from explorer.labs.augment.pca import PCAColorJitter


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of an augmentation: what the UI shows and what validation enforces."""

    name: str
    label: str
    kind: str  # "float", "int", "bool" or "choice"
    default: Any
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""


def _param(
    default: Any,
    label: str,
    *,
    low: float | None = None,
    high: float | None = None,
    step: float | None = None,
    choices: Sequence[str] = (),
    help: str = "",
) -> Any:
    meta = {"label": label, "low": low, "high": high, "step": step, "choices": tuple(choices),
            "help": help}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class _Ref:
    """A dotted name (e.g. `v2.InterpolationMode.BILINEAR`) used as an argument value."""

    path: str

    def resolve(self) -> Any:
        head, *rest = self.path.split(".")
        value: Any = _CODE_NAMESPACE[head]
        for part in rest:
            value = getattr(value, part)
        return value


_CODE_NAMESPACE: dict[str, Any] = {"v2": v2, "PCAColorJitter": PCAColorJitter}


def _interp(name: str) -> _Ref:
    return _Ref(f"v2.InterpolationMode.{name.upper()}")


@dataclass(frozen=True)
class Augmentation:
    """Base of all augmentation steps. Subclasses set the class constants and `_call()`."""

    KIND: ClassVar[str] = ""  # the JSON "type"
    TITLE: ClassVar[str] = ""
    GROUP: ClassVar[str] = ""  # "Geometry", "Colour", "Policies", "Occlusion"
    LECTURE: ClassVar[bool] = True  # named in the lecture, or beyond it
    DESCRIPTION: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for spec in self.params():
            value = getattr(self, spec.name)
            _check_value(self.KIND, spec, value)
            if spec.kind == "float" and isinstance(value, int):
                object.__setattr__(self, spec.name, float(value))
        self._check()

    def _check(self) -> None:
        """Cross-parameter checks (e.g. min ≤ max); raise SpecError."""

    def _call(self) -> tuple[str, dict[str, Any]]:
        """(callable path, keyword arguments), e.g. ("v2.RandomHorizontalFlip", {"p": 0.5})."""
        raise NotImplementedError

    @classmethod
    def params(cls) -> tuple[ParamSpec, ...]:
        specs = []
        for f in dataclasses.fields(cls):
            meta = f.metadata
            if meta.get("choices"):
                kind = "choice"
            elif isinstance(f.default, bool):
                kind = "bool"
            elif isinstance(f.default, int):
                kind = "int"
            else:
                kind = "float"
            specs.append(ParamSpec(f.name, meta["label"], kind, f.default, meta["low"],
                                   meta["high"], meta["step"], meta["choices"], meta["help"]))
        return tuple(specs)

    def to_transform(self) -> v2.Transform:
        path, kwargs = self._call()
        factory = _Ref(path).resolve()
        return factory(**{k: _resolve(v) for k, v in kwargs.items()})

    def to_code(self) -> str:
        path, kwargs = self._call()
        return f"{path}({', '.join(f'{k}={_code(v)}' for k, v in kwargs.items())})"

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.KIND, **{p.name: getattr(self, p.name) for p in self.params()}}

    def replace(self, **changes: Any) -> Augmentation:
        return dataclasses.replace(self, **changes)

    def output_bound(self, height: int, width: int) -> tuple[int, int]:
        """The largest (height, width) this step can output from a height×width picture
        (most steps keep the size; resizes, crops, padding and expanding rotations override)."""
        return height, width


def _check_value(kind: str, spec: ParamSpec, value: Any) -> None:
    where = f"{kind}.{spec.name}"
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise SpecError(f"{where} must be true or false, not {value!r}.", token=spec.name)
        return
    if spec.kind == "choice":
        if value not in spec.choices:
            raise SpecError(f"{where} must be one of {', '.join(spec.choices)}; got {value!r}.",
                            token=spec.name)
        return
    allowed = isinstance(value, int) if spec.kind == "int" else isinstance(value, (int, float))
    if isinstance(value, bool) or not allowed:
        noun = "a whole number" if spec.kind == "int" else "a number"
        raise SpecError(f"{where} must be {noun}, not {value!r}.", token=spec.name)
    number = float(value)
    if not math.isfinite(number):
        raise SpecError(f"{where} must be finite, not {value!r}.", token=spec.name)
    low, high = spec.low, spec.high
    if (low is not None and number < low) or (high is not None and number > high):
        raise SpecError(f"{where} = {value!r} is outside the allowed range [{low}, {high}].",
                        token=spec.name)


def _ordered(kind: str, low_name: str, low: float, high_name: str, high: float) -> None:
    if low > high:
        raise SpecError(f"{kind}: {low_name} ({low}) must not exceed {high_name} ({high}).",
                        token=low_name)


def _resolve(value: Any) -> Any:
    if isinstance(value, _Ref):
        return value.resolve()
    if isinstance(value, tuple):
        return tuple(_resolve(v) for v in value)
    return value


def _code(value: Any) -> str:
    if isinstance(value, _Ref):
        return value.path
    if isinstance(value, tuple):
        inner = ", ".join(_code(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value)

