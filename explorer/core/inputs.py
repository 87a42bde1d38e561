"""Input signatures: what a model's forward is called with, described without any data.

A signature is positional arguments and keyword arguments, each a tree of tensors (a single
tensor, a tuple or list of trees, or a dict of them), each tensor a shape and a dtype. It is
what `explorer.analysis.trace` builds its example inputs from, on the meta device (no memory), and
what
a real forward in a test builds them from (`make(..., device="cpu")`).

Where signatures come from:
- `parse("1x16:int64, mask=1x16:bool")`: the CLI's `--input` and the Custom network page.
  Tensors are `DIMxDIM...[:dtype]` (`x` or `×`), separated by commas; `name=...` is a keyword
  argument; `(...)`, `[...]` and `{key: ..., ...}` are a tuple, a list and a dict input;
- `of(...)`: example values (real tensors, made meta without copying data) or shapes;
- `image(c, h, w, batch)`: the (N, C, H, W) float image every catalog network takes.

Text is parsed by a small hand-written recursive descent parser (never eval'd); sizes are
checked before anything is made (`MAX_TENSORS`, `MAX_DIMS`, `MAX_ELEMENTS`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from explorer.core import limits
from explorer.core.errors import InputSizeError

DTYPES: dict[str, torch.dtype] = {
    "float": torch.float32, "float32": torch.float32, "f32": torch.float32,
    "double": torch.float64, "float64": torch.float64,
    "half": torch.float16, "float16": torch.float16, "bfloat16": torch.bfloat16,
    "long": torch.int64, "int64": torch.int64, "int": torch.int32, "int32": torch.int32,
    "int16": torch.int16, "int8": torch.int8, "uint8": torch.uint8, "bool": torch.bool,
    "complex64": torch.complex64,
}  # fmt: skip
MAX_TENSORS = limits.SIGNATURE_MAX_TENSORS
MAX_DIMS = limits.SIGNATURE_MAX_DIMS
MAX_ELEMENTS = limits.SIGNATURE_MAX_ELEMENTS
MAX_NESTING = limits.SIGNATURE_MAX_NESTING


@dataclass(frozen=True)
class TensorSpec:
    """One tensor: its full shape (batch included) and dtype name ("float32", "int64", ...)."""

    shape: tuple[int, ...]
    dtype: str = "float32"

    @property
    def torch_dtype(self) -> torch.dtype:
        return DTYPES[self.dtype]

    def __str__(self) -> str:
        dims = "×".join(map(str, self.shape)) or "scalar"
        return dims if self.dtype == "float32" else f"{dims}:{self.dtype}"


@dataclass(frozen=True)
class SeqSpec:
    """A tuple or list input of trees."""

    items: tuple[Node, ...]
    kind: str = "tuple"  # "tuple" or "list"

    def __str__(self) -> str:
        inner = ", ".join(map(str, self.items))
        if self.kind == "list":
            return f"[{inner}]"
        return f"({inner},)" if len(self.items) == 1 else f"({inner})"


@dataclass(frozen=True)
class DictSpec:
    """A dict input: keys in order, each with its tree."""

    items: tuple[tuple[str, Node], ...]

    def __str__(self) -> str:
        return "{" + ", ".join(f"{k}: {v}" for k, v in self.items) + "}"


@dataclass(frozen=True)
class ConstSpec:
    """A plain Python value passed as it is (`return_features=True`, `scale=0.5`, `None`)."""

    value: bool | int | float | str | None

    def __str__(self) -> str:
        return repr(self.value)


Node = TensorSpec | SeqSpec | DictSpec | ConstSpec


@dataclass(frozen=True)
class Signature:
    """Positional and keyword arguments of one forward call (hashable: a cache key)."""

    args: tuple[Node, ...]
    kwargs: tuple[tuple[str, Node], ...] = ()

    def __str__(self) -> str:
        parts = [str(a) for a in self.args] + [f"{k}={v}" for k, v in self.kwargs]
        return ", ".join(parts)

    def tensors(self) -> Iterator[TensorSpec]:
        """Every tensor, in call order (positional first)."""
        for node in (*self.args, *(v for _, v in self.kwargs)):
            yield from _leaves(node)

    @property
    def first_shape(self) -> tuple[int, ...]:
        """The first tensor's shape: what a Trace reports as its input shape."""
        return next(self.tensors(), TensorSpec(())).shape

    @property
    def is_image(self) -> bool:
        """One float (N, C, H, W) tensor and nothing else: what the catalog networks take."""
        return (
            len(self.args) == 1
            and not self.kwargs
            and isinstance(self.args[0], TensorSpec)
            and len(self.args[0].shape) == 4
            and self.args[0].torch_dtype.is_floating_point
        )


