"""The server process (components/server.py): no Python AST is built in a page's thread (CPython
3.11 raises `SystemError: AST constructor recursion depth mismatch` when two threads build ASTs
at once, python/cpython#106905), glibc's malloc arenas are capped, and the garbage collector's
start-up settings are made once per process."""

from __future__ import annotations

import ast
import asyncio
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from load_client import load_client
from streamlit.runtime.scriptrunner import magic

from components import server as serve

ROOT = Path(__file__).resolve().parents[1]
PAGE_FILES = [ROOT / "components" / "app.py", *sorted((ROOT / "components" / "views").glob("*.py"))]


@pytest.mark.parametrize("path", PAGE_FILES, ids=lambda p: p.name)
def test_no_page_relies_on_streamlit_magic(path: Path) -> None:
    """The server switches magic off (it parses every page into ASTs): a bare expression that
    magic would have written to the page must be an explicit st.write instead."""
    source = path.read_text()
    plain = ast.dump(ast.parse(source))
    rewritten = magic.add_magic(source, str(path))
    rewritten.body = [  # magic always adds its own import; anything else is a magic write
        node
        for node in rewritten.body
        if not (isinstance(node, ast.Import) and node.names[0].asname == "__streamlitmagic__")
    ]
    assert ast.dump(rewritten) == plain, f"{path.name} displays a bare expression via magic"


def test_the_server_runs_streamlit_with_magic_off() -> None:
    argv = serve.streamlit_argv(["run", "components/app.py", "--server.port", "8999"])
    assert argv[:4] == ["streamlit", "run", "--runner.magicEnabled", "false"]
    assert argv[4:] == ["components/app.py", "--server.port", "8999"]
    assert serve.streamlit_argv(["version"]) == ["streamlit", "version"]


def test_pages_do_not_wait_without_a_warm_up() -> None:
    assert serve._warmed is None  # pytest and AppTest never start one
    assert serve.wait_until_warm(timeout=0.0)


ARENAS = """
import ctypes, os, sys, threading
from components import server as serve
print(serve.limit_malloc_arenas() if sys.argv[1] == "capped" else "uncapped")
barrier = threading.Barrier(8)
def allocate():
    held = [bytearray(4096) for _ in range(64)]  # malloc (not pymalloc), below mmap size
    barrier.wait()  # all 8 threads alive at once: none inherits an exited thread's arena
    del held
threads = [threading.Thread(target=allocate) for _ in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
sys.stderr.flush()
ctypes.CDLL(None).malloc_stats()  # one "Arena N:" block per arena, on stderr
"""


