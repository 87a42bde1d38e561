"""Pipelines: an ordered, immutable list of steps; running them seeded and within budget;
JSON in and out (strictly parsed: a file from anyone may be pasted in); Python code export."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import PIL.Image
import torch
from torchvision.transforms import v2

from explorer.core import limits
from explorer.core.errors import BudgetError, SpecError
from explorer.core.rng import resumed, seeded
from explorer.labs.augment.memo import PrefixMemo, SampleState, image_key, steps_key
from explorer.labs.augment.params import Augmentation
from explorer.labs.augment.pca import PCAColorJitter
from explorer.labs.augment.steps import (
    AUGMENTATIONS,
    ColorShift,
    ElasticWarp,
    HorizontalFlip,
    PCAColor,
    RandAugment,
    RandomCrop,
    RandomErasing,
    RandomResizedCrop,
    Resize,
    Rotation,
    ScaleJitter,
    Shear,
    TrivialAugment,
)

JSON_FORMAT = "cnn-explorer-augmentation"
JSON_VERSION = 1
MAX_STEPS = limits.PIPELINE_MAX_STEPS
MAX_SAMPLES = limits.PIPELINE_MAX_SAMPLES
MAX_SAMPLE_PIXELS = limits.PIPELINE_MAX_SAMPLE_PIXELS
MAX_JSON_CHARS = limits.PIPELINE_MAX_JSON_CHARS
_MAX_INT_DIGITS = limits.NUMBER_MAX_DIGITS  # every parameter is far below 10**18
# Read once, at import: `inspect.getsource` of a class parses its whole module into `ast`
# objects, which on CPython 3.11 must not happen in two threads at once (components/server.py).
_PCA_JITTER_SOURCE = inspect.getsource(PCAColorJitter).rstrip()


def _size_of(image: PIL.Image.Image | torch.Tensor) -> tuple[int, int]:
    if isinstance(image, PIL.Image.Image):
        return image.height, image.width
    return int(image.shape[-2]), int(image.shape[-1])


def _mp(pixels: int) -> str:
    return f"{pixels / 1e6:,.1f} megapixels"


def _json_depth(text: str) -> int:
    """How deeply arrays and objects nest in JSON text (strings skipped), without parsing it:
    json.loads would recurse once per level and fail with a RecursionError deep down."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _small_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise SpecError(f"The pipeline holds a {len(text)}-digit number; parameters have at "
                        f"most {_MAX_INT_DIGITS} digits.")
    return int(text)


def _no_constant(name: str) -> float:
    raise SpecError(f"The pipeline holds {name}; parameters must be finite numbers.")


