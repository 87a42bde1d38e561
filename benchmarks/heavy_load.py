"""The heaviest classroom: N sessions (default 60) all doing the most expensive things at once.

Starts the server as `explorer app` does (benchmarks/classroom_load.py's `start_server`) on
127.0.0.1 and opens N tabs over Streamlit's own websocket protocol. Unlike classroom_load,
each tab works its page as a student does: it picks options in selectboxes and radios, moves
sliders, uploads files (HTTP PUT to the upload endpoint, then the uploader's state) and
presses buttons, reading the widgets' ids and options from what the server sent. The tabs:

- **Look inside resnet50** (random weights: no download here), the forward pass recorded;
- **an ensemble** of the three shipped digit models, ten-crop each;
- **transfer learning with 60 uploads** (20 per class, three classes), then training;
- **big timm models** on the Architecture page (convnext_large, vit_large, efficientnet_b7,
  regnety_320 …), traced on meta;
- **residual runs**: the largest residual experiment the page offers;
- **elastic grids**: the augmentation lab's local warping, its gallery drawn;
- **short jobs**: Predict's ten-crop with resnet18 (about 1 s of work), timed from the click to
  its result, while the long jobs run: a short job must not wait behind a long one;
- **a cheap page**, the Cost lab, opened again and again: its latency under the load.

`--rounds` rounds (default 3) `--pause` seconds apart (default 130: a closed tab's session
lives 120 s). Prints errors, server RSS per round against the server's memory budget (and
the job workers'), short jobs' times (click to result, and the part their job waited for a
worker: "waiting for a free worker…" until it started) and the cheap page's latency.
Targets: 0 errors, RSS within the budget and level from round to round, no short job waiting
more than 10 s for a worker behind the long ones.

    .venv/bin/python benchmarks/heavy_load.py [--sessions 60] [--rounds 3] [--pause 130]

Loopback only; bounded in sessions (≤ 60), rounds (≤ 6) and time.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import classroom_load as cl
import requests
import websockets
from PIL import Image
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

WIDGETS = ("selectbox", "radio", "button", "file_uploader", "slider", "checkbox",
           "number_input", "multiselect", "button_group", "text_input")  # fmt: skip
FINISHED = (0, 3)  # a script run, or a fragment's run, finished successfully


@dataclass
class Widget:
    kind: str
    id: str
    label: str
    options: list[str] = field(default_factory=list)
    element: Any = None


class Tab:
    """One browser tab on one page: the widgets it was last sent, the values it set."""

    def __init__(self, ws: Any, page: str, query: str, label: str) -> None:
        self.ws, self.page, self.query, self.label = ws, page, query, label
        self.widgets: dict[str, Widget] = {}
        self.states: dict[str, Any] = {}  # widget id -> WidgetState (values this tab set)
        self.texts: list[str] = []
        self.images = 0  # pictures drawn in the last run
        self.progress: list[tuple[float, str]] = []  # (when, text) of the last run's bars
        self.errors: list[str] = []
        self.session_id = ""

    def _message(self, triggers: tuple[str, ...] = ()) -> bytes:
        msg = BackMsg()
        msg.rerun_script.query_string = self.query
        msg.rerun_script.page_name = self.page
        for state in self.states.values():
            msg.rerun_script.widget_states.widgets.add().CopyFrom(state)
        for widget_id in triggers:
            added = msg.rerun_script.widget_states.widgets.add()
            added.id, added.trigger_value = widget_id, True
        return msg.SerializeToString()

    def _read(self, data: bytes | str) -> int | None:
        """Take in one message; the script-finished status when it ends a run."""
        fwd = ForwardMsg()
        fwd.ParseFromString(data if isinstance(data, bytes) else data.encode())
        kind = fwd.WhichOneof("type")
        if kind == "new_session":
            self.session_id = fwd.new_session.initialize.session_id
        elif kind == "script_finished":
            return int(fwd.script_finished)
        elif kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
            element = fwd.delta.new_element
            which = element.WhichOneof("type")
            if which == "exception":
                self.errors.append(f"exception: {element.exception.message[:160]}")
            elif which == "alert":
                if element.alert.format == 1:  # ERROR
                    self.errors.append(f"st.error: {element.alert.body[:160]}")
                self.texts.append(element.alert.body)
            elif which == "markdown":
                self.texts.append(element.markdown.body)
            elif which == "heading":
                self.texts.append(element.heading.body)
            elif which == "imgs":
                self.images += len(element.imgs.imgs)
            elif which == "progress":
                self.progress.append((time.perf_counter(), element.progress.text))
            elif which == "metric":
                self.texts.append(f"{element.metric.label}: {element.metric.body}")
            elif which in WIDGETS:
                proto = getattr(element, which)
                options = list(getattr(proto, "options", []) or [])
                if which == "button_group":
                    options = [o.content for o in proto.options]
                self.widgets[proto.id] = Widget(which, proto.id, proto.label, options, proto)
        return None

    async def run(self, triggers: tuple[str, ...] = ()) -> None:
        """Send this tab's widget values (and button presses); read until the run ends."""
        self.texts, self.images, self.progress = [], 0, []
        await self.ws.send(self._message(triggers))
        while True:
            status = self._read(await self.ws.recv())
            if status is not None:
                if status not in FINISHED and status != 2:
                    self.errors.append(f"script finished with status {status}")
                if status == 0:
                    return

    async def until(self, seen: Callable[[str], bool], limit: float) -> float:
        """Read what the server sends (fragment runs included) until a text matches `seen`;
        the seconds it took."""
        began = time.perf_counter()
        async with asyncio.timeout(limit):
            while not any(seen(t) for t in self.texts):
                self._read(await self.ws.recv())
        return time.perf_counter() - began

    def set(self, key: str, value: Any) -> None:
        """Give the widget keyed `key` a value, as a student would (an option: the first
        whose text contains `value`)."""
        widget = self.find(key)
        state = self.states.get(widget.id) or BackMsg().rerun_script.widget_states.widgets.add()
        state.id = widget.id
        if widget.kind in ("selectbox", "radio"):
            state.string_value = _option(widget, value)
        elif widget.kind == "checkbox":
            state.bool_value = bool(value)
        elif widget.kind == "slider":
            del state.double_array_value.data[:]
            state.double_array_value.data.append(float(value))
        elif widget.kind == "number_input":
            state.double_value = float(value)
        elif widget.kind == "multiselect":
            del state.string_array_value.data[:]
            state.string_array_value.data.extend(value)
        elif widget.kind == "file_uploader":
            state.file_uploader_state_value.CopyFrom(value)
        else:
            raise ValueError(f"cannot set a {widget.kind}")
        self.states[widget.id] = state

    def pick(self, key: str, index: int) -> None:
        """Choose the `index`-th option (counting round) of the selectbox or radio keyed `key`."""
        widget = self.find(key)
        self.set(key, widget.options[index % len(widget.options)])

    async def press(self, key: str) -> None:
        await self.run((self.find(key).id,))

    def find(self, key: str) -> Widget:
        """The widget whose user key is `key` (Streamlit ends a keyed widget's id with it), or
        else the one whose key starts with it (`up_backbone` for `up_backbone_resnet18`)."""
        ids = list(self.widgets)
        found = [i for i in ids if i.endswith(f"-{key}")] or [i for i in ids if f"-{key}" in i]
        if not found:
            raise KeyError(f"{self.label}: no widget with key {key!r}")
        return self.widgets[found[0]]


