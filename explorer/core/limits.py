"""Every limit on what a user can hand the explorer: files, uploads, selections, caches.

One place for the numbers, so the README, the pages and the CLI say the same thing. Each
limit is checked BEFORE the work it bounds, and a refusal is one sentence that names the
number and the limit (`BudgetError`, or the error of the input's kind). Augmentation pipeline
budgets are here too; cost estimates of architectures live in explorer.analysis.pricing, which
compares them with the numbers here.
"""

from __future__ import annotations

from collections.abc import Sequence

from explorer.core.errors import BudgetError
from explorer.core.units import GiB, MiB, format_bytes

MB = MiB  # short names for the constants below
GB = GiB

FLOAT32 = 4  # bytes per weight and activation value
#: Digits of any whole number a user types (stack sizes, signatures, CLI numbers, pipeline
#: parameters): every real one is far shorter, and Python refuses to convert more than 4,300.
NUMBER_MAX_DIGITS = 18

# --- Real builds and forward passes (predictions, ten-crop, transfer features) ---------------
#: Weights a typed layer stack (or any user-made network) may allocate for real: 250M float32
#: parameters, more than VGG-16's 138M. Catalog networks are a fixed, vetted list.
REAL_MAX_PARAM_BYTES = GiB
#: Activation memory of one forward pass (largest layer's input + output, batch included).
FORWARD_MAX_BYTES = GiB
#: Multiply-accumulates of one forward pass, batch included (ten-crop of VGG-19: 196 G).
FORWARD_MAX_MACS = 10**12
#: Images in one batched forward pass (predict_many, feature extraction chunks).
FORWARD_MAX_BATCH = 256

# --- Traces (meta device: no weight memory, but the numbers must stay meaningful) ------------
#: Parameters a typed layer stack may describe at all (traced on meta, never allocated).
STACK_MAX_PARAMS = 2_000_000_000
#: Batch size of a trace, and the largest input side / channel count of a trace.
TRACE_MAX_BATCH = 1_000_000
TRACE_MAX_SIDE = 8_192
TRACE_MAX_CHANNELS = 4_096
#: Time steps a trace runs through recurrent layers (sequence length × stacked layers ×
#: directions, every LSTM/GRU/RNN together): a meta trace costs ~125 µs and ~1 KB a step, so
#: this is about a second of one core. `input 67108864 tokens | ... | lstm 2` grew past 8 GB.
TRACE_MAX_RECURRENT_STEPS = 8_192

# --- The residual experiment -------------------------------------------------------------
#: Deepest network (6n+2 layers): the paper's 110-layer CIFAR net.
RESIDUAL_MAX_DEPTH = 110
RESIDUAL_MAX_EPOCHS = 100
#: Sum of the chosen depths × epochs: the page's largest setting (all six depths, 40 epochs)
#: is 174 × 40 = 6,960. The default (8 + 20 + 56) × 10 = 840 takes about 35 s on one core.
RESIDUAL_MAX_LAYER_EPOCHS = 7_000

# --- Transfer learning ---------------------------------------------------------------------
TRANSFER_MAX_IMAGES = 500  # images whose features are computed in one request
TRANSFER_MAX_STEPS = 2_000  # optimiser steps for a new head
TRANSFER_MAX_FEATURE_VALUES = 50_000_000  # examples × feature size of the training set (200 MB)


# --- images (explorer.core.images.decode_image) --------------------------------------------------
IMAGE_MAX_BYTES = 20 * MB  # matches maxUploadSize = 20 in .streamlit/config.toml
IMAGE_MAX_PIXELS = 40_000_000  # 40 megapixels: a 7000×5700 photo; ~160 MiB as RGBA
#: The longest side: a panorama of 40 MP is ~16,000×2,500; a 1×40,000,000 strip fits the pixel
#: count but breaks every resize and crop (an OverflowError in Predict, 2.2 GiB in the labs).
IMAGE_MAX_SIDE = 20_000
# Progressive JPEGs decode every scan over the whole picture: a real photo has ≤ 12 scans
# (libjpeg's default progression has 10), a scan bomb has thousands.
JPEG_MAX_SCANS = 100