@dataclass(frozen=True)
class Pipeline:
    """An ordered, immutable list of augmentation steps."""

    steps: tuple[Augmentation, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.steps))
        if len(self.steps) > MAX_STEPS:
            raise SpecError(f"A pipeline has at most {MAX_STEPS} steps, not {len(self.steps)}.")
        for step in self.steps:
            if not isinstance(step, Augmentation):
                raise TypeError(f"pipeline steps must be Augmentation objects, not {step!r}")

    # editing (each returns a new pipeline)
    def add(self, step: Augmentation) -> Pipeline:
        return Pipeline((*self.steps, step))

    def remove(self, index: int) -> Pipeline:
        self._index(index)
        return Pipeline(self.steps[:index] + self.steps[index + 1:])

    def move(self, index: int, offset: int) -> Pipeline:
        """Move step `index` by `offset` places (-1: up), clamped to the ends."""
        self._index(index)
        target = min(max(index + offset, 0), len(self.steps) - 1)
        steps = list(self.steps)
        steps.insert(target, steps.pop(index))
        return Pipeline(tuple(steps))

    def replace(self, index: int, step: Augmentation) -> Pipeline:
        self._index(index)
        return Pipeline((*self.steps[:index], step, *self.steps[index + 1:]))

    def _index(self, index: int) -> None:
        if not 0 <= index < len(self.steps):
            raise IndexError(f"step {index} does not exist (the pipeline has {len(self.steps)})")

    # running
    def to_transform(self) -> v2.Compose:
        """`v2.Compose([v2.ToImage(), *steps])`: PIL image in, uint8 tensor (C, H, W) out."""
        return v2.Compose([v2.ToImage(), *(step.to_transform() for step in self.steps)])

    def apply(self, image: PIL.Image.Image | torch.Tensor, seed: int = 0) -> torch.Tensor:
        """The augmented image as a uint8 tensor (C, H, W); same seed, same result."""
        return self.samples(image, 1, seed)[0]

    def samples(
        self,
        image: PIL.Image.Image | torch.Tensor,
        n: int,
        seed: int = 0,
        *,
        memo: PrefixMemo | None = None,
        on_sample: Callable[[int], bool] | None = None,
    ) -> list[torch.Tensor]:
        """n augmented versions; sample k equals seeding torch's global RNG with seed + k,
        then `transform(image)`, but draws from a private generator (explorer.core.rng.seeded): no
        global state is touched.

        The budgets (limits.PIPELINE_*) are checked first, from the input's size and each
        step's largest possible output, so an oversized pipeline is refused before any work.
        With a `memo`, each sample restarts after the longest run of leading steps it remembers
        (picture and generator state, see augment.memo) and leaves its state after every step
        there: the same pixels as without, and only the steps from the first change rerun.
        `on_sample(done)` is called after each sample; when it returns False the samples so
        far are returned (a cancelled job stops there).
        """
        if not 0 <= n <= MAX_SAMPLES:
            raise SpecError(f"Between 0 and {MAX_SAMPLES} samples, please (not {n}).")
        if isinstance(image, PIL.Image.Image) and image.mode != "RGB":
            image = image.convert("RGB")
        height, width = _size_of(image)
        self.check_budget(height, width, n)
        # The steps run one by one, exactly as v2.Compose runs them (same random draws), so
        # that a step that cannot handle this image is named in the error.
        transforms = self.to_transform().transforms
        picture = image_key(image) if memo is not None else None
        prefixes = [steps_key(self.steps[:i]) for i in range(len(transforms))]
        out: list[torch.Tensor] = []
        for k in range(n):
            done, state = 0, None
            result: Any = image
            found = None if memo is None else _remembered(memo, picture, prefixes, seed + k)
            if found is not None:  # found[0] steps done: ToImage is transforms[0]
                done, result, state = found[0] + 1, found[1].image, found[1].generator_state
            with seeded(seed + k) if state is None else resumed(state) as generator:
                for index in range(done, len(transforms)):
                    result = self._run_step(index, transforms[index], result)
                    if memo is not None and index > 0:
                        memo.put((picture, prefixes[index], seed + k), result, generator)
            out.append(result.as_subclass(torch.Tensor))
            if on_sample is not None and not on_sample(k + 1):
                break
        return out

    def check_budget(self, height: int, width: int, n: int = 1) -> None:
        """BudgetError, before any work, when some step could output more than
        PIPELINE_MAX_STEP_PIXELS, all steps of one sample more than PIPELINE_MAX_WORK_PIXELS,
        elastic warping get more than PIPELINE_MAX_ELASTIC_PIXELS, or the n samples together
        more than PIPELINE_MAX_SAMPLE_PIXELS (each from the steps' largest possible sizes)."""
        work = 0
        for index, step in enumerate(self.steps, 1):
            elastic = isinstance(step, ElasticWarp)
            if elastic and height * width > limits.PIPELINE_MAX_ELASTIC_PIXELS:
                raise BudgetError(
                    f"Step {index} ({step.TITLE}) would warp a {width}×{height} picture "
                    f"({_mp(height * width)}); the limit is "
                    f"{_mp(limits.PIPELINE_MAX_ELASTIC_PIXELS)}: resize or crop before it."
                )
            height, width = step.output_bound(height, width)
            pixels = height * width
            if pixels > limits.PIPELINE_MAX_STEP_PIXELS:
                raise BudgetError(
                    f"Step {index} ({step.TITLE}) can make a {width}×{height} picture "
                    f"({_mp(pixels)}); the limit per step is "
                    f"{_mp(limits.PIPELINE_MAX_STEP_PIXELS)}."
                )
            work += pixels
            if work > limits.PIPELINE_MAX_WORK_PIXELS:
                raise BudgetError(
                    f"The first {index} steps can make {_mp(work)} per sample together; the "
                    f"limit is {_mp(limits.PIPELINE_MAX_WORK_PIXELS)}."
                )
        if n * height * width > MAX_SAMPLE_PIXELS:
            raise BudgetError(
                f"{n} samples of up to {width}×{height} pixels are {_mp(n * height * width)}; "
                f"the limit is {_mp(MAX_SAMPLE_PIXELS)}: use fewer samples or a smaller size."
            )

    def _run_step(self, index: int, transform: Any, image: Any) -> Any:
        try:
            return transform(image)
        except (ValueError, RuntimeError, TypeError, IndexError) as exc:
            if index == 0:  # v2.ToImage: not a picture at all; a programming error
                raise
            step = self.steps[index - 1]
            height, width = image.shape[-2:]
            raise SpecError(f"Step {index} ({step.TITLE}) cannot be applied to a "
                            f"{width}×{height} image: {exc}", token=step.KIND) from exc

    # serialising
    def to_dict(self) -> dict[str, Any]:
        return {"format": JSON_FORMAT, "version": JSON_VERSION,
                "steps": [step.to_dict() for step in self.steps]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: Any) -> Pipeline:
        if not isinstance(data, dict) or data.get("format") != JSON_FORMAT:
            raise SpecError(f"This is not an augmentation pipeline (expected \"format\": "
                            f"\"{JSON_FORMAT}\").")
        unknown = sorted(str(k)[:40] for k in set(data) - {"format", "version", "steps"})
        if unknown:
            raise SpecError(f"Unknown key(s) in the pipeline: {', '.join(unknown)}; allowed: "
                            "format, version, steps.")
        if data.get("version") != JSON_VERSION:
            raise SpecError(f"Unsupported pipeline version {data.get('version')!r}; "
                            f"this program reads version {JSON_VERSION}.")
        steps = data.get("steps")
        if not isinstance(steps, list):
            raise SpecError("The pipeline's \"steps\" must be a list.")
        if len(steps) > MAX_STEPS:
            raise SpecError(f"A pipeline has at most {MAX_STEPS} steps, not {len(steps)}.")
        return cls(tuple(_step_from_dict(i, step) for i, step in enumerate(steps)))

    @classmethod
    def from_json(cls, text: str) -> Pipeline:
        """A pipeline from JSON text, parsed strictly: at most PIPELINE_MAX_JSON_CHARS
        characters nested PIPELINE_MAX_JSON_DEPTH deep, integers of at most 18 digits, no
        NaN/Infinity, only known keys; anything else is one SpecError sentence."""
        if len(text) > MAX_JSON_CHARS:
            raise SpecError(f"The pipeline file is too long ({len(text):,} characters; the "
                            f"limit is {MAX_JSON_CHARS:,}).")
        depth = _json_depth(text)
        if depth > limits.PIPELINE_MAX_JSON_DEPTH:
            raise SpecError(f"The pipeline JSON is nested {depth} levels deep; a pipeline "
                            f"needs {limits.PIPELINE_MAX_JSON_DEPTH} at most.")
        try:
            data = json.loads(text, parse_int=_small_int, parse_constant=_no_constant)
        except json.JSONDecodeError as exc:
            raise SpecError(f"The pipeline is not valid JSON: {exc.msg} (line {exc.lineno}, "
                            f"column {exc.colno}).", position=exc.pos) from None
        return cls.from_dict(data)

    def to_python(self) -> str:
        """Runnable Python: imports, PCAColorJitter's source if used, `transform = ...`."""
        uses_pca = any(isinstance(step, PCAColor) for step in self.steps)
        lines = [
            '"""Augmentation pipeline exported from CNN Architecture Explorer.',
            "",
            "Usage:",
            "    image = PIL.Image.open('photo.jpg').convert('RGB')",
            "    augmented = transform(image)  # uint8 tensor (3, H, W)",
            "",
            "The explorer's preview sample k with seed s is:",
            "    torch.manual_seed(s + k); augmented = transform(image)",
            '"""',
            "",
        ]
        if uses_pca:
            lines.append("from typing import Any")
            lines.append("")
        lines += ["import PIL.Image", "import torch"]
        if uses_pca:
            lines.append("from torchvision import tv_tensors")
        lines += ["from torchvision.transforms import v2", ""]
        if uses_pca:
            lines += ["", _PCA_JITTER_SOURCE, "", ""]
        lines.append("transform = v2.Compose([")
        lines.append("    v2.ToImage(),  # PIL image -> uint8 tensor (C, H, W)")
        lines += [f"    {step.to_code()},  # {step.TITLE}" for step in self.steps]
        lines.append("])")
        return "\n".join(lines) + "\n"


