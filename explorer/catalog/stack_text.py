"""Typed layer stacks, the text side: 'input 32x32x1 | conv 6 5x5 | fc 10' -> [LayerSpec, ...]
by a lexer (words with their offsets) and a parser with one function per layer kind; nothing is
evaluated, errors point at the token (SpecError). Grammar: explorer.catalog.custom."""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field

from explorer.core import limits
from explorer.core.errors import SpecError

DEFAULT_INPUT = (3, 224, 224)  # (C, H, W), used when the stack has no `input` layer
MAX_TEXT = limits.STACK_MAX_TEXT
MAX_LAYERS = limits.STACK_MAX_LAYERS
MAX_UNITS = limits.STACK_MAX_UNITS
MAX_KERNEL = limits.STACK_MAX_KERNEL
MAX_STRIDE = limits.STACK_MAX_STRIDE
MAX_PADDING = limits.STACK_MAX_PADDING
MAX_SPATIAL = limits.TRACE_MAX_SIDE  # input height, width or depth
MAX_CHANNELS = limits.TRACE_MAX_CHANNELS
MAX_LENGTH = MAX_SPATIAL * MAX_SPATIAL  # a sequence's length, a vector's features: a flat image
MAX_INPUT_VALUES = MAX_SPATIAL * MAX_SPATIAL * MAX_CHANNELS  # the largest image
MAX_VOCAB = limits.STACK_MAX_VOCAB

SEPARATORS = "|;\n"
ACTIVATIONS = ("relu", "tanh", "sigmoid")
_ALIASES = {
    "linear": "fc",
    "dense": "fc",
    "bn": "batchnorm",
    "gap": "globalavgpool",
    "conv2d": "conv",
    "pool": "maxpool",
    "embed": "embedding",
}
KINDS = (
    "input", "conv", "maxpool", "avgpool", "fc", "relu", "tanh", "sigmoid", "softmax",
    "batchnorm", "dropout", "flatten", "globalavgpool", "embedding", "lstm", "gru",
)  # fmt: skip
TOKEN_WORDS = ("tokens", "token")  # 'input 16 tokens'
SEQUENCE_WORDS = ("seq", "sequence")  # 'input 32x32 seq': a square sequence, not an image
_KERNEL_HINTS = {
    1: "the input is a sequence, so a kernel size is one number, such as 5",
    2: "expected a kernel size such as 5 or 5x5",
    3: "the input is a volume (DxHxWxC), so a kernel size is one number or three, such as 3 "
    "or 3x3x3",
}
_NO_ARGS = ("relu", "tanh", "sigmoid", "softmax", "batchnorm", "flatten", "globalavgpool")


def looks_like_spec(text: str) -> bool:
    """True when `text` is a layer-stack spec rather than a catalog name."""
    t = text.strip().lower()
    return any(sep in t for sep in SEPARATORS) or t.startswith("input ")


# --- Data ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerSpec:
    """One layer of a typed stack. Only the fields its `kind` uses are set.

    kind: one of KINDS. units: conv filters, fc outputs, embedding dimension or lstm/gru
    hidden size. kernel: one size per spatial dimension of the stack's input, (k,) on a
    sequence, (kH, kW) on an image, (kD, kH, kW) on a volume. stride: conv or pool stride
    (pools: None means "equal to the kernel"). padding: an int or "same". activation: a
    conv/fc's fused activation. p: dropout probability. shape: the input layer's size as typed,
    spatial first: (N,) features or token count, (L, C), (H, W, C) or (D, H, W, C).
    tokens: the input is token ids. vocab: an embedding's vocabulary.
    position: the layer's character offset in the text (not compared).
    """

    kind: str
    units: int | None = None
    kernel: tuple[int, ...] | None = None
    stride: int | None = None
    padding: int | str = 0
    activation: str | None = None
    p: float | None = None
    shape: tuple[int, ...] | None = None
    tokens: bool = False
    vocab: int | None = None
    position: int = field(default=-1, compare=False)


@dataclass(frozen=True)
class Token:
    text: str  # lower-cased, '×' read as 'x'
    start: int  # character offset in the original text
    raw: str  # as the user typed it


# --- Lexer ---------------------------------------------------------------------------------


