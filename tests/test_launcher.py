"""`explorer app` (issues 14 and 15): the launcher imports no torch, becomes Streamlit itself
(no idle parent), and SIGTERM stops the server and frees its port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_launcher_imports_no_torch() -> None:
    code = (
        "import sys\n"
        "from explorer import cli\n"
        "args = cli.build_parser('app').parse_args(['app', '--port', '8999'])\n"
        "print(args.port, sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'torchvision', 'numpy', 'PIL')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "8999 []"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def test_sigterm_stops_the_server_and_frees_the_port() -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "explorer.cli", "app", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        while not _healthy(port):
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            if time.monotonic() > deadline:
                pytest.fail("the server did not answer /_stcore/health within 180 s")
            time.sleep(0.5)
        # The launcher became Streamlit: the process we started IS the server.
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        assert b"components.server" in cmdline and b"run" in cmdline
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # The port can be listened on again at once: no process holds it. SO_REUSEADDR, as every
    # server (Tornado included) binds: without it a connection the server closed last (our
    # health checks) leaves the port in TIME_WAIT for a minute, which says nothing about the
    # server; with it, bind still fails while any process listens there.
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen()