def _arenas(mode: str, env: dict[str, str]) -> tuple[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", ARENAS, mode], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip(), sum(line.startswith("Arena ") for line in out.stderr.splitlines())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_malloc_arenas_are_capped_unless_the_administrator_set_them() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    assert _arenas("uncapped", env)[1] > serve.SERVER_MALLOC_ARENAS  # 8 threads: ~9 arenas
    assert _arenas("capped", env) == ("True", serve.SERVER_MALLOC_ARENAS)
    said, count = _arenas("capped", {**env, "MALLOC_ARENA_MAX": "3"})
    assert said == "False" and count == 3


# An audit hook in the server process: every Python AST built (ast.parse, which inspect,
# Streamlit's magic and some imports call) is logged with its thread's name.
SERVER = """
import ast, sys, threading
log = open(sys.argv[1], "a", buffering=1)
def hook(event, args):
    if event == "compile" and sys._getframe(1).f_code is ast.parse.__code__:
        where = sys._getframe(2).f_code
        log.write(f"{threading.current_thread().name}\\t{where.co_filename}:{where.co_name}\\n")
sys.addaudithook(hook)
sys.argv = ["components.server", *sys.argv[2:]]
from components.server import main
main()
"""


def test_no_page_builds_a_python_ast_in_its_thread(tmp_path: Path) -> None:
    """Every page, visited twice by a fresh tab (the second time after every tab closed, when
    Streamlit has emptied its script cache): no AST is built in a script thread. Before the
    fix, each compile's magic rewrite, the Augmentation lab's code export and pandas' first
    import (numpy.ma) did."""
    client = load_client()
    log = tmp_path / "ast.log"
    errors = tmp_path / "server.err"
    for _ in range(3):  # a free port can be taken again before the server binds it: retry
        port = client.free_port()
        with errors.open("wb") as err:
            server = subprocess.Popen(
                [sys.executable, "-c", textwrap.dedent(SERVER), str(log), "run",
                 "components/asgi.py", "--server.address", "127.0.0.1", "--server.port",
                 str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err,
            )  # fmt: skip
        if client.wait_healthy(server, port) or server.poll() is None:
            break
    try:
        assert client.wait_healthy(server, port), errors.read_text()[-2000:]
        pages = [(page, query.format(arch="resnet18"), False) for page, query in client.PAGES]
        for _ in range(2):
            results = asyncio.run(client.one_round(port, pages, 600))
            assert [r.errors for r in results if r.errors] == []
    finally:
        server.terminate()
        server.wait(timeout=60)
    built = [line for line in log.read_text().splitlines() if line.startswith("ScriptRunner")]
    assert built == []


def test_garbage_collector_start_up_settings() -> None:
    """explorer.core.gc_settings, in a fresh process (the settings are process-wide): start-up
    objects
    frozen, the young generation's threshold raised, and a higher one set by the owner kept."""
    code = textwrap.dedent(
        """
        import gc
        from explorer.core.gc_settings import YOUNG_THRESHOLD, settle_after_imports
        settle_after_imports()
        print(gc.get_threshold()[0] == YOUNG_THRESHOLD, gc.get_freeze_count() > 0)
        gc.set_threshold(50_000, 10, 10)
        settle_after_imports()
        print(gc.get_threshold()[0])
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True", "50000"]


def test_the_cli_settles_the_collector() -> None:
    code = (
        "import contextlib, gc, io\n"
        "from explorer import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    cli.main(['list'])\n"
        "print(gc.get_threshold()[0])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-1] == "10000"


def test_no_full_collection_after_every_script_run() -> None:
    """The project's Streamlit configuration switches runner.postScriptGC off (a full
    collection per script run was 74% of the shared script lock's time under a class)."""
    import tomllib
    from streamlit import config as st_config

    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert settings["runner"]["postScriptGC"] is False
    assert "runner.postScriptGC" in st_config._config_options_template  # still an option


def test_the_server_opens_every_page_once_before_the_students_do() -> None:
    """Issue 23: a class's first wave paid each page's first-visit work (Predict's scikit-learn
    import, the caches, the job worker). The server imports what pages need and opens every
    page once, logging each step with its time; `EXPLORER_READY_FILE` is written at the end
    (what `explorer app --processes N` waits for before it opens the proxy)."""
    from components.warmup import page_names

    client = load_client()
    port = client.free_port()
    with tempfile.TemporaryDirectory() as folder:
        ready = Path(folder) / "ready"
        server = subprocess.Popen(
            [sys.executable, "-m", "components.server", "run", "components/asgi.py",
             "--server.address", "127.0.0.1", "--server.port", str(port),
             "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "EXPLORER_READY_FILE": str(ready)},
        )  # fmt: skip
        lines: list[str] = []
        try:
            assert server.stderr is not None
            for line in server.stderr:
                lines.append(line.rstrip())
                if "every page rendered" in line:
                    break
            for _ in range(100):  # written just after that line
                if ready.exists():
                    break
                time.sleep(0.1)
            assert ready.read_text() == "warm\n"
        finally:
            server.terminate()
            server.wait(timeout=60)
    warm = [line for line in lines if line.startswith("explorer warm-up: ")]
    assert any(line.startswith("explorer warm-up: imported torch in ") for line in warm)
    rendered = [line.split()[2] for line in warm if " rendered in " in line]
    assert rendered == [*page_names(), "every"] and len(rendered) == 12
    assert all(line.endswith(" s") for line in warm), warm  # no page showed an error