def _leaves(node: Node) -> Iterator[TensorSpec]:
    if isinstance(node, TensorSpec):
        yield node
    elif isinstance(node, SeqSpec):
        for item in node.items:
            yield from _leaves(item)
    elif isinstance(node, DictSpec):
        for _, item in node.items:
            yield from _leaves(item)


def image(c: int, h: int, w: int, batch: int = 1) -> Signature:
    return Signature((TensorSpec((batch, c, h, w)),))


# --------------------------------------------------------------------------- checks


def check(sig: Signature) -> Signature:
    """Refuse, with one sentence naming the number and the limit, what is too big or odd."""
    tensors = list(sig.tensors())
    if not tensors:
        raise InputSizeError("The input signature has no tensor in it.")
    if len(tensors) > MAX_TENSORS:
        raise InputSizeError(
            f"The input has {len(tensors):,} tensors; the limit is {MAX_TENSORS:,}."
        )
    for t in tensors:
        if len(t.shape) > MAX_DIMS:
            raise InputSizeError(
                f"Input {t} has {len(t.shape)} dimensions; the limit is {MAX_DIMS}."
            )
        if any(d < 0 for d in t.shape):
            raise InputSizeError(f"Input {t} has a negative dimension.")
        if math.prod(t.shape) > MAX_ELEMENTS:
            raise InputSizeError(
                f"Input {t} has {math.prod(t.shape):,} elements; the limit is {MAX_ELEMENTS:,}."
            )
    return sig


# --------------------------------------------------------------------------- from values


def of(*args: Any, **kwargs: Any) -> Signature:
    """A signature from example values: tensors (any device; only shape and dtype are kept),
    `TensorSpec`s, tuples/lists/dicts of them, or a `Signature` itself."""
    if len(args) == 1 and not kwargs and isinstance(args[0], Signature):
        return check(args[0])
    return check(
        Signature(
            tuple(_node(a, f"argument {i + 1}") for i, a in enumerate(args)),
            tuple((k, _node(v, f"keyword argument {k!r}")) for k, v in kwargs.items()),
        )
    )