def tokenize(text: str) -> list[list[Token]]:
    """Split the text into layers of word tokens, keeping each token's character offset.
    Commas and '=' count as white space ('stride=2', 'conv 6, 5x5')."""
    layers: list[list[Token]] = [[]]
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in SEPARATORS:
            layers.append([])
            i += 1
        elif ch.isspace() or ch in ",=":
            i += 1
        else:
            start = i
            while i < n and not (text[i].isspace() or text[i] in SEPARATORS or text[i] in ",="):
                i += 1
            raw = text[start:i]
            layers[-1].append(Token(raw.lower().replace("×", "x"), start, raw))
    return layers


def _shorten(text: str, keep: int = 40) -> str:
    return text if len(text) <= keep else f"{text[: keep // 2]}…{text[-keep // 2 :]}"


def _is_int(word: str) -> bool:
    return word.isascii() and word.isdigit()


def _is_size(word: str) -> bool:
    parts = word.split("x")
    return len(parts) > 1 and all(_is_int(p) for p in parts)


# --- Parser --------------------------------------------------------------------------------


class _LayerParser:
    """Reads one layer's tokens: the kind word, then its arguments."""

    def __init__(self, text: str, tokens: list[Token], index: int, dims: int = 2) -> None:
        self.text = text
        self.tokens = tokens
        self.index = index  # 1-based layer number in the stack
        self.dims = dims  # spatial dimensions of the stack's input: how many numbers a kernel has
        self.head = tokens[0]
        self.args = tokens[1:]
        self.pos = 0

    # helpers
    def fail(self, token: Token, what: str) -> SpecError:
        return SpecError(
            f"Layer {self.index} ('{self._layer_text()}'): {what} "
            f"(at '{_shorten(token.raw)}', character {token.start + 1}).",
            token=token.raw,
            position=token.start,
        )

    def _layer_text(self) -> str:
        """The layer as typed; a long one (a 5,000-digit number) cut in the middle."""
        return _shorten(" ".join(t.raw for t in self.tokens), keep=80)

    def peek(self) -> Token | None:
        return self.args[self.pos] if self.pos < len(self.args) else None

    def take(self) -> Token:
        token = self.args[self.pos]
        self.pos += 1
        return token

    def int_value(self, token: Token, what: str, low: int, high: int, word: str = "") -> int:
        body = token.text[len(word) :] if word else token.text
        if not _is_int(body):
            raise self.fail(token, f"expected {what} as a whole number")
        if len(body) > limits.NUMBER_MAX_DIGITS:
            raise self.fail(token, f"{what} is a {len(body):,}-digit number, more than the "
                            f"limit of {high:,}")  # fmt: skip
        value = int(body)
        if value < low:
            raise self.fail(token, f"{what} must be at least {low}, not {value}")
        if value > high:
            raise self.fail(token, f"{what} is {value:,}, more than the limit of {high:,}")
        return value

    def option_value(self, token: Token, what: str, low: int, high: int) -> int:
        """The number after a word option ('stride 2'), or glued to a letter ('s2')."""
        if token.text in ("stride", "pad", "padding"):
            following = self.peek()
            if following is None:
                raise self.fail(token, f"expected a number after '{token.raw}'")
            return self.int_value(self.take(), what, low, high)
        prefix = token.text[0]
        return self.int_value(token, what, low, high, word=prefix)

    def kernel(self, token: Token) -> tuple[int, ...]:
        """One size per spatial dimension of the input: '5' is (5,) on a sequence, (5, 5) on
        an image, (5, 5, 5) on a volume."""
        if _is_int(token.text):
            k = self.int_value(token, "the kernel size", 1, MAX_KERNEL)
            return (k,) * self.dims
        parts = token.text.split("x")
        if len(parts) != self.dims:
            raise self.fail(token, _KERNEL_HINTS[self.dims])
        return tuple(self.int_value(Token(p, token.start, token.raw), "the kernel size", 1,
                                    MAX_KERNEL) for p in parts)  # fmt: skip

    @staticmethod
    def is_stride(word: str) -> bool:
        return word == "stride" or (word.startswith("s") and _is_int(word[1:]))

    @staticmethod
    def is_padding(word: str) -> bool:
        return word in ("pad", "padding", "same", "valid") or (
            word.startswith("p") and _is_int(word[1:])
        )

    def padding(self, token: Token) -> int | str:
        if token.text == "same":
            return "same"
        if token.text == "valid":
            return 0
        return self.option_value(token, "the padding", 0, MAX_PADDING)

    # layer kinds
    def parse(self) -> LayerSpec:
        kind = _ALIASES.get(self.head.text, self.head.text)
        if kind not in KINDS:
            close = difflib.get_close_matches(kind, [*KINDS, *_ALIASES], n=1, cutoff=0.6)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise SpecError(
                f"Layer {self.index}: unknown layer type '{self.head.raw}' (character "
                f"{self.head.start + 1}); expected one of {', '.join(KINDS)}.{hint}",
                token=self.head.raw,
                position=self.head.start,
            )
        layer = getattr(self, f"_{kind}")() if kind not in _NO_ARGS else LayerSpec(kind)
        extra = self.peek()
        if extra is not None:
            raise self.fail(extra, f"unexpected '{extra.raw}' after {self._expected(kind)}")
        return LayerSpec(**{**layer.__dict__, "position": self.head.start})

    @staticmethod
    def _expected(kind: str) -> str:
        return {
            "input": "'input HxWxC' (or N, LxC, DxHxWxC, 'L tokens')",
            "embedding": "'embedding V D'",
            "lstm": "'lstm H'",
            "gru": "'gru H'",
            "conv": "'conv N K [sS] [pP|same|valid] [relu|tanh|sigmoid]'",
            "maxpool": "'maxpool K [S] [sS] [pP]'",
            "avgpool": "'avgpool K [S] [sS] [pP]'",
            "fc": "'fc N [relu|tanh|sigmoid]'",
            "dropout": "'dropout P'",
        }.get(kind, f"'{kind}', which takes no arguments")

    def _input(self) -> LayerSpec:
        token = self.peek()
        if token is None:
            raise self.fail(self.head, "expected the input size, e.g. 'input 32x32x1' (HxWxC)")
        self.take()
        parts = token.text.split("x")
        if not (_is_int(token.text) or _is_size(token.text)) or len(parts) > 4:
            raise self.fail(token, "expected the input size as HxWxC, e.g. 32x32x1 (or N "
                            "features, LxC for a sequence, DxHxWxC for a volume)")  # fmt: skip
        marker = self.peek()
        if marker is not None and marker.text in TOKEN_WORDS and len(parts) == 1:
            self.take()
            length = self.int_value(token, "the number of tokens", 1, MAX_LENGTH)
            return LayerSpec("input", shape=(length,), tokens=True)
        if marker is not None and marker.text in SEQUENCE_WORDS and len(parts) == 2:
            self.take()
        elif len(parts) == 2 and parts[0] == parts[1]:
            raise self.fail(token, f"'{token.raw}' reads as a {parts[0]}×{parts[1]} image "
                            "without its channels: write HxWxC, e.g. "
                            f"{parts[0]}x{parts[1]}x1; for a sequence of {parts[0]} positions "
                            f"with {parts[1]} channels write 'input {token.raw} seq'")  # fmt: skip
        *sides, last = (Token(p, token.start, token.raw) for p in parts)
        if not sides:  # a feature vector
            return LayerSpec("input", shape=(self.int_value(last, "the number of features", 1,
                                                            MAX_LENGTH),))  # fmt: skip
        limit = MAX_LENGTH if len(sides) == 1 else MAX_SPATIAL
        what = "the sequence length" if len(sides) == 1 else "the input size"
        values = [self.int_value(side, what, 1, limit) for side in sides]
        c = self.int_value(last, "the channel count", 1, MAX_CHANNELS)
        if math.prod(values) * c > MAX_INPUT_VALUES:  # a volume: at most the largest image's
            raise self.fail(token, f"the input has {math.prod(values) * c:,} values, more "
                            f"than the limit of {MAX_INPUT_VALUES:,}")  # fmt: skip
        return LayerSpec("input", shape=(*values, c))

    def _activation(self) -> str | None:
        token = self.peek()
        if token is not None and token.text in ACTIVATIONS:
            self.take()
            return token.text
        return None

    def _conv(self) -> LayerSpec:
        units: int | None = None
        kernel: tuple[int, ...] | None = None
        stride: int | None = None
        padding: int | str | None = None
        activation: str | None = None
        while (token := self.peek()) is not None:
            word = token.text
            if activation is not None:
                break  # the activation ends the layer; anything after is unexpected
            if _is_int(word) and units is None:
                self.take()
                units = self.int_value(token, "the number of filters", 1, MAX_UNITS)
            elif (_is_int(word) or _is_size(word)) and kernel is None:
                self.take()
                kernel = self.kernel(token)
            elif self.is_stride(word) and stride is None:
                self.take()
                stride = self.option_value(token, "the stride", 1, MAX_STRIDE)
            elif self.is_padding(word) and padding is None:
                self.take()
                padding = self.padding(token)
            elif word in ACTIVATIONS:
                activation = self._activation()
            else:
                break
        if units is None:
            raise self.fail(self.peek() or self.head, "expected the number of filters, e.g. "
                            "'conv 6 5x5'")  # fmt: skip
        if kernel is None:
            raise self.fail(self.peek() or self.head, "expected the kernel size after the "
                            f"number of filters, e.g. 'conv {units} 5x5'")  # fmt: skip
        return LayerSpec("conv", units=units, kernel=kernel, stride=stride or 1,
                         padding=0 if padding is None else padding,
                         activation=activation)  # fmt: skip

    def _pool(self, kind: str) -> LayerSpec:
        kernel: tuple[int, ...] | None = None
        stride: int | None = None
        padding: int | str | None = None
        while (token := self.peek()) is not None:
            word = token.text
            if (_is_int(word) or _is_size(word)) and kernel is None:
                self.take()
                kernel = self.kernel(token)
            elif _is_int(word) and stride is None:
                self.take()
                stride = self.int_value(token, "the stride", 1, MAX_STRIDE)
            elif self.is_stride(word) and stride is None:
                self.take()
                stride = self.option_value(token, "the stride", 1, MAX_STRIDE)
            elif self.is_padding(word) and padding is None and word != "same":
                self.take()
                padding = self.padding(token)
            else:
                break
        if kernel is None:
            raise self.fail(self.peek() or self.head, f"expected the pool size, e.g. '{kind} 2'")
        return LayerSpec(kind, kernel=kernel, stride=stride,
                         padding=0 if padding is None else padding)  # fmt: skip

    def _maxpool(self) -> LayerSpec:
        return self._pool("maxpool")

    def _avgpool(self) -> LayerSpec:
        return self._pool("avgpool")

    def _number(self, what: str, example: str, high: int) -> int:
        token = self.peek()
        if token is None or not _is_int(token.text):
            raise self.fail(token or self.head, f"expected {what}, e.g. '{example}'")
        return self.int_value(self.take(), what, 1, high)

    def _fc(self) -> LayerSpec:
        units = self._number("the number of units", "fc 120", MAX_UNITS)
        return LayerSpec("fc", units=units, activation=self._activation())

    def _embedding(self) -> LayerSpec:
        vocab = self._number("the vocabulary size", "embedding 10000 64", MAX_VOCAB)
        dim = self._number("the embedding dimension", "embedding 10000 64", MAX_UNITS)
        return LayerSpec("embedding", vocab=vocab, units=dim)

    def _lstm(self) -> LayerSpec:
        return LayerSpec("lstm", units=self._number("the hidden size", "lstm 128", MAX_UNITS))

    def _gru(self) -> LayerSpec:
        return LayerSpec("gru", units=self._number("the hidden size", "gru 128", MAX_UNITS))

    def _dropout(self) -> LayerSpec:
        token = self.peek()
        if token is None:
            return LayerSpec("dropout", p=0.5)
        self.take()
        try:
            p = float(token.text)
        except ValueError:
            raise self.fail(token, "expected a dropout probability such as 0.5") from None
        if not (math.isfinite(p) and 0.0 <= p < 1.0):
            raise self.fail(token, f"the dropout probability must be in [0, 1), not {p}")
        return LayerSpec("dropout", p=p)


