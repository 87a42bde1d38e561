"""`explorer app`: start the Streamlit app.

The launcher replaces itself with Streamlit (`os.execv`): no idle parent holds memory while
the server runs, and a signal sent to this process id (SIGTERM from a service manager, Ctrl-C)
reaches Streamlit itself, which stops and frees the port. Nothing here imports torch; the
server process (components/server.py) imports it in the background while Streamlit starts.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

from explorer.cli.arguments import port
from explorer.core.errors import ExplorerError

NAME = "app"
HELP = "start the Streamlit web app"

ENTRY = Path(__file__).resolve().parents[3] / "components" / "app.py"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=port, default=8501, help="1 … 65535 (default 8501)")
    parser.add_argument(
        "--address", default="127.0.0.1", help="bind address (0.0.0.0 for a classroom)"
    )


def command(args: argparse.Namespace) -> list[str]:
    """The Streamlit command line this launcher becomes."""
    return [
        sys.executable,
        "-m",
        "components.server",  # Streamlit, with torch's imports warmed in the background
        "run",
        str(ENTRY),
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
    print(f"CNN Architecture Explorer on http://{args.address}:{args.port}", flush=True)
    # Run from the repo root so .streamlit/config.toml (upload limit, theme) applies.
    os.chdir(ENTRY.parents[1])
    cmd = command(args)
    os.execv(cmd[0], cmd)
