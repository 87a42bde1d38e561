"""`explorer app --processes N`: N app servers behind haproxy, each tab kept with its process
(issue 23). Real haproxy (`.ci/run` installs it), real servers, 60 real sessions."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import socket
import subprocess
import sys
import tempfile

import requests
from load_client import ROOT, load_client

from explorer.cli.commands.app import share_of_machine
from explorer.core.ledger import BUDGET_ENV
from explorer.serving.proxy import Backend, haproxy_config


def test_the_configuration_is_valid_haproxy_and_keeps_tabs_with_their_process() -> None:
    backends = [Backend("s1", "10.0.0.5", 8501), Backend("s2", "fe80::1", 8502)]
    text = haproxy_config("0.0.0.0", 8501, backends, stats_port=9000)
    assert "cookie EXPLORER_SERVER insert indirect nocache httponly" in text
    assert "server s2 [fe80::1]:8502 check cookie s2" in text and "timeout tunnel 8h" in text
    with tempfile.NamedTemporaryFile("w", suffix=".cfg") as config:
        config.write(text)
        config.flush()
        checked = subprocess.run(["haproxy", "-c", "-f", config.name], capture_output=True,
                                 text=True, timeout=60)  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    shipped = (ROOT / "deploy" / "haproxy.cfg").read_text()
    checked = subprocess.run(["haproxy", "-c", "-f", str(ROOT / "deploy" / "haproxy.cfg")],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "cookie EXPLORER_SERVER insert" in shipped


def test_the_machine_is_shared_out_unless_the_administrator_said() -> None:
    shared = share_of_machine(2, {})
    assert int(shared["EXPLORER_WORKERS"]) >= 1 and int(shared["EXPLORER_PAGE_RUNS"]) >= 1
    assert int(shared[BUDGET_ENV]) >= 2**30
    assert share_of_machine(2, {"EXPLORER_WORKERS": "7"})["EXPLORER_WORKERS"] == "7"


def test_two_processes_behind_haproxy_serve_sixty_tabs_and_stop_together() -> None:
    client = load_client()
    port = client.free_port()
    launcher = subprocess.Popen(
        [sys.executable, "-m", "explorer.cli", "app", "--processes", "2", "--port", str(port)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "EXPLORER_WORKERS": "1"},
    )  # fmt: skip
    try:
        assert client.wait_healthy(launcher, port)
        page = requests.get(f"http://127.0.0.1:{port}/", timeout=30)
        assert page.status_code == 200 and "EXPLORER_SERVER=s" in page.headers["Set-Cookie"]
        first = page.headers["X-Explorer-Server"]
        again = requests.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=30,
                             cookies={"EXPLORER_SERVER": first})  # fmt: skip
        assert again.headers["X-Explorer-Server"] == first  # the cookie keeps a tab in place
        sessions = client.plan(60, 0)
        results = asyncio.run(client.one_round(port, sessions, 600))
        assert [r.errors for r in results if r.errors] == []
        served = collections.Counter(r.server for r in results)
        assert set(served) == {"s1", "s2"} and min(served.values()) >= 20, served
    finally:
        launcher.send_signal(signal.SIGTERM)
        out, _ = launcher.communicate(timeout=90)
    assert launcher.returncode == 0, out.decode()[-2000:]
    assert b"2 app processes behind haproxy" in out
    with socket.socket() as s:  # nothing is left listening: the proxy's port is free again
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