def parse(text: str) -> list[LayerSpec]:
    """The layers of a typed stack, in order. Raises SpecError pointing at the bad token."""
    if len(text) > MAX_TEXT:
        raise SpecError(f"The layer stack is {len(text):,} characters long; the limit is "
                        f"{MAX_TEXT:,}.", token=text[:20], position=0)  # fmt: skip
    groups = tokenize(text)
    if all(not g for g in groups):
        raise SpecError(
            "The layer stack is empty; expected layers separated by '|', e.g. "
            "'input 32x32x1 | conv 6 5x5 | avgpool 2 | fc 10'.",
            token="",
            position=0,
        )
    if len(groups) > MAX_LAYERS:
        raise SpecError(f"The stack has {len(groups)} layers; the limit is {MAX_LAYERS}.",
                        token="", position=0)  # fmt: skip
    layers: list[LayerSpec] = []
    dims = 2  # an image, unless the input layer says otherwise
    for index, tokens in enumerate(groups, start=1):
        if not tokens:
            at = _separator_offset(text, index)
            raise SpecError(
                f"Layer {index} is empty (character {at + 1}): two separators in a row, or "
                "a separator at the start or end; expected a layer such as 'conv 6 5x5'.",
                token="|",
                position=at,
            )
        layer = _LayerParser(text, tokens, index, dims).parse()
        if index == 1 and layer.kind == "input":
            dims = spatial_dims(layer)
        if layer.kind == "input" and index != 1:
            raise SpecError(
                f"Layer {index}: 'input' must be the first layer (character "
                f"{tokens[0].start + 1}).",
                token=tokens[0].raw,
                position=tokens[0].start,
            )
        layers.append(layer)
    return layers


