"""Hostile files (issue 15): each is refused within a small memory and CPU budget, with one
clear sentence, measured in a child process whose limits are set by `resource.setrlimit`.

The tests generate every file (each a few KB to a few MB): a zip-bombed `.pt`, a progressive
JPEG scan bomb, safetensors headers declaring terabytes, a legacy pickle, pipeline JSON nested
40,000 deep or holding a 5,000-digit number, 32 expanding rotations of a 512×1 strip, a 2 GB
(sparse) image file, and batches of uploads over their limits.

How the child is capped: it imports what it needs, runs one small torch operation (so thread
pools and allocator arenas exist), then sets RLIMIT_AS to its current address space plus
MEMORY_BUDGET and RLIMIT_CPU to its CPU time so far plus CPU_BUDGET seconds. A refusal must
come back as the expected ExplorerError; a bomb that got past the checks would instead die of
MemoryError, an allocator error or SIGXCPU. One control run shows the cap is real: the same
zip bomb given straight to `torch.load` fails in the capped child.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
import torch
from PIL import Image

from explorer.core import images, limits
from explorer.core.errors import BudgetError, ImageError

MEMORY_BUDGET = 200 * 2**20  # bytes of address space the child may add after its imports
CPU_BUDGET = 20  # CPU seconds the child may add after its imports
BOMB_BYTES = 2**29  # what the zip bomb inflates to: 512 MB, from a 0.5 MB file

_CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    import torch
    import explorer.core.images, explorer.weights.loading, explorer.labs.augment, explorer.cli
    torch.ones(4).sum()  # start thread pools before the cap

    def vm_bytes():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024

    cap = vm_bytes() + {memory}
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = int(used.ru_utime + used.ru_stime) + 1 + {cpu}
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    outcomes = []
    for arg in sys.argv[1:]:
        start = time.process_time()
        try:
            {body}
            outcome = {{"error": None, "message": ""}}
        except BaseException as exc:
            outcome = {{"error": type(exc).__name__, "message": str(exc)}}
        outcome["cpu_s"] = time.process_time() - start
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        outcome["rss_growth_kb"] = rss - rss_before
        outcomes.append(outcome)
    print("RESULT " + json.dumps(outcomes))
    """
)


def _capped(*statements: str) -> list[dict[str, object]]:
    """Run each statement in turn in one child with the caps above; one outcome each (error
    type, message, CPU seconds, peak RSS growth since the cap was set)."""
    code = _CHILD.format(memory=MEMORY_BUDGET, cpu=CPU_BUDGET, body="exec(arg, {})")
    env = {**os.environ, "MALLOC_ARENA_MAX": "2", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", code, *statements],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"child died (status {proc.returncode}): {proc.stderr[-2000:]}"
    results: list[dict[str, object]] = json.loads(lines[-1].removeprefix("RESULT "))
    return results


def _assert_refused(result: dict[str, object], error: str, *fragments: str) -> None:
    assert result["error"] == error, result
    message = str(result["message"])
    assert "\n" not in message and "Traceback" not in message and "/work/" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    # Nothing near the bomb's size was allocated (the cap would have stopped it anyway).
    assert int(str(result["rss_growth_kb"])) * 1024 < MEMORY_BUDGET, result


def _load(path: Path) -> str:
    return f'import explorer.weights.loading as w; w.load("lenet5", {str(path)!r}, device="cpu")'


# --- the corpus ------------------------------------------------------------------------------


def zip_bomb_pt(path: Path, inflated: int = BOMB_BYTES) -> Path:
    """A torch.save archive for lenet5 whose one tensor record is `inflated` zero bytes,
    DEFLATE-compressed (~1000:1): what torch.load would inflate before any check."""
    marker = 1_000_003
    buf = io.BytesIO()
    torch.save({"conv1.weight": torch.zeros(marker, dtype=torch.uint8)}, buf)
    source = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    with zipfile.ZipFile(path, "w") as out:
        for name in source.namelist():
            data = source.read(name)
            if name.endswith("data.pkl"):  # the declared numel and size: 1,000,003 -> inflated
                data = data.replace(struct.pack("<i", marker), struct.pack("<i", inflated))
                out.writestr(name, data)
            elif name.endswith("data/0"):
                info = zipfile.ZipInfo(name)
                info.compress_type = zipfile.ZIP_DEFLATED
                with out.open(info, "w", force_zip64=True) as record:
                    zero = bytes(1 << 20)
                    for _ in range(inflated >> 20):
                        record.write(zero)
            else:
                out.writestr(name, data)
    return path


def scan_bomb_jpeg(side: int = 2048, copies: int = 3000) -> bytes:
    """A progressive JPEG whose last scan is repeated `copies` times (~70 KB): every scan is
    decoded over the whole picture, so the decode costs `copies` full passes."""
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), (120, 130, 140)).save(buffer, "JPEG", progressive=True)
    data = buffer.getvalue()
    last_scan, end = data.rfind(b"\xff\xda"), data.rfind(b"\xff\xd9")
    return data[:end] + data[last_scan:end] * copies + data[end:]


