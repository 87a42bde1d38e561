"""`explorer app`: start the Streamlit app."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

NAME = "app"
HELP = "start the Streamlit web app"

ENTRY = Path(__file__).resolve().parents[2] / "components" / "app.py"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument(
        "--address", default="127.0.0.1", help="bind address (0.0.0.0 for a classroom)"
    )


def run(args: argparse.Namespace) -> int:
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
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
    print(f"CNN Architecture Explorer on http://{args.address}:{args.port}", flush=True)
    # Run from the repo root so .streamlit/config.toml (upload limit, theme) applies.
    return subprocess.call(cmd, cwd=ENTRY.parents[1], env=os.environ.copy())
