"""Do uploads give their memory back? Server RSS as tabs fill their upload share and leave.

    .venv/bin/python benchmarks/upload_memory.py [--tabs 3] [--rounds 3] [--ttl 3]

Starts the server as `explorer app` does (`python -m components.server run components/asgi.py`,
malloc arenas capped) on loopback with Streamlit's `server.disconnectedSessionTTL` set to
`--ttl` seconds (120 by default in a real server: a closed tab's session, and its uploaded
files, live that long). Each round, `--tabs` tabs open the Transfer page and upload 19 MiB
files until their share (limits.SESSION_UPLOADS_MAX_BYTES) is full, as Transfer's "your own
pictures" can; then the tabs close and their sessions expire. Prints the server's RSS before,
with the files held, and after the sessions expired, per round. The issue measured +1.1 GB
left behind per 60 × 19 MB session before the quota; the target is an RSS that comes back
near its level before the round and does not climb from round to round.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
import uuid
from pathlib import Path

import classroom_load as cl
import requests

from explorer.core import limits

ROOT = Path(__file__).resolve().parents[1]
FILE = 19 * 2**20


def _upload(port: int, session_id: str) -> int:
    url = f"http://127.0.0.1:{port}/_stcore/upload_file/{session_id}/{uuid.uuid4()}"
    body = {"file": ("p.png", b"\0" * FILE, "image/png")}
    return int(requests.put(url, files=body, timeout=120).status_code)


async def _round(port: int, tabs: int) -> tuple[int, int]:
    """Open `tabs` tabs, fill their upload shares; (files stored, files refused)."""
    sockets, ids = [], []
    for _ in range(tabs):
        ws = await cl.connect(port)
        await ws.send(cl._rerun("", "transfer"))
        found = await cl._until_finished(ws, cl.Result("transfer", ""))
        sockets.append(ws)
        ids.append(found["session_id"])
    fits = limits.SESSION_UPLOADS_MAX_BYTES // FILE
    codes = [_upload(port, sid) for sid in ids for _ in range(fits + 1)]  # one past the share
    for ws in sockets:
        await ws.close()
    return codes.count(204), codes.count(413)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tabs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ttl", type=int, default=3)
    args = parser.parse_args()
    port = cl.free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "components.server", "run", "components/asgi.py",
         "--server.address", "127.0.0.1", "--server.port", str(port), "--server.headless",
         "true", "--browser.gatherUsageStats", "false", "--server.enableXsrfProtection",
         "false", "--server.disconnectedSessionTTL", str(args.ttl)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        if not cl.wait_healthy(server, port):
            print("the server did not start")
            return 1
        time.sleep(2)
        start = cl.rss_mib(server.pid)
        print(f"{args.tabs} tabs a round, {FILE // 2**20} MiB files, session TTL {args.ttl} s; "
              f"server RSS at start {start:,.0f} MiB")  # fmt: skip
        for r in range(1, args.rounds + 1):
            before = cl.rss_mib(server.pid)
            stored, refused = asyncio.run(_round(port, args.tabs))
            held = cl.rss_mib(server.pid)
            time.sleep(args.ttl + 15)  # the sessions expire; the sweep (10 s) drops their files
            after = cl.rss_mib(server.pid)
            print(f"round {r}: {stored} files stored ({stored * FILE / 2**20:,.0f} MiB), "
                  f"{refused} refused; RSS {before:,.0f} → {held:,.0f} with the files → "
                  f"{after:,.0f} MiB after the sessions expired ({after - before:+,.0f})")
        return 0
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
