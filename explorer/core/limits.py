"""Every limit on what a user can hand the explorer: files, uploads, selections, caches.

One place for the numbers, so the README, the pages and the CLI say the same thing. Each
limit is checked BEFORE the work it bounds, and a refusal is one sentence that names the
number and the limit (`BudgetError`, or the error of the input's kind). Augmentation pipeline
budgets are here too; cost estimates of architectures live in explorer.budgets.
"""

from __future__ import annotations

from collections.abc import Sequence

from explorer.errors import BudgetError

MB = 1 << 20
GB = 1 << 30

# --- images (explorer.images.decode_image) --------------------------------------------------
IMAGE_MAX_BYTES = 20 * MB  # matches maxUploadSize = 20 in .streamlit/config.toml
IMAGE_MAX_PIXELS = 40_000_000  # 40 megapixels: a 7000×5700 photo; ~160 MB as RGBA
# Progressive JPEGs decode every scan over the whole picture: a real photo has ≤ 12 scans
# (libjpeg's default progression has 10), a scan bomb has thousands.
JPEG_MAX_SCANS = 100

# --- weights files (explorer.weight_files) ---------------------------------------------------
WEIGHTS_UPLOAD_BYTES = 20 * MB  # an uploaded weights file (the page's upload limit)
WEIGHTS_MAX_FILE_BYTES = 4 * GB  # a local file (CLI): larger than any torchvision weights
WEIGHTS_MAX_TENSOR_BYTES = 4 * GB  # declared tensor bytes, whatever the model
WEIGHTS_SLACK_BYTES = 16 * MB  # tensor budget = 3 × the model's state dict + this
WEIGHTS_MAX_PICKLE_BYTES = 4 * MB  # a .pt file's data.pkl (resnet152's is ~60 KB)
WEIGHTS_MAX_HEADER_BYTES = 4 * MB  # a .safetensors JSON header
WEIGHTS_MAX_ENTRIES = 100_000  # entries in a .pt zip archive
WEIGHTS_UPLOADS_HELD = 4  # uploaded weights files kept in memory (never on disk)

# --- uploads of several pictures (Transfer learning, "your own pictures") ---------------------
UPLOADS_MAX_COUNT = 60  # pictures in one training set (6 classes × 10)
UPLOADS_MAX_BYTES = 200 * MB  # their files together
UPLOADS_MAX_PIXELS = 400_000_000  # their pixels together, read from the headers
UPLOAD_THUMBNAIL_SIDE = 512  # each is decoded alone and kept only at this size

# --- models held at once ----------------------------------------------------------------------
ENSEMBLE_MAX_MODELS = 5
ENSEMBLE_MAX_BYTES = 2 * GB  # the members' parameters together (float32)
MODEL_CACHE_BYTES = 3 * GB  # the Predict/Ensemble model cache, by parameter bytes

# --- augmentation pipelines (explorer.augment) ------------------------------------------------
PIPELINE_MAX_STEPS = 32
PIPELINE_MAX_JSON_CHARS = 100_000
PIPELINE_MAX_JSON_DEPTH = 4  # {"steps": [{"type": ...}]} is 3 deep
PIPELINE_MAX_STEP_PIXELS = 16_000_000  # any step's output (expand rotations, padding)
PIPELINE_MAX_WORK_PIXELS = 64_000_000  # all steps' outputs of one sample together
PIPELINE_MAX_ELASTIC_PIXELS = 4_000_000  # elastic warping's input: ~0.3 s per 512² → ~5 s
PIPELINE_MAX_SAMPLES = 256
PIPELINE_MAX_SAMPLE_PIXELS = 64_000_000  # all samples of one call together: ~190 MB uint8 RGB

# --- command-line numbers ---------------------------------------------------------------------
CLI_MAX_BATCH = 4096  # training batches (experiment); traces use budgets.TRACE_MAX_BATCH
CLI_MAX_SEED = 2**63 - 1  # torch.Generator.manual_seed takes 0 … 2⁶³ − 1 here
CLI_MAX_EPOCHS = 1000
CLI_MAX_LR = 10.0


def check_ensemble(members: Sequence[tuple[str, int]]) -> None:
    """(name, parameter count) of each member: BudgetError over the count or bytes limit."""
    if len(members) > ENSEMBLE_MAX_MODELS:
        raise BudgetError(
            f"{len(members)} models selected; an ensemble has at most {ENSEMBLE_MAX_MODELS} "
            "members on this server."
        )
    total = 4 * sum(params for _, params in members)
    if total > ENSEMBLE_MAX_BYTES:
        raise BudgetError(
            f"These {len(members)} models need {total / GB:.1f} GB of weights together; "
            f"the limit is {ENSEMBLE_MAX_BYTES / GB:.0f} GB."
        )


def check_uploads(sizes: Sequence[int], pixels: Sequence[int]) -> None:
    """Byte and pixel counts of a batch of pictures: BudgetError over any batch limit."""
    if len(sizes) > UPLOADS_MAX_COUNT:
        raise BudgetError(
            f"{len(sizes)} pictures uploaded; the limit is {UPLOADS_MAX_COUNT} at once."
        )
    if sum(sizes) > UPLOADS_MAX_BYTES:
        raise BudgetError(
            f"The pictures are {sum(sizes) / MB:.0f} MB together; the limit is "
            f"{UPLOADS_MAX_BYTES / MB:.0f} MB."
        )
    if sum(pixels) > UPLOADS_MAX_PIXELS:
        raise BudgetError(
            f"The pictures have {sum(pixels) / 1e6:.0f} megapixels together; the limit is "
            f"{UPLOADS_MAX_PIXELS / 1e6:.0f} megapixels."
        )
