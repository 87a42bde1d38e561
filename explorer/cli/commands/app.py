"""`explorer app`: start the Streamlit app.

One process (the default): the launcher replaces itself with Streamlit (`os.execv`): no idle
parent holds memory while the server runs, and a signal sent to this process id (SIGTERM
from a service manager, Ctrl-C) reaches Streamlit itself, which stops and frees the port.
Nothing here imports torch; the server process (components/server.py) imports it in the
background while Streamlit starts.

`--processes N`: N Streamlit servers on loopback behind haproxy on the address and port asked
for (explorer.serving.proxy: each tab stays with the process that holds its session). The
launcher stays as their supervisor: it shares the machine out (job workers, page runs and
the memory budget of each server, unless the administrator set them), and SIGTERM or Ctrl-C
stops them all; if one of them stops, it stops the others and exits 1 (a service manager
restarts the whole).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from explorer.cli.arguments import int_in, port
from explorer.core.errors import ExplorerError

NAME = "app"
HELP = "start the Streamlit web app"

ENTRY = Path(__file__).resolve().parents[3] / "components" / "app.py"
# What Streamlit serves: ENTRY as an st.App, whose pages tell the browser where the server is
# (components/asgi.py: no 404s from the frontend guessing its base path).
SERVED = ENTRY.with_name("asgi.py")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=port, default=8501, help="1 … 65535 (default 8501)")
    parser.add_argument(
        "--address", default="127.0.0.1", help="bind address (0.0.0.0 for a classroom)"
    )
    parser.add_argument(
        "--processes",
        type=int_in(1, 64),
        default=1,
        help="app server processes behind haproxy (default 1: no proxy); about one per two "
        "cores serves a class fastest",
    )


def command(args: argparse.Namespace) -> list[str]:
    """The Streamlit command line this launcher becomes (or, with --processes, runs N of)."""
    return [
        sys.executable,
        "-m",
        "components.server",  # Streamlit, with torch's imports warmed in the background
        "run",
        str(SERVED),
        "--server.port",
        str(args.port),
        "--server.address",
        args.address,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]


def check_address(address: str, port: int) -> None:
    """Refuse, in one sentence, an address or port this machine cannot listen on (a name that
    does not resolve, another machine's address, a port in use or reserved), before
    Streamlit starts and fails with a traceback."""
    if not address or len(address) > 253 or any(c.isspace() for c in address):
        raise ExplorerError(f"--address {address[:60]!r} is not a host name or IP address.")
    try:
        found = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, where = found[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(where)
    except (OSError, UnicodeError) as exc:
        why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise ExplorerError(
            f"Cannot listen on {address[:60]}:{port}: {why.lower()}. Use 127.0.0.1 for this "
            "machine, 0.0.0.0 for a classroom, and a free port above 1023."
        ) from None


def run(args: argparse.Namespace) -> int:
    check_address(args.address, args.port)
    if args.processes > 1:
        return _supervise(args)
    print(f"CNN Architecture Explorer on http://{args.address}:{args.port}", flush=True)
    # Run from the repo root so .streamlit/config.toml (upload limit, theme) applies.
    os.chdir(ENTRY.parents[1])
    cmd = command(args)
    os.execv(cmd[0], cmd)


def share_of_machine(processes: int, environ: dict[str, str]) -> dict[str, str]:
    """Each server's environment: the machine shared out among `processes` servers (job
    workers, page runs at once, the memory budget), where the administrator set nothing."""
    from explorer.core.ledger import BUDGET_ENV, machine_bytes

    cores = os.cpu_count() or 1
    share = {
        "EXPLORER_WORKERS": str(max(1, (cores - 1) // processes)),
        "EXPLORER_PAGE_RUNS": str(max(1, (cores - 1) // processes)),
        BUDGET_ENV: str(max(2**30, machine_bytes() // 2 // processes)),
    }
    return {**share, **environ}  # the administrator's own settings win


def _free_local_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _stopped(children: list[subprocess.Popen[bytes]]) -> int:
    ended = next(c for c in children if c.poll() is not None)
    print(f"error: a server process stopped (exit {ended.returncode}); stopping the others",
          file=sys.stderr)  # fmt: skip
    return 1


def _all_warm(ready: list[Path], children: list[subprocess.Popen[bytes]],
              stopping: Callable[[], bool], timeout: float = 600.0) -> bool:  # fmt: skip
    """Wait until every server has written its ready file (components/server.py, after
    its warm-up); False when one stopped, a signal came, or `timeout` passed."""
    deadline = time.monotonic() + timeout
    while not all(marker.exists() for marker in ready):
        if stopping() or time.monotonic() > deadline:
            return False
        if any(c.poll() is not None for c in children):
            return False
        time.sleep(0.3)
    return True


def _supervise(args: argparse.Namespace) -> int:
    from explorer.serving.proxy import READY_FILE_ENV, Backend, haproxy_config

    haproxy = shutil.which("haproxy")
    if haproxy is None:
        raise ExplorerError(
            "--processes needs haproxy in front of the app servers; install it "
            "(apt-get install haproxy) or run one process."
        )
    root = ENTRY.parents[1]
    env = share_of_machine(args.processes, dict(os.environ))
    ports = _free_local_ports(args.processes)
    backends = [Backend(f"s{i + 1}", "127.0.0.1", p) for i, p in enumerate(ports)]
    children: list[subprocess.Popen[bytes]] = []
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with tempfile.TemporaryDirectory(prefix="explorer-proxy-") as folder:
        config = Path(folder) / "haproxy.cfg"
        config.write_text(haproxy_config(args.address, args.port, backends))
        try:
            ready = [Path(folder) / f"ready-{b.name}" for b in backends]
            for backend, marker in zip(backends, ready, strict=True):
                one = argparse.Namespace(port=backend.port, address=backend.host)
                children.append(subprocess.Popen(
                    command(one), cwd=root, env={**env, READY_FILE_ENV: str(marker)}))  # fmt: skip
            # the proxy opens its port once every server has opened every page once: no tab
            # meets a cold server, and every server gets its share from the first wave
            if not _all_warm(ready, children, lambda: stopping):
                return 0 if stopping else _stopped(children)
            children.append(subprocess.Popen([haproxy, "-f", str(config), "-db"], cwd=root))
            print(
                f"CNN Architecture Explorer on http://{args.address}:{args.port} "
                f"({args.processes} app processes behind haproxy)",
                flush=True,
            )
            while not stopping:
                if any(c.poll() is not None for c in children):
                    return _stopped(children)
                time.sleep(0.2)
            return 0
        finally:
            for child in children:
                if child.poll() is None:
                    child.terminate()
            for child in children:
                try:
                    child.wait(30)
                except subprocess.TimeoutExpired:
                    child.kill()
