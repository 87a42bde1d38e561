"""Data loss (issue 15 item 4): every file the explorer writes is written atomically, nothing
is overwritten that the user did not name, and downloads are shared, complete and checked.

Each test checks that the original file is intact afterwards.
"""

from __future__ import annotations

import hashlib
import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from explorer import cli
from explorer.core.errors import WeightsError
from explorer.core.safe_io import (
    atomic_open,
    atomic_write,
    atomic_write_all,
    file_lock,
    output_path,
)
from explorer.weights import loading as weights

ORIGINAL = b"the user's precious file\n"


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        status = cli.main(argv)
    except SystemExit as exc:
        status = int(exc.code or 0)
    return status, capsys.readouterr().err


# --- explorer train -o --------------------------------------------------------------------------


def test_train_output_over_its_own_metadata_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "m.json"
    target.write_bytes(ORIGINAL)
    status, err = _run(["train", "lenet5-digits", "--epochs", "1", "-o", str(target)], capsys)
    assert status == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert "must end with .safetensors" in err
    assert target.read_bytes() == ORIGINAL


@pytest.mark.parametrize("where", ["missing/deeper/m.safetensors", "folder", "folder/"])
def test_train_output_into_a_missing_folder_or_a_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "keep.txt").write_bytes(ORIGINAL)
    status, err = _run(["train", "lenet5-digits", "-o", str(tmp_path / where)], capsys)
    assert status == 2 and err.count("\n") == 1
    assert not (tmp_path / "missing").exists()  # no folder is created on the user's behalf
    assert (tmp_path / "folder" / "keep.txt").read_bytes() == ORIGINAL


def test_output_path_rules() -> None:
    with pytest.raises(ValueError, match="does not exist"):
        output_path("/nonexistent-folder/x.png")
    with pytest.raises(ValueError, match="is a folder"):
        output_path("/tmp")
    with pytest.raises(ValueError, match=r"must end with \.png"):
        output_path("/tmp/grid.jpg", suffixes=(".png",))


# --- atomic writes ---------------------------------------------------------------------------


def test_a_write_that_fails_half_way_leaves_the_original(tmp_path: Path) -> None:
    target = tmp_path / "grid.png"
    target.write_bytes(ORIGINAL)
    with pytest.raises(RuntimeError, match="disk full"), atomic_open(target) as file:
        file.write(b"half of a new pic")
        raise RuntimeError("disk full")
    assert target.read_bytes() == ORIGINAL
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png"]  # no temp file left
    atomic_write(target, "new text")
    assert target.read_text() == "new text" and target.stat().st_mode & 0o777 == 0o644