# --- weights files (explorer.weights.files) ---------------------------------------------------
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
# What the server holds of one session's uploads (every uploader of every page together: a
# training set, a query picture, weights files) and of all sessions together. Checked as each
# file arrives, before it is stored (components/upload_quota.py); freed when the session ends.
SESSION_UPLOADS_MAX_FILES = UPLOADS_MAX_COUNT + 20
SESSION_UPLOADS_MAX_BYTES = UPLOADS_MAX_BYTES + 2 * WEIGHTS_UPLOAD_BYTES
SERVER_UPLOADS_MAX_BYTES = 2 * GB

# --- models held at once ----------------------------------------------------------------------
ENSEMBLE_MAX_MODELS = 5
ENSEMBLE_MAX_BYTES = 2 * GB  # the members' parameters together (float32)
MODEL_CACHE_BYTES = 3 * GB  # the Predict/Ensemble model cache, by parameter bytes
MODEL_CACHE_WAIT_S = 20.0  # a load that does not fit waits this long for models in use to go
#: Work that does not fit in the process's memory ledger (explorer.core.ledger) waits this
#: long for other requests to finish before it is refused.
LEDGER_WAIT_S = 20.0

# --- augmentation pipelines (explorer.labs.augment)
# ------------------------------------------------
PIPELINE_MAX_STEPS = 32
PIPELINE_MAX_JSON_CHARS = 100_000
PIPELINE_MAX_JSON_DEPTH = 4  # {"steps": [{"type": ...}]} is 3 deep
PIPELINE_MAX_STEP_PIXELS = 16_000_000  # any step's output (expand rotations, padding)
PIPELINE_MAX_WORK_PIXELS = 64_000_000  # all steps' outputs of one sample together
PIPELINE_MAX_ELASTIC_PIXELS = 4_000_000  # elastic warping's input: ~0.3 s per 512² → ~5 s
PIPELINE_MAX_SAMPLES = 256
PIPELINE_MAX_SAMPLE_PIXELS = 64_000_000  # all samples of one call together: ~190 MB uint8 RGB

# --- command-line numbers ---------------------------------------------------------------------
CLI_MAX_BATCH = 4096  # training batches (experiment); traces use TRACE_MAX_BATCH
CLI_MAX_SEED = 2**63 - 1  # torch.Generator.manual_seed takes 0 … 2⁶³ − 1 here
CLI_MAX_EPOCHS = 1000
CLI_MAX_LR = 10.0


# --- typed layer stacks (explorer.catalog.stack_text) ------------------------------------------
STACK_MAX_TEXT = 10_000
STACK_MAX_LAYERS = 500
STACK_MAX_UNITS = 100_000  # filters or fc units
STACK_MAX_KERNEL = 1_000
STACK_MAX_STRIDE = 1_000
STACK_MAX_PADDING = 1_000
STACK_MAX_VOCAB = 1_000_000  # embedding vocabulary (the parameter budget bounds vocab × dim)

# --- the Cost lab's blocks (explorer.catalog.blocks) -------------------------------------------
BLOCK_MAX_SIZE = 100_000  # no block of the lecture comes near; larger is a typo

# --- input signatures (explorer.core.inputs) ---------------------------------------------------
SIGNATURE_MAX_TENSORS = 256  # tensors in one signature
SIGNATURE_MAX_DIMS = 8
SIGNATURE_MAX_ELEMENTS = 10**12  # per tensor: meta tensors cost nothing; numbers must stay sane
SIGNATURE_MAX_NESTING = 16  # brackets inside brackets

# --- diagrams (explorer.graph.diagram) ---------------------------------------------------------
# Bounds on a drawing's worst case: graphviz's layout grows much faster than linearly in
# arrows (DenseNet-201 drawn with an arrow from every layer to every later one, 2,314 arrows,
# ran 26 minutes). Chained concatenations keep every torchvision model far below the cap.
DIAGRAM_MAX_EDGES = 1_500