def _option(widget: Widget, value: str) -> str:
    """The option a student means by `value`: itself, one that starts with it as a word, or
    one that contains it."""
    for test in (lambda o: o == value, lambda o: o.startswith(value + " "), lambda o: value in o):
        for option in widget.options:
            if test(option):
                return option
    raise KeyError(f"{widget.label}: no option {value!r} in {widget.options[:8]}")


# --------------------------------------------------------------------------- what tabs do


def _pictures(n: int, seed: int) -> list[bytes]:
    """`n` small distinct PNG photos (64×64 colour noise), as a student's uploads."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buffer, "PNG")
        out.append(buffer.getvalue())
    return out


def _upload(port: int, tab: Tab, blobs: list[bytes], prefix: str) -> Any:
    """PUT each file to the upload endpoint, as the browser does; the uploader's state."""
    from streamlit.proto.Common_pb2 import FileUploaderState

    state = FileUploaderState()
    for i, blob in enumerate(blobs):
        file_id = str(uuid.uuid4())
        url = f"/_stcore/upload_file/{tab.session_id}/{file_id}"
        answer = requests.put(f"http://127.0.0.1:{port}{url}", timeout=120,
                              files={"file": (f"{prefix}{i}.png", blob, "image/png")})  # fmt: skip
        if answer.status_code != 204:
            tab.errors.append(f"upload refused: {answer.status_code} {answer.text[:120]}")
            continue
        info = state.uploaded_file_info.add()
        info.file_id, info.name, info.size = file_id, f"{prefix}{i}.png", len(blob)
        info.file_urls.file_id, info.file_urls.upload_url = file_id, url
        info.file_urls.delete_url = url
    return state