def _node(value: Any, where: str) -> Node:
    if isinstance(value, (TensorSpec, SeqSpec, DictSpec, ConstSpec)):
        return value
    if value is None or isinstance(value, (bool, int, float, str)):
        return ConstSpec(value)
    if isinstance(value, torch.Tensor):
        return TensorSpec(tuple(value.shape), _dtype_name(value.dtype))
    if isinstance(value, Mapping):
        return DictSpec(tuple((str(k), _node(v, f"{where}[{k!r}]")) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        kind = "list" if isinstance(value, list) else "tuple"
        return SeqSpec(tuple(_node(v, f"{where}[{i}]") for i, v in enumerate(value)), kind)
    raise InputSizeError(
        f"The {where} is a {type(value).__name__}; inputs are tensors, or tuples, lists and "
        "dicts of tensors, and plain numbers, strings, True/False/None."
    )


def dtype_name(dtype: torch.dtype | str) -> str:
    """The canonical name of a dtype given as torch.dtype or text ("long" -> "int64")."""
    if isinstance(dtype, str):
        key = dtype.strip().lower().removeprefix("torch.")
        if key not in DTYPES:
            raise InputSizeError(f"Unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}.")
        dtype = DTYPES[key]
    return _dtype_name(dtype)


def _dtype_name(dtype: torch.dtype) -> str:
    for name, value in DTYPES.items():
        if value == dtype and len(name) > 3 and name not in ("float", "long", "half", "double"):
            return name
    return str(dtype).removeprefix("torch.")


# --------------------------------------------------------------------------- making tensors


def make(
    sig: Signature, device: str | torch.device = "meta", generator: torch.Generator | None = None
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """(args, kwargs) for `model(*args, **kwargs)`: meta tensors by default (no memory); on a
    real device, floats are standard normal (from `generator`, never the global RNG) and
    integers/bools are zeros (a valid index for any embedding)."""
    check(sig)
    args = tuple(_make(n, device, generator) for n in sig.args)
    kwargs = {k: _make(n, device, generator) for k, n in sig.kwargs}
    return args, kwargs


def _make(node: Node, device: str | torch.device, generator: torch.Generator | None) -> Any:
    if isinstance(node, TensorSpec):
        dtype = node.torch_dtype
        if torch.device(device).type == "meta":
            return torch.empty(node.shape, dtype=dtype, device="meta")
        if dtype.is_floating_point or dtype.is_complex:
            return torch.randn(node.shape, dtype=dtype, device=device, generator=generator)
        return torch.zeros(node.shape, dtype=dtype, device=device)
    if isinstance(node, SeqSpec):
        items = [_make(n, device, generator) for n in node.items]
        return items if node.kind == "list" else tuple(items)
    if isinstance(node, ConstSpec):
        return node.value
    return {k: _make(n, device, generator) for k, n in node.items}


# --------------------------------------------------------------------------- parsing text

_TOKEN = re.compile(r"\s*(?:(\d+(?:\s*[x×]\s*\d+)*)|([A-Za-z_][A-Za-z0-9_]*)|(.))")


def parse(text: str) -> Signature:
    """A signature from text: `1x3x224x224`, `1x16:int64, mask=1x16:bool`,
    `(1x3x32x32, 1x3x32x32)`, `{image: 1x3x64x64, label: 1:int64}`."""
    if len(text) > 10_000:
        raise InputSizeError(f"The input text has {len(text):,} characters; the limit is 10,000.")
    parser = _Parser(text)
    sig = parser.signature()
    return check(sig)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []  # (kind, text, position)
        for m in _TOKEN.finditer(text):
            if m.group(1):
                self.tokens.append(("dims", m.group(1), m.start(1)))
            elif m.group(2):
                self.tokens.append(("word", m.group(2), m.start(2)))
            elif m.group(3):
                self.tokens.append(("punct", m.group(3), m.start(3)))
        self.i = 0
        self.depth = 0

    def _error(self, expected: str) -> InputSizeError:
        if self.i < len(self.tokens):
            _, tok, pos = self.tokens[self.i]
            found = f"{tok!r} at character {pos + 1}"
        else:
            found = "the end of the text"
        return InputSizeError(
            f"Input {self.text!r}: expected {expected}, found {found}. Write tensors as "
            "1x3x224x224 or 1x16:int64, several separated by commas, keywords as name=..., "
            "(...), [...], {key: ...} for tuple, list and dict inputs, True/False/None."
        )

    def _peek(self, offset: int = 0) -> tuple[str, str, int] | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def _take(self, text: str) -> bool:
        tok = self._peek()
        if tok is not None and tok[0] == "punct" and tok[1] == text:
            self.i += 1
            return True
        return False

    def signature(self) -> Signature:
        args: list[Node] = []
        kwargs: list[tuple[str, Node]] = []
        while True:
            tok, nxt = self._peek(), self._peek(1)
            if tok is not None and tok[0] == "word" and nxt is not None and nxt[1] == "=":
                self.i += 2
                if any(k == tok[1] for k, _ in kwargs):
                    raise InputSizeError(f"Input {self.text!r} names {tok[1]!r} twice.")
                kwargs.append((tok[1], self.node()))
            else:
                if kwargs:
                    raise self._error("name=... (keyword arguments come last)")
                args.append(self.node())
            if not self._take(","):
                break
        if self._peek() is not None:
            raise self._error("a comma or the end")
        return Signature(tuple(args), tuple(kwargs))

    def node(self) -> Node:
        self.depth += 1
        try:
            if self.depth > MAX_NESTING:
                raise InputSizeError(
                    f"Input {self.text[:80]!r} nests brackets deeper than {MAX_NESTING} levels."
                )
            return self._node()
        finally:
            self.depth -= 1

    def _node(self) -> Node:
        if self._take("("):
            return SeqSpec(tuple(self._items(")")), "tuple")
        if self._take("["):
            return SeqSpec(tuple(self._items("]")), "list")
        if self._take("{"):
            pairs: list[tuple[str, Node]] = []
            while not self._take("}"):
                tok = self._peek()
                if tok is None or tok[0] not in ("word", "dims"):
                    raise self._error("a key")
                self.i += 1
                if not self._take(":"):
                    raise self._error("':' after the key")
                pairs.append((tok[1], self.node()))
                if not self._take(","):
                    if not self._take("}"):
                        raise self._error("',' or '}'")
                    break
            return DictSpec(tuple(pairs))
        return self.tensor()

    def _items(self, close: str) -> list[Node]:
        items: list[Node] = []
        while not self._take(close):
            items.append(self.node())
            if not self._take(","):
                if not self._take(close):
                    raise self._error(f"',' or {close!r}")
                break
        return items

    def tensor(self) -> TensorSpec | ConstSpec:
        tok = self._peek()
        consts = {"True": True, "False": False, "None": None}
        if tok is not None and tok[0] == "word" and tok[1] in consts:
            self.i += 1
            return ConstSpec(consts[tok[1]])
        if tok is not None and tok[0] == "word" and tok[1] == "scalar":
            shape: tuple[int, ...] = ()
        elif tok is None or tok[0] != "dims":
            raise self._error("a tensor shape such as 1x3x224x224")
        else:
            sides = re.split(r"\s*[x×]\s*", tok[1])
            longest = max(len(d) for d in sides)
            if longest > limits.NUMBER_MAX_DIGITS:
                raise InputSizeError(
                    f"An input dimension has {longest:,} digits; a tensor has at most "
                    f"{MAX_ELEMENTS:,} elements."
                )
            shape = tuple(int(d) for d in sides)
        self.i += 1
        dtype = "float32"
        if self._take(":"):
            word = self._peek()
            if word is None or word[0] != "word" or word[1].lower() not in DTYPES:
                raise self._error(f"a dtype ({', '.join(sorted(DTYPES))})")
            self.i += 1
            dtype = _dtype_name(DTYPES[word[1].lower()])
        return TensorSpec(shape, dtype)


def as_signature(value: Any, kwargs: Mapping[str, Any] | None = None) -> Signature:
    """What `explorer.trace(..., inputs=value, forward_kwargs=kwargs)` calls the model with,
    torchinfo's `input_data` way: text or a Signature as they are; a tuple or list is the
    positional arguments; a dict is keyword arguments (wrap it in a list to pass one dict
    positionally); anything else (a tensor) is the one positional argument. `kwargs` adds
    keyword arguments (tensors or trees of them)."""
    extra = dict(kwargs or {})
    if isinstance(value, (Signature, str)):
        sig = value if isinstance(value, Signature) else parse(value)
        more = tuple((k, _node(v, f"keyword argument {k!r}")) for k, v in extra.items())
        return check(Signature(sig.args, sig.kwargs + more))
    if isinstance(value, (list, tuple)) and not isinstance(value, (SeqSpec, DictSpec)):
        return of(*value, **extra)
    if isinstance(value, Mapping):
        return of(**{str(k): v for k, v in value.items()}, **extra)
    return of(value, **extra)


def is_image_size(text: str | None) -> bool:
    """True for None or a plain "CxHxW" (the CLI's image size, batch given apart); False for a
    full signature ("1x16:int64", "2x4x50", "1x3x32x32, 1x3x32x32", ...)."""
    if text is None:
        return True
    return re.fullmatch(r"\s*\d+\s*[x×]\s*\d+\s*[x×]\s*\d+\s*", text) is not None