# --- Look inside (explorer.inside) -------------------------------------------------------------
#: Stages recorded in one pass (resnet152 has 54, densenet201 14, efficientnet_b7 64).
INSIDE_MAX_STAGES = 200
#: Activation values kept from one pass (float32): vgg16 at 224×224 keeps about 15 M.
INSIDE_MAX_RECORDED_VALUES = 60_000_000
#: Multiply-accumulates of the forward pass being looked inside (vit_h_14 needs 167 G).
INSIDE_MAX_MACS = 40_000_000_000
#: Tiles and pixels of one feature-map grid (resnet50's layer4: 2,048 tiles of 7×7).
GRID_MAX_TILES = 4096
GRID_MAX_PIXELS = 4_000_000
#: Filters drawn from the first convolution (AlexNet has 96, VGG 64).
FILTERS_MAX = 512
#: Multiply-accumulates of one class-activation-map request: per image a forward pass and the
#: backward pass down to the layer (`class_map_work`; resnet50's ten crops at layer4: 41 G).
CAM_MAX_MACS = 200_000_000_000
#: Score-CAM runs one forward pass per channel of the layer (resnet50's layer4: 2,048).
SCORECAM_MAX_MACS = 20_000_000_000
#: Occlusion: forward passes (one per patch position, plus the unoccluded image).
OCCLUSION_MAX_MACS = 250_000_000_000
OCCLUSION_MAX_POSITIONS = 4096

# --- jobs and inline work (explorer.core.work, explorer.serving.jobs) --------------------------
# Work a page may do inline, in its own server thread: about 0.3 s of one core (a ten-crop of
# resnet18, 18 G multiply-accumulates, took 0.49 s at one thread). More goes to a worker.
INLINE_MAX_MACS = 10 * 10**9
JOBS_MAX_QUEUED = 32  # jobs waiting for a worker; more are refused (BudgetError)
JOBS_PER_SESSION = 3  # jobs one session may have queued or running at once (one runs at a time)
#: A job whose every session stopped asking for it this long ago (tab closed, page left) is
#: cancelled: pages ask again every quarter second while they show its progress.
JOBS_ABANDON_S = 20.0
# A free pool worker takes waiting short jobs (a forward pass or a few) before long ones
# (training), unless the oldest long job has waited this long: a burst of short jobs delays a
# long one by at most about this, and a long one never starves.
JOBS_LONG_YIELDS_S = 20.0

# --- the augmentation lab (explorer.labs.augment) ----------------------------------------------
AUGMENT_LAB_MAX_SIDE = 512  # the lab augments a copy whose longer side is at most this
# One 512×512 RGB picture is 0.75 MiB: 256 MiB hold ~340 sample states (8 samples × 6 steps
# each for ~7 students' latest pipelines at that size; 224² crops take a fifth of that).
AUGMENT_MEMO_MAX_BYTES = 256 * 2**20

# --- How a layer computes (explorer.labs.arithmetic, explorer.labs.real_layer) ----------------
#: Animation frames of one view: every frame goes to the browser at once, so stepping never
#: asks the server again (a 20×20 output, or the cost counter's 16 + 32 channels).
ARITHMETIC_MAX_FRAMES = 400
#: A real layer's input channels are summed in at most this many groups (a 5×5×192 window is
#: 12 sums of 16 channels, not 4,800 products), and its window is shown for one channel of at
#: most this many cells a side.
ARITHMETIC_MAX_GROUPS = 16
ARITHMETIC_MAX_WINDOW_SIDE = 15

# --- the drawing canvas (Look inside) --------------------------------------------------------
CANVAS_SIDE = 240  # CSS pixels a side
#: What the canvas sends back is decoded like any upload, bounded by the canvas itself: its
#: pixels at up to 3 device pixels per CSS pixel (a HiDPI screen), and a PNG of that size.
CANVAS_MAX_PIXELS = (3 * CANVAS_SIDE) ** 2
CANVAS_MAX_BYTES = 2 * MiB