def _has(tab: Tab, *words: str) -> bool:
    return any(all(w in t for w in words) for t in tab.texts)


async def look_inside(tab: Tab, port: int, round_no: int) -> str:
    await tab.run()
    tab.set("inside_source", "A picture")
    await tab.run()
    tab.set("inside_model", "resnet50")
    await tab.run()
    tab.set("inside_weights", "random")
    await tab.run()
    tab.pick("inside_image_sample", round_no)  # another picture each round: nothing cached
    await tab.run()
    return "" if _has(tab, "forward pass") else "no forward pass shown"


async def ensemble(tab: Tab, port: int, round_no: int) -> str:
    await tab.run()
    tab.pick("ensemble_image_sample", round_no)
    tab.set("ensemble_ten_crop", True)
    await tab.run()
    return "" if _has(tab, "Ensemble") else "no ensemble result"


async def transfer_uploads(tab: Tab, port: int, round_no: int) -> str:
    await tab.run()
    tab.set("up_backbone", "resnet18")
    await tab.run()
    for c in range(3):
        blobs = _pictures(20, seed=hash((tab.session_id, c)) & 0xFFFF)
        state = await asyncio.to_thread(_upload, port, tab, blobs, f"class{c}_")
        tab.set(f"up_files_{c}", state)
    await tab.run()
    await tab.press("up_train")
    return "" if _has(tab, "Accuracy on the training pictures") else "no trained head"


async def big_timm(tab: Tab, port: int, round_no: int) -> str:
    await tab.run()
    return "" if _has(tab, "Parameters") else "no headline numbers"


async def residual(tab: Tab, port: int, round_no: int) -> str:
    await tab.run()
    tab.set("residual_depths", ["20", "56"])
    tab.set("residual_seed", round_no)  # a new experiment each round
    await tab.run()
    await tab.press("residual_run")
    done = any(t.startswith(("Trained", "Already trained")) for t in tab.texts)
    return "" if done else "no residual result"


async def elastic_grid(tab: Tab, port: int, round_no: int) -> str:
    await tab.run()
    tab.set("aug_preset", "Geometry tour")
    await tab.press("aug_load_preset")
    tab.set("aug_gallery", True)
    tab.set("aug_seed", round_no)  # new random draws each round
    await tab.run()
    return "" if tab.images >= 8 else f"a gallery of {tab.images} pictures"


async def short_job(tab: Tab, port: int, round_no: int) -> str:
    await tab.run()
    tab.set("predict_model", "resnet18")
    await tab.run()
    tab.set("predict_weights", "random")
    tab.pick("predict_image_sample", round_no)
    await tab.run()
    tab.set("predict_ten_crop", True)
    began = time.perf_counter()
    await tab.run()
    tab.waited = time.perf_counter() - began
    tab.queued = queued(tab.progress, time.perf_counter())
    return "" if _has(tab, "Random weights") and _has(tab, "crop") else "no ten-crop result"


def queued(progress: list[tuple[float, str]], ended: float) -> float:
    """How long the job waited for a worker: from its first bar, "waiting for a free
    worker…", to its first bar that is not (or to its result); 0 when it never waited."""
    waiting = [t for t, text in progress if "waiting for a free worker" in text]
    if not waiting:
        return 0.0
    later = [t for t, text in progress if t > waiting[0] and "waiting" not in text]
    return (later[0] if later else ended) - waiting[0]


async def cheap_page(tab: Tab, port: int, round_no: int) -> str:
    began = time.perf_counter()
    await tab.run()
    tab.waited = time.perf_counter() - began
    return ""


TIMM = ["timm/convnext_large", "timm/vit_large_patch16_224", "timm/efficientnet_b7",
        "timm/regnety_320", "timm/swin_large_patch4_window7_224",
        "timm/eva02_large_patch14_224"]  # fmt: skip
# (what a tab does, its page, its URL query): a round cycles through them.
KINDS: list[tuple[Callable[[Tab, int, int], Any], str, str]] = [
    (look_inside, "inside", ""),
    (ensemble, "ensemble", ""),
    (transfer_uploads, "transfer", ""),
    (big_timm, "architecture", "arch={timm}"),
    (residual, "residual", ""),
    (elastic_grid, "augmentation", ""),
    (short_job, "predict", ""),
    (cheap_page, "cost_lab", ""),
]


@dataclass
class Outcome:
    label: str
    seconds: float
    errors: list[str]
    waited: float | None = None  # short jobs: click to result; the cheap page: its latency
    queued: float | None = None  # short jobs: the time their job waited for a worker


