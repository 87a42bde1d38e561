"""The app's server process: Streamlit, with the heavy imports warmed first and its memory kept
bounded across a lecture.

`explorer app` execs into `python -m components.server run components/asgi.py ...` (the app,
components/app.py, served as an st.App). Three things happen here, in the server process only
(the launcher itself imports no torch):

- **Imports are warmed in a background thread** while Streamlit starts listening, so the server
  answers /_stcore/health at once. A student's first visit would otherwise pay torch's and
  torchvision's imports (about 4 s on an idle 2-core machine, 8 s under load) inside the page.
  The entry page waits for the warm-up (`wait_until_warm`) before it runs any page.
- **Python ASTs are never built by two threads at once.** On CPython 3.11, building `ast`
  objects (`ast.parse`) shares one recursion counter per interpreter, so two threads doing it
  at once can fail with `SystemError: AST constructor recursion depth mismatch`
  (python/cpython#106905; 30 simultaneous visits of the Augmentation lab hit it). Per request,
  three things did it: Streamlit's "magic" rewrite of every page script it compiles (again each
  time the last tab closes: Streamlit then empties its script cache), modules imported on a
  first visit (pandas' numpy.ma inspects builtins' signatures; torch parses its @overload
  bodies), and `inspect.getsource` of a class (explorer.labs.augment's code export, now read once at
  import). Here magic is switched off (no page uses it: tests/test_serve.py checks), the
  libraries that build ASTs while importing and the explorer modules the pages use are imported
  by the one warm-up thread, and pages wait for it. `compile()` of source text (dataclasses,
  namedtuples, imports) builds no `ast` objects and is safe in any thread.
- **glibc keeps at most `SERVER_MALLOC_ARENAS` malloc arenas.** Streamlit runs every script run
  in a new thread, and glibc gives threads their own arenas (up to 8 per core). Tensors freed in
  16 arenas left them fragmented: the server grew ~40 MiB per round of 60 students and never
  gave it back (malloc_trim returned a tenth of it). With 2 arenas it levels off; the numbers are
  in benchmarks/rss_arenas.py and the README. An administrator's own MALLOC_ARENA_MAX wins.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import os
import sys
import threading
import time
import urllib.request
from pathlib import Path

from explorer.serving.proxy import READY_FILE_ENV

# What the pages import on a first visit: the engine and its view helpers (no streamlit code
# here), and the libraries that Streamlit or the engine import lazily and that build `ast`
# objects while importing (pandas: numpy.ma). Measured with an audit hook on "compile" events
# in the server's script threads (tests/test_serve.py checks that no page builds an AST).
WARM_MODULES = (
    "torch",
    "torchvision",
    "pandas",
    "plotly.graph_objects",
    "explorer.catalog",
    "explorer.analysis.trace",
    "explorer.graph.dataflow",
    "explorer.graph.diagram",
    "explorer.core.report",
    "explorer.labs.predict",
    "explorer.labs.augment",
    "explorer.labs.digits",
    "explorer.labs.transfer",
    "explorer.serving.jobs",
)
WARM_WAIT_S = 180.0  # a page waits at most this long for the warm-up, then runs anyway
SERVER_MALLOC_ARENAS = 2  # glibc's default is 8 per core: 16 on the 2-core test machine
M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)
STREAMLIT_FLAGS = ("--runner.magicEnabled", "false")  # no page relies on magic; it parses ASTs

_warmed: threading.Event | None = None  # set when the imports are done; None: no warm-up
_rendered: threading.Event | None = None  # set when every page has been opened once


def limit_malloc_arenas(arenas: int = SERVER_MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas for this process (before it starts threads). Returns whether
    the cap was set: not where MALLOC_ARENA_MAX is given, nor off glibc (macOS, musl)."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 (only glibc has it)
    except (OSError, AttributeError):
        return False
    return bool(libc.mallopt(M_ARENA_MAX, arenas))


def _warm(imported: threading.Event, rendered: threading.Event) -> None:
    try:
        for name in WARM_MODULES:
            try:
                began = time.perf_counter()
                importlib.import_module(name)
                _log(f"imported {name} in {time.perf_counter() - began:.2f} s")
            except Exception:  # a page that needs a broken module reports it properly itself
                return
        from explorer.core.gc_settings import settle_after_imports

        settle_after_imports()  # start-up objects out of the collector's way, as the CLI does
    finally:
        imported.set()
    try:
        _render_every_page()
    finally:
        rendered.set()
        ready = os.environ.get(READY_FILE_ENV)
        if ready:  # `explorer app --processes N` opens the proxy once every server is warm
            with contextlib.suppress(OSError):
                Path(ready).write_text("warm\n")


def _log(text: str) -> None:
    print(f"explorer warm-up: {text}", file=sys.stderr, flush=True)


def _render_every_page() -> None:
    """Once Streamlit answers, open every page once (components/warmup.py): their first-visit
    imports, caches and the job worker are ready before the students' tabs need them."""
    from streamlit import config

    from components.warmup import warm_pages

    port = int(config.get_option("server.port"))
    address = str(config.get_option("server.address") or "")
    host = "127.0.0.1" if address in ("", "0.0.0.0", "::") else address
    deadline = time.monotonic() + WARM_WAIT_S
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{host}:{port}/_stcore/health", timeout=2):
                break
        except OSError:
            time.sleep(0.2)
    else:
        _log("the server did not answer; pages were not opened")
        return
    warm_pages(port, host)


def warm_in_background() -> threading.Event:
    """Start the warm-up thread (once): imports, then every page opened once. The event
    returned is set when the imports are done."""
    global _warmed, _rendered
    if _warmed is None:
        _warmed, _rendered = threading.Event(), threading.Event()
        threading.Thread(
            target=_warm, args=(_warmed, _rendered), name="explorer-warm-up", daemon=True
        ).start()
    return _warmed


def wait_until_warm(timeout: float = WARM_WAIT_S, pages: bool = True) -> bool:
    """Block until the warm-up has imported what pages need and, with `pages`, opened every
    page once (at once when none was started, as under `streamlit run` or AppTest). The
    warm-up's own sessions wait for the imports only. Returns whether it has finished."""
    if _warmed is None or _rendered is None:
        return True
    done = _warmed.wait(timeout)
    return done and (not pages or _rendered.wait(timeout))


def streamlit_argv(argv: list[str]) -> list[str]:
    """Streamlit's command line for our arguments: `run` gets STREAMLIT_FLAGS first (a flag
    given later on the command line still wins)."""
    if argv[:1] == ["run"]:
        return ["streamlit", "run", *STREAMLIT_FLAGS, *argv[1:]]
    return ["streamlit", *argv]


def main() -> None:
    limit_malloc_arenas()  # before any thread exists
    # Under `python -m` this file is __main__; the pages import `components.server`, so the
    # warm-up state must live in that module.
    importlib.import_module("components.server").warm_in_background()
    from streamlit.web import cli

    sys.argv = streamlit_argv(sys.argv[1:])
    cli.main()


if __name__ == "__main__":
    main()