def _remembered(
    memo: PrefixMemo, picture: object, prefixes: list[tuple[str, ...]], seed: int
) -> tuple[int, SampleState] | None:
    """The longest prefix of the steps (length ≥ 1) `memo` holds a sample state for."""
    for length in range(len(prefixes) - 1, 0, -1):
        found = memo.get((picture, prefixes[length], seed))
        if found is not None:
            return length, found
    return None


def _step_from_dict(index: int, data: Any) -> Augmentation:
    where = f"Step {index + 1}"
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise SpecError(f"{where} must be an object with a \"type\".")
    kind = data["type"]
    if kind not in AUGMENTATIONS:
        raise SpecError(f"{where}: unknown augmentation {kind!r}. Known: "
                        f"{', '.join(sorted(AUGMENTATIONS))}.", token=kind)
    cls = AUGMENTATIONS[kind]
    allowed = {p.name for p in cls.params()}
    unknown = sorted(set(data) - allowed - {"type"})
    if unknown:
        raise SpecError(f"{where} ({kind}): unknown parameter(s) {', '.join(unknown)}; "
                        f"allowed: {', '.join(sorted(allowed))}.", token=unknown[0])
    try:
        return cls(**{k: v for k, v in data.items() if k != "type"})
    except SpecError as exc:
        raise SpecError(f"{where}: {exc}", token=exc.token) from None


# What the Augmentation lab starts with: the standard ImageNet training recipe of the lecture.
DEFAULT_PIPELINE = Pipeline((RandomResizedCrop(), HorizontalFlip(), ColorShift(), PCAColor()))

PRESETS: dict[str, Pipeline] = {
    "AlexNet 2012 (crop, mirror, PCA colour)": Pipeline((
        Resize(256), RandomCrop(224), HorizontalFlip(), PCAColor())),
    "VGG 2014 (scale jittering S∈[256,512], crop, mirror)": Pipeline((
        ScaleJitter(256, 513), RandomCrop(224), HorizontalFlip())),
    "Inception / ResNet ImageNet training": Pipeline((
        RandomResizedCrop(224), HorizontalFlip(), ColorShift(0.4, 0.4, 0.4, 0.0), PCAColor())),
    "Geometry tour (rotate, shear, warp)": Pipeline((
        Rotation(), Shear(), ElasticWarp())),
    "RandAugment + erasing": Pipeline((
        RandomResizedCrop(224), HorizontalFlip(), RandAugment(), RandomErasing())),
    "TrivialAugment": Pipeline((RandomResizedCrop(224), HorizontalFlip(), TrivialAugment())),
}