def test_two_augment_runs_writing_one_png_leave_a_whole_png(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "same.png"
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def run(seed: int) -> None:
        barrier.wait()
        statuses.append(
            cli.main(["augment", "--sample", "cat", "--n", "4", "--seed", str(seed),
                      "--out", str(out)])
        )

    for _ in range(3):
        threads = [threading.Thread(target=run, args=(seed,)) for seed in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with Image.open(out) as picture:
            picture.load()  # a torn file fails here
        assert sorted(p.name for p in tmp_path.iterdir()) == ["same.png"]
    assert statuses == [0] * 6


# --- downloads -------------------------------------------------------------------------------


class _Server(http.server.ThreadingHTTPServer):
    payload = b""
    requests = 0
    cut_after: int | None = None  # send this many bytes, then drop the connection


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.requests += 1
        data = self.server.payload
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        cut = self.server.cut_after
        for start in range(0, len(data) if cut is None else cut, 65536):
            self.wfile.write(data[start : min(start + 65536, cut or len(data))])
            self.wfile.flush()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[_Server]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _info(server: _Server, folder: Path, payload: bytes) -> weights.WeightsInfo:
    server.payload = payload
    digest = hashlib.sha256(payload).hexdigest()
    real = weights.find("squeezenet1_1")
    return weights.WeightsInfo(**{
        **real.__dict__,
        "url": f"http://127.0.0.1:{server.server_address[1]}/sq.pth",
        "path": folder / f"sq-{digest[:8]}.pth",
        "size_mb": round(len(payload) / 2**20, 3),
    })


def test_concurrent_downloads_of_one_file_share_one_download(
    server: _Server, tmp_path: Path
) -> None:
    payload = bytes(range(256)) * 8192  # 2 MB
    info = _info(server, tmp_path, payload)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def fetch() -> None:
        barrier.wait()
        try:
            assert weights.download(info) == info.path
        except BaseException as exc:  # collected: a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert server.requests == 1  # the others waited for the lock and found it done
    assert info.path.read_bytes() == payload and info.cached


def test_a_download_cut_short_leaves_nothing_that_looks_cached(
    server: _Server, tmp_path: Path
) -> None:
    payload = bytes(range(256)) * 8192
    info = _info(server, tmp_path, payload)
    server.cut_after = len(payload) // 2
    with pytest.raises(WeightsError, match=r"Download failed|corrupt"):
        weights.download(info)
    assert not info.cached and not info.path.exists()
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []
    server.cut_after = None  # the next try starts clean and completes
    assert weights.download(info).read_bytes() == payload


def test_file_lock_excludes_another_process(tmp_path: Path) -> None:
    target = tmp_path / "weights.pth"
    released = tmp_path / "released"
    code = (
        "import pathlib, sys, time\n"
        "from explorer.core.safe_io import file_lock\n"
        "with file_lock(sys.argv[1]):\n"
        "    print('locked', flush=True)\n"
        "    time.sleep(1.0)\n"
        "    pathlib.Path(sys.argv[2]).touch()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(target), str(released)], stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "locked"
    with file_lock(target):
        assert released.exists()  # we got the lock only after the child was done with it
    assert child.wait() == 0


def test_file_lock_excludes_another_thread(tmp_path: Path) -> None:
    """Two threads of one server (two sessions downloading the same weights) take turns."""
    import threading
    import time

    target = tmp_path / "weights.pth"
    inside: list[int] = []
    overlaps: list[bool] = []

    def hold(n: int) -> None:
        with file_lock(target):
            inside.append(n)
            overlaps.append(len(inside) > 1)
            time.sleep(0.05)
            inside.remove(n)

    threads = [threading.Thread(target=hold, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == [False] * 4


def test_a_write_the_system_refuses_is_one_sentence_and_keeps_the_old_file(
    tmp_path: Path,
) -> None:
    """A full disk gave an OSError traceback from every writer (train -o, augment --out/--code,
    diagram -o, activations --out): all of them write through atomic_open. A file-size limit
    in a child process makes the write fail the way a full disk does."""
    target = tmp_path / "weights.safetensors"
    target.write_bytes(b"old")
    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))\n"
        "from explorer.core.safe_io import atomic_write\n"
        "from explorer.core.errors import ExplorerError\n"
        "try:\n"
        "    atomic_write(sys.argv[1], b'x' * 100_000)\n"
        "except ExplorerError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0 and "Traceback" not in done.stderr
    assert done.stdout.startswith("Cannot write weights.safetensors: file too large.")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["weights.safetensors"]  # no temp left


def test_weights_and_their_metadata_change_together_or_not_at_all(tmp_path: Path) -> None:
    """`train -o` replaced the weights but left the old .json beside them (a different sha256)
    when the second write failed. Both now go through atomic_write_all: here the metadata (the
    second file) is too large for the file-size limit, so neither file changes."""
    weights, meta = tmp_path / "m.safetensors", tmp_path / "m.json"
    weights.write_bytes(b"old weights")
    meta.write_bytes(b'{"sha256": "old"}')
    code = (
        "import resource, signal, sys\n"
        "from pathlib import Path\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))\n"
        "from explorer.core.safe_io import atomic_write_all\n"
        "from explorer.core.errors import ExplorerError\n"
        "w, m = Path(sys.argv[1]), Path(sys.argv[2])\n"
        "try:\n"
        "    atomic_write_all({w: b'new weights', m: b'x' * 100_000})\n"
        "except ExplorerError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(weights), str(meta)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0 and "Traceback" not in done.stderr
    assert done.stdout.startswith("Cannot write m.json: file too large.")
    assert weights.read_bytes() == b"old weights" and meta.read_bytes() == b'{"sha256": "old"}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.safetensors"]
    (tmp_path / "d.json").mkdir()  # a folder where the metadata goes: refused before writing
    with pytest.raises(ValueError, match=r"d\.json: it is not a plain file"):
        atomic_write_all({tmp_path / "d.safetensors": b"w", tmp_path / "d.json": b"{}"})
    assert not (tmp_path / "d.safetensors").exists()
    atomic_write_all({weights: b"new weights", meta: b'{"sha256": "new"}'})
    assert weights.read_bytes() == b"new weights" and meta.read_bytes() == b'{"sha256": "new"}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.json", "m.json", "m.safetensors"]


@pytest.mark.parametrize(
    "argv",
    [
        ["augment", "--sample", "cat", "--n", "1", "--out", "{tmp}/" + "n" * 300 + ".png"],
        ["diagram", "lenet5", "-o", "{tmp}/" + "n" * 300 + ".svg"],
        ["app", "--address", "999.1.1.1", "--port", "8599"],
        ["app", "--address", "::::", "--port", "8599"],
        ["app", "--address", "10.255.255.1", "--port", "8599"],  # not this machine's
    ],
    ids=["long-augment-out", "long-diagram-out", "bad-ip", "colons", "not-ours"],
)
def test_long_names_and_bad_addresses_are_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    """Issue 24 item 10, found again by benchmarks/fuzz_inputs.py: an over-long output name
    gave an OSError traceback (ENAMETOOLONG from the folder check), and an address the
    machine cannot listen on gave Streamlit's socket.gaierror traceback."""
    status, err = _run([a.replace("{tmp}", str(tmp_path)) for a in argv], capsys)
    assert status == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and ("too long" in err or "Cannot listen on" in err)
    assert list(tmp_path.iterdir()) == []