async def tab(port: int, i: int, timeout: float, round_no: int) -> Outcome:
    work, page, query = KINDS[i % len(KINDS)]
    query = query.format(timm=TIMM[(i // len(KINDS)) % len(TIMM)])
    label = work.__name__ + (f" {query}" if query else "")
    began = time.perf_counter()
    errors: list[str] = []
    waited = queued_s = None
    try:
        async with cl.connect(port, timeout) as ws:
            t = Tab(ws, page, query, label)
            async with asyncio.timeout(timeout):
                problem = await work(t, port, round_no)
            errors = t.errors + ([problem] if problem else [])
            waited, queued_s = getattr(t, "waited", None), getattr(t, "queued", None)
    except (OSError, TimeoutError, KeyError, websockets.WebSocketException) as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    return Outcome(label, time.perf_counter() - began, errors, waited, queued_s)


async def one_round(port: int, n: int, timeout: float, round_no: int) -> list[Outcome]:
    return list(await asyncio.gather(*(tab(port, i, timeout, round_no) for i in range(n))))


def report(round_no: int, outcomes: list[Outcome], wall: float) -> None:
    bad = [o for o in outcomes if o.errors]
    print(f"round {round_no}: {len(outcomes)} tabs in {wall:.0f} s wall, errors {len(bad)}")
    by_kind: dict[str, list[float]] = {}
    for o in outcomes:
        by_kind.setdefault(o.label.split()[0], []).append(o.seconds)
    print("  per kind (median s, max s): " + ", ".join(
        f"{k} {statistics.median(v):.0f}/{max(v):.0f}" for k, v in by_kind.items()))  # fmt: skip
    for name in ("short_job", "cheap_page"):
        waits = [o.waited for o in outcomes if o.label.startswith(name) and o.waited is not None]
        if waits:
            print(f"  {name}: median {statistics.median(waits):.1f} s, max {max(waits):.1f} s "
                  f"over {len(waits)} tabs")  # fmt: skip
    queues = [o.queued for o in outcomes if o.queued is not None]
    if queues:
        print(f"  short jobs' wait for a worker: median {statistics.median(queues):.1f} s, "
              f"max {max(queues):.1f} s")  # fmt: skip
    for o in bad[:10]:
        print(f"  {o.label}: {'; '.join(o.errors)[:300]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=60, help="tabs at once (≤ 60)")
    parser.add_argument("--rounds", type=int, default=3, choices=range(1, 7))
    parser.add_argument("--pause", type=float, default=130, help="seconds between rounds")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds per tab")
    args = parser.parse_args()
    n = max(1, min(args.sessions, 60))
    from explorer.core.ledger import default_budget

    port = cl.free_port()
    # this client sends no XSRF cookie with its uploads (a browser does)
    env = {**os.environ, "STREAMLIT_SERVER_ENABLE_XSRF_PROTECTION": "false"}
    server = cl.start_server(port, env)
    try:
        if not cl.wait_healthy(server, port):
            print("error: the server did not start", file=sys.stderr)
            return 1
        budget = default_budget() / 2**20
        print(f"{n} tabs per round; server RSS at start {cl.rss_mib(server.pid):.0f} MiB; "
              f"its memory budget {budget:.0f} MiB")  # fmt: skip
        rss, errors, short = [], 0, []
        for round_no in range(1, args.rounds + 1):
            began = time.perf_counter()
            outcomes = asyncio.run(one_round(port, n, args.timeout, round_no))
            report(round_no, outcomes, time.perf_counter() - began)
            errors += sum(bool(o.errors) for o in outcomes)
            short += [o.queued for o in outcomes if o.queued is not None]
            rss.append(cl.rss_mib(server.pid))
            workers = ", ".join(f"{cl.rss_mib(p):.0f}" for p in cl.children(server.pid))
            print(f"  server RSS {rss[-1]:.0f} MiB (budget {budget:.0f}); job workers: "
                  f"{workers} MiB")  # fmt: skip
            if round_no < args.rounds:
                time.sleep(args.pause)
        level = all(later <= rss[0] * 1.10 for later in rss[1:])
        within = all(r <= budget for r in rss)
        slow = sum(w > 10 for w in short)
        print(f"errors {errors}; server RSS per round {', '.join(f'{r:.0f}' for r in rss)} MiB: "
              f"within the budget {within}, level {level}; short jobs that waited over 10 s for a "
              f"worker: {slow} of {len(short)}")  # fmt: skip
        return 0 if errors == 0 and within and level and slow == 0 else 1
    finally:
        cl.stop_server(server)


if __name__ == "__main__":
    sys.exit(main())