# --- the pages' own controls (components/) -----------------------------------------------------
PAGE_MAX_SIDE = 1024  # pixels: larger inputs make tracing slow on a classroom server
PAGE_MAX_BATCH = 512
RESIDUAL_PAGE_MAX_EPOCHS = 40

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
            f"These {len(members)} models need {format_bytes(total)} of weights together; "
            f"the limit is {format_bytes(ENSEMBLE_MAX_BYTES)}."
        )


def check_uploads(sizes: Sequence[int], pixels: Sequence[int]) -> None:
    """Byte and pixel counts of a batch of pictures: BudgetError over any batch limit."""
    if len(sizes) > UPLOADS_MAX_COUNT:
        raise BudgetError(
            f"{len(sizes)} pictures uploaded; the limit is {UPLOADS_MAX_COUNT} at once."
        )
    if sum(sizes) > UPLOADS_MAX_BYTES:
        raise BudgetError(
            f"The pictures are {format_bytes(sum(sizes))} together; the limit is "
            f"{format_bytes(UPLOADS_MAX_BYTES)}."
        )
    if sum(pixels) > UPLOADS_MAX_PIXELS:
        raise BudgetError(
            f"The pictures have {sum(pixels) / 1e6:.0f} megapixels together; the limit is "
            f"{UPLOADS_MAX_PIXELS / 1e6:.0f} megapixels."
        )


def check_trace_request(input_size: Sequence[int] | None, batch_size: int) -> None:
    """Bounds of a trace's input: batch, sides and channels (a meta trace allocates nothing,
    but a 10^19 batch would overflow the element counts)."""
    if not 1 <= batch_size <= TRACE_MAX_BATCH:
        raise BudgetError(
            f"The batch size is {batch_size:,}; it must be between 1 and {TRACE_MAX_BATCH:,}."
        )
    if input_size is None:
        return
    c, *sides = (int(v) for v in input_size)
    if c > TRACE_MAX_CHANNELS:
        raise BudgetError(f"The input has {c:,} channels; the limit is {TRACE_MAX_CHANNELS:,}.")
    for side in sides:
        if side > TRACE_MAX_SIDE:
            raise BudgetError(
                f"The input is {side:,} pixels on a side; the limit is {TRACE_MAX_SIDE:,}."
            )


def check_residual(depths: Sequence[int], epochs: int) -> None:
    """The residual experiment's depths and epochs (validity of 6n+2 is checked there)."""
    deepest = max(depths, default=0)
    if deepest > RESIDUAL_MAX_DEPTH:
        raise BudgetError(
            f"A {deepest}-layer network is deeper than the limit of {RESIDUAL_MAX_DEPTH} layers."
        )
    if epochs > RESIDUAL_MAX_EPOCHS:
        raise BudgetError(f"{epochs} epochs is more than the limit of {RESIDUAL_MAX_EPOCHS}.")
    work = sum(depths) * epochs
    if work > RESIDUAL_MAX_LAYER_EPOCHS:
        raise BudgetError(
            f"Depths {' + '.join(map(str, depths))} for {epochs} epochs is {work:,} "
            f"layer-epochs of training; the limit is {RESIDUAL_MAX_LAYER_EPOCHS:,}."
        )


def check_transfer_images(n_images: int) -> None:
    if n_images > TRANSFER_MAX_IMAGES:
        raise BudgetError(
            f"{n_images:,} images is more than the {TRANSFER_MAX_IMAGES:,} whose features "
            "one request may compute."
        )


def check_transfer_training(n_examples: int, n_features: int, steps: int) -> None:
    if not 1 <= steps <= TRANSFER_MAX_STEPS:
        raise BudgetError(
            f"{steps:,} training steps is outside the allowed 1 to {TRANSFER_MAX_STEPS:,}."
        )
    values = n_examples * n_features
    if values > TRANSFER_MAX_FEATURE_VALUES:
        raise BudgetError(
            f"{n_examples:,} examples × {n_features:,} features is {values:,} values; the "
            f"limit for training a new head is {TRANSFER_MAX_FEATURE_VALUES:,}."
        )