def safetensors_declaring(shape: list[int], header_len: int | None = None) -> bytes:
    nbytes = 4
    for size in shape:
        nbytes *= size
    header = json.dumps({"w": {"dtype": "F32", "shape": shape, "data_offsets": [0, nbytes]}})
    length = len(header.encode()) if header_len is None else header_len
    return struct.pack("<Q", length) + header.encode() + bytes(64)


# --- weights ---------------------------------------------------------------------------------


def test_hostile_weights_files_are_refused_from_their_declared_sizes(tmp_path: Path) -> None:
    bomb = zip_bomb_pt(tmp_path / "bomb.pt")
    assert bomb.stat().st_size < 1_000_000
    upload = zip_bomb_pt(tmp_path / "upload-bomb.pt", inflated=2**26)
    big = tmp_path / "big.pt"  # uncompressed, but 40 MB of tensors for a 0.25 MB LeNet-5
    torch.save({"conv1.weight": torch.zeros(10_000_000)}, big)
    files = {
        "terabytes.safetensors": safetensors_declaring([1_000_000, 1_000_000]),
        "header.safetensors": safetensors_declaring([2], header_len=2**40),
        "legacy.pt": b"\x80\x02" + bytes(64),  # the pre-1.6 format: a bare pickle
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    pickle = tmp_path / "pickle.pt"
    with zipfile.ZipFile(pickle, "w") as out:
        out.writestr("archive/data.pkl", b"\x80\x02" + bytes(limits.WEIGHTS_MAX_PICKLE_BYTES))
    results = _capped(
        _load(bomb),
        "import explorer.weights.loading as w; w.load('lenet5', 'upload.pt', device='cpu', "
        f"data=open({str(upload)!r}, 'rb').read())",
        _load(big),
        *(_load(tmp_path / name) for name in files),
        _load(pickle),
    )
    expected = [
        ("bomb.pt has a compressed entry", "inflating to 512 MiB"),
        ("upload.pt has a compressed entry", "zip bomb"),
        ("declares 38.1 MiB of tensors", "limit for this model is 16.7 MiB"),
        ("declares 3.6 TiB of tensors",),
        ("declares a 1 TiB safetensors header", "limit is 4 MiB"),
        ("legacy format",),
        ("index (archive/data.pkl)", "limit is 4 MiB"),
    ]
    assert len(results) == len(expected)
    for result, fragments in zip(results, expected):
        _assert_refused(result, "WeightsError", *fragments)


def test_the_memory_cap_is_real_torch_load_alone_fails_on_the_bomb(tmp_path: Path) -> None:
    bomb = zip_bomb_pt(tmp_path / "bomb.pt")
    [control] = _capped(f"import torch; torch.load({str(bomb)!r}, weights_only=True)")
    assert control["error"] in ("RuntimeError", "MemoryError"), control


# --- images ----------------------------------------------------------------------------------


def test_scan_bomb_and_huge_image_file_are_refused_before_decoding(tmp_path: Path) -> None:
    data = scan_bomb_jpeg()
    assert len(data) < 200_000 and images.jpeg_scan_count(data) == 3010
    bomb = tmp_path / "bomb.jpg"
    bomb.write_bytes(data)
    huge = tmp_path / "huge.png"
    with huge.open("wb") as file:  # sparse: 2 GB on paper, nothing on disk
        file.truncate(2 * 2**30)
    jpeg, predict = _capped(
        f"import explorer.core.images as i; i.decode_image(i.read_image_file({str(bomb)!r}))",
        "import explorer.cli as c\n"
        f"status = c.main(['predict', 'lenet5-digits', {str(huge)!r}])\n"
        "assert status == 2, status",
    )
    _assert_refused(jpeg, "ImageError", "3,010 scans", f"limit is {limits.JPEG_MAX_SCANS}")
    assert predict["error"] is None, predict
    assert int(str(predict["rss_growth_kb"])) * 1024 < MEMORY_BUDGET


def test_ordinary_progressive_jpegs_pass_the_scan_limit() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (1, 2, 3)).save(buffer, "JPEG", progressive=True)
    assert images.jpeg_scan_count(buffer.getvalue()) == 10
    assert images.decode_image(buffer.getvalue()).size == (64, 48)
    for sample in images.sample_names():
        assert images.jpeg_scan_count(images.sample_path(sample).read_bytes()) >= 1