def spatial_dims(input_layer: LayerSpec) -> int:
    """How many numbers a kernel has after this input: 1 on a sequence (tokens are one once
    embedded), 2 on an image, 3 on a volume. A feature vector takes no kernel; its stack is
    read as an image's so that a conv there is refused by the shape walk, naming the layer."""
    assert input_layer.shape is not None
    if input_layer.tokens:
        return 1
    return {1: 2, 2: 1, 3: 2, 4: 3}[len(input_layer.shape)]


def _separator_offset(text: str, index: int) -> int:
    """Character offset of the separator before layer `index` (1-based); 0 for layer 1."""
    seen = 1
    for i, ch in enumerate(text):
        if ch in SEPARATORS:
            seen += 1
            if seen == index:
                return i if index > 1 else 0
    return max(len(text) - 1, 0)


def layer_to_text(layer: LayerSpec) -> str:
    """One layer in canonical text, e.g. 'conv 6 5x5 s2 relu'."""
    k = layer.kind
    parts = [k]
    if k == "input":
        assert layer.shape is not None
        parts.append("x".join(str(v) for v in layer.shape))
        if layer.tokens:
            parts.append("tokens")
        elif len(layer.shape) == 2 and layer.shape[0] == layer.shape[1]:
            parts.append("seq")  # 'input 32x32' alone is refused as an image without channels
    elif k in ("conv", "maxpool", "avgpool"):
        if k == "conv":
            parts.append(str(layer.units))
        assert layer.kernel is not None
        square = len(set(layer.kernel)) == 1
        full = "x".join(map(str, layer.kernel))
        # a conv writes every side, as the lecture does ('conv 6 5x5', 'conv 8 3x3x3'; on a
        # sequence it is one number); a pool writes one number when its sides are equal
        parts.append(str(layer.kernel[0]) if square and (k != "conv" or len(layer.kernel) == 1)
                     else full)  # fmt: skip
        default_stride = 1 if k == "conv" else None
        if layer.stride is not None and layer.stride != default_stride:
            parts.append(f"s{layer.stride}")
        if layer.padding == "same":
            parts.append("same")
        elif layer.padding:
            parts.append(f"p{layer.padding}")
    elif k in ("fc", "lstm", "gru"):
        parts.append(str(layer.units))
    elif k == "embedding":
        parts.append(f"{layer.vocab} {layer.units}")
    elif k == "dropout":
        parts.append(f"{layer.p:g}")
    if layer.activation:
        parts.append(layer.activation)
    return " ".join(parts)


def to_text(layers: list[LayerSpec]) -> str:
    """The canonical text of a stack: parse(to_text(layers)) == layers."""
    return " | ".join(layer_to_text(layer) for layer in layers)