def test_decompression_bomb_png_is_refused_by_its_header() -> None:
    buffer = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(buffer, "PNG")  # 100 MP in ~12 KB
    assert len(buffer.getvalue()) < 100_000
    with pytest.raises(ImageError, match=r"\(100 megapixels\); the limit is 40 megapixels"):
        images.decode_image(buffer.getvalue())


def test_upload_batches_are_budgeted_before_decoding() -> None:
    small = io.BytesIO()
    Image.new("RGB", (8, 8)).save(small, "PNG")
    count = f"61 pictures uploaded; the limit is {limits.UPLOADS_MAX_COUNT}"
    with pytest.raises(BudgetError, match=count):
        images.check_upload_batch([small.getvalue()] * 61)
    big = io.BytesIO()
    Image.new("1", (8000, 5000)).save(big, "PNG")  # 40 MP each, a few KB: 30 are 1,200 MP
    with pytest.raises(BudgetError, match="1200 megapixels together; the limit is 400"):
        images.check_upload_batch([big.getvalue()] * 30)
    images.check_upload_batch([small.getvalue()] * 30)  # an ordinary set passes


def test_ensembles_are_capped_by_count_and_bytes() -> None:
    from explorer.weights import loading as weights

    everything = [(n, weights.find(n).num_params) for n in weights.with_weights()]
    assert len(everything) > 80
    with pytest.raises(BudgetError, match=rf"{len(everything)} models selected; an ensemble "
                       rf"has at most {limits.ENSEMBLE_MAX_MODELS} members"):
        limits.check_ensemble(everything)
    giants = [(n, p) for n, p in everything if n.startswith(("vit_h", "regnet_y_128"))][:2]
    with pytest.raises(BudgetError, match=r"need \d+\.\d GiB of weights together; the limit"):
        limits.check_ensemble(giants)
    limits.check_ensemble([("lenet5-digits", 61_706)] * 3)


def test_thumbnails_decode_jpegs_at_a_reduced_scale() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (4000, 3000), (10, 20, 30)).save(buffer, "JPEG")
    thumb = images.decode_image(buffer.getvalue(), max_side=limits.UPLOAD_THUMBNAIL_SIDE)
    assert max(thumb.size) == limits.UPLOAD_THUMBNAIL_SIDE
    assert thumb.info["source_size"] == (4000, 3000)


# --- augmentation pipelines ------------------------------------------------------------------


def test_elastic_warping_of_a_big_picture_is_refused_before_work() -> None:
    from explorer.labs.augment import ElasticWarp, Pipeline

    with pytest.raises(BudgetError, match=r"would warp a 3000×2000 picture .* limit is 4\.0"):
        Pipeline((ElasticWarp(),)).samples(Image.new("RGB", (3000, 2000)), 1)


_PIPELINE = '{"format": "cnn-explorer-augmentation", "version": 1, "steps": '
HOSTILE_PIPELINES = [
    ("[" * 40_000 + "]" * 40_000, "SpecError", "nested 40000 levels deep"),
    (_PIPELINE + '[{"type": "pad", "padding": 1' + "0" * 5000 + "}]}", "SpecError",
     "5001-digit number"),
    (_PIPELINE + '[{"type": "rotation", "min_degrees": NaN}]}', "SpecError", "NaN"),
    (_PIPELINE + '[], "exec": 1}', "SpecError", "Unknown key(s) in the pipeline: exec"),
    (_PIPELINE + '[{"type": "rotation", "max_degrees": 1e308}]}', "SpecError",
     "outside the allowed range"),
    # 32 expanding rotations of a 512×1 strip: once 11,734² pixels, 5 GB and 170 s
    (_PIPELINE + json.dumps([{"type": "rotation", "min_degrees": -180, "max_degrees": 180,
                              "expand": True}] * 32) + "}", "BudgetError",
     "the limit per step is 16.0 megapixels"),
]


def test_hostile_pipelines_are_refused_before_any_work() -> None:
    results = _capped(
        *(
            "import explorer.labs.augment as a; from PIL import Image\n"
            f"a.Pipeline.from_json({text!r}).samples(Image.new('RGB', (512, 1)), 16)"
            for text, _, _ in HOSTILE_PIPELINES
        )
    )
    for result, (_, error, fragment) in zip(results, HOSTILE_PIPELINES):
        _assert_refused(result, error, fragment)
        assert float(str(result["cpu_s"])) < CPU_BUDGET
