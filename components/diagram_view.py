"""A block diagram for a projector: pan, zoom, fit, and readable text from the first view.

The server's graphviz SVG sits in the page (not an iframe: the tests and the browser's own
find-in-page see its boxes; Streamlit's st.html keeps HTML only, so the script puts the SVG in
place) inside a box no taller than the window, driven by the vendored
svg-pan-zoom (components/vendor/svg_pan_zoom, BSD-2-Clause, v3.6.2): drag to pan, the
buttons or Ctrl + wheel (a trackpad's pinch) to zoom; the plain wheel still scrolls the page,
so a student scrolling past the diagram is never caught in it. The first view shows the
layers' text at least `READABLE_PX` pixels high with the network's input at the top (or the
left, for a left-to-right drawing); a diagram that fits whole at that size is shown whole.
"Fit" shows all of it, "Input" and "Output" bring either end into view, and a minimap in the
corner of a large diagram shows where the view is. A click on a box (not a drag) marks it and,
on a page that listens with `box_clicks`, tells the server which box it was.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from functools import cache, lru_cache
from pathlib import Path

import streamlit.components.v2 as components_v2

READABLE_PX = 16  # text height of the first view (a projector at 1280×720)
MAX_WINDOW_SHARE = 0.8  # the box is at most this share of the window's height
_LIBRARY = Path(__file__).resolve().parent / "vendor" / "svg_pan_zoom" / "svg-pan-zoom.min.js"
_VIEWBOX = re.compile(r'viewBox="[-\d.]+ [-\d.]+ ([\d.]+) ([\d.]+)"')
_FONT = re.compile(r'font-size="([\d.]+)"')
_OPEN = re.compile(r"<svg\b[^>]*>")


@cache
def _library() -> str:
    """The statement that defines svgPanZoom once per page, encoded once per process (every
    diagram render sends it; only the small per-diagram script differs)."""
    code = _SCRIPT_LIBRARY_GUARD.replace("__LIBRARY__", _LIBRARY.read_text(encoding="utf-8"))
    return _run_encoded(code)


def _measures(svg: str) -> tuple[float, float, float]:
    """(width, height, the smallest font size), in the SVG's own units (graphviz: pt)."""
    box = _VIEWBOX.search(svg)
    width, height = (float(box.group(1)), float(box.group(2))) if box else (400.0, 300.0)
    sizes = [float(f) for f in _FONT.findall(svg) if float(f) > 0]
    return width, height, min(sizes, default=14.0)


@lru_cache(maxsize=16)  # DenseNet-201 at depth 4: 0.89 MB
def html(svg: str, max_height: int = 760) -> str:
    """The diagram's HTML and script for `st.html(..., unsafe_allow_javascript=True)`. Made
    once per diagram and kept (the SVG comes from a cache, the same string object every run,
    so the key's hash is already known): a rerun sends it without scanning and escaping the
    SVG again."""
    width, height, font = _measures(svg)
    readable = READABLE_PX / font  # screen pixels per SVG unit: its smallest text readable
    box_px = min(max_height, round(height * readable) + 24)
    ident = "dg" + hashlib.blake2b(svg.encode("utf-8"), digest_size=6).hexdigest()
    svg = _OPEN.sub(
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        'width="100%" height="100%" '
        f'style="display:block" viewBox="0 0 {width:g} {height:g}">',
        svg,
        count=1,
    )
    wide = width > 1.5 * height
    return f"""
<div class="explorer-diagram" id="{ident}" data-readable="{readable:.6f}"
     data-wide="{int(wide)}" style="position:relative;height:min({box_px}px,
     {int(MAX_WINDOW_SHARE * 100)}vh);border:1px solid rgba(49,51,63,0.2);border-radius:8px;
     overflow:hidden;background:#fff;touch-action:none">
  <div class="explorer-diagram-tools" style="position:absolute;right:8px;top:8px;z-index:3;
       display:flex;gap:4px">
    <button data-act="in" title="Zoom in">+</button>
    <button data-act="out" title="Zoom out">−</button>
    <button data-act="fit" title="The whole diagram">Fit</button>
    <button data-act="input" title="The network's input, readable">Input</button>
    <button data-act="output" title="The network's output, readable">Output</button>
  </div>
  <div class="explorer-diagram-hint" style="position:absolute;left:8px;bottom:6px;z-index:3;
       font-size:13px;color:#555;background:rgba(255,255,255,0.85);padding:1px 6px;
       border-radius:4px">Drag to pan · Ctrl + wheel or the buttons to zoom</div>
</div>
<style>
  #{ident} .explorer-diagram-tools button {{font-size:16px;min-width:2.2em;padding:2px 8px;
    border:1px solid rgba(49,51,63,0.3);border-radius:6px;background:#fff;cursor:pointer}}
  #{ident} g.node.explorer-picked > polygon, #{ident} g.node.explorer-picked path {{
    stroke:#ff4b4b;stroke-width:4}}
  #{ident} g.node {{cursor:pointer}}
  #{ident} .explorer-diagram-mini {{position:absolute;right:8px;bottom:8px;z-index:2;
    border:1px solid rgba(49,51,63,0.3);background:#fff;opacity:0.92}}
</style>
<script>
(window.explorerDiagrams = window.explorerDiagrams || {{}})["{ident}"] = {_js_string(svg)};
{_library()}
{_run_encoded(_SCRIPT.replace("__ID__", ident))}
</script>
"""


# Streamlit sanitizes st.html with DOMPurify, which drops a <script> whose text holds "<"
# before a letter or "/" (its SAFE_FOR_XML rule): the SVG and the code travel without one.


_CARRIED = re.compile(
    r'explorerDiagrams = window\.explorerDiagrams \|\| \{\}\)\["dg[0-9a-f]+"\] = (".*?");\n'
)


def svg_of(body: str) -> str | None:
    """The SVG an `html()` body carries (what the browser puts in place), or None."""
    found = _CARRIED.search(body)
    return json.loads(found.group(1)) if found else None


def _js_string(text: str) -> str:
    """`text` as a JavaScript string literal without a "<" (written \\u003c)."""
    return json.dumps(text).replace("<", "\\u003c")


def _run_encoded(code: str) -> str:
    """A statement that runs `code` (UTF-8, carried as base64: no "<" in the script)."""
    packed = base64.b64encode(code.encode("utf-8")).decode("ascii")
    return (
        "(0, eval)(new TextDecoder().decode("
        f'Uint8Array.from(atob("{packed}"), c => c.charCodeAt(0))));'
    )


_SCRIPT_LIBRARY_GUARD = "if (!window.svgPanZoom) { __LIBRARY__ }"

# One diagram's behaviour: the first view, the buttons, Ctrl + wheel, and the minimap.
_SCRIPT = r"""
(function () {
  const root = document.getElementById("__ID__");
  if (!root || root.dataset.ready) return;
  root.dataset.ready = "1";
  // Streamlit's st.html sanitizer keeps HTML only, so the SVG is put in place here.
  root.insertAdjacentHTML("beforeend", window.explorerDiagrams["__ID__"]);
  const svg = root.querySelector("svg");
  const readable = parseFloat(root.dataset.readable);
  const wide = root.dataset.wide === "1";
  const pz = window.svgPanZoom(svg, {
    zoomEnabled: true, panEnabled: true, controlIconsEnabled: false, fit: true, center: true,
    mouseWheelZoomEnabled: false, dblClickZoomEnabled: true, minZoom: 0.02, maxZoom: 60,
    onPan: () => drawMini(), onZoom: () => drawMini(),
  });
  const nodes = () => [...svg.querySelectorAll("g.node")];
  // The input is the first box graphviz drew from the DOT (the explorer writes it first);
  // the output is the last one.
  // Where a box lies in the diagram's own units (svg-pan-zoom draws its changes on the next
  // frame, so positions on screen may lag; these do not).
  function place(node) {
    const vp = svg.querySelector(".svg-pan-zoom_viewport");
    const m = vp.getCTM().inverse().multiply(node.getCTM());
    const b = node.getBBox();
    const a = new DOMPoint(b.x, b.y).matrixTransform(m);
    const z = new DOMPoint(b.x + b.width, b.y + b.height).matrixTransform(m);
    return {x: Math.min(a.x, z.x), y: Math.min(a.y, z.y),
            w: Math.abs(z.x - a.x), h: Math.abs(z.y - a.y)};
  }
  function bring(node, where) {
    if (!node) return;
    const s = pz.getSizes(), k = s.realZoom, b = place(node);
    const end = where === "end";
    if (wide) {
      pz.pan({x: end ? s.width - 16 - (b.x + b.w) * k : 16 - b.x * k,
              y: s.height / 2 - (b.y + b.h / 2) * k});
    } else {
      pz.pan({x: s.width / 2 - (b.x + b.w / 2) * k,
              y: end ? s.height - 40 - (b.y + b.h) * k : 52 - b.y * k});
    }
  }
  function toReadable(where) {
    pz.fit(); pz.center();
    const k = pz.getSizes().realZoom;
    if (k >= readable) return false;  // the whole diagram is readable: keep it whole
    // zoom counts from the fitted view: DenseNet-201 at depth 4 (35,579 px tall) needs 111×,
    // past the library's default ceiling, which left its text at 13 px
    pz.setMaxZoom(Math.max(60, 4 * readable / k));
    pz.zoom(pz.getZoom() * readable / k);
    const all = nodes();
    bring(where === "end" ? all[all.length - 1] : all[0], where);
    return true;
  }
  // The minimap: the whole diagram small, and a rectangle where the view is.
  let mini = null, frame = null;
  function buildMini() {
    const w = 140, sizes = pz.getSizes();
    const vb = sizes.viewBox;
    const h = Math.max(40, Math.min(180, w * vb.height / vb.width));
    mini = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    mini.setAttribute("class", "explorer-diagram-mini");
    mini.setAttribute("width", w); mini.setAttribute("height", h);
    mini.setAttribute("viewBox", `${vb.x} ${vb.y} ${vb.width} ${vb.height}`);
    mini.setAttribute("preserveAspectRatio", "xMidYMid meet");
    const copy = svg.querySelector(".svg-pan-zoom_viewport").cloneNode(true);
    copy.removeAttribute("transform"); copy.removeAttribute("style");
    copy.querySelectorAll("text, title").forEach(t => t.remove());
    // a picture only: no second set of boxes or ids for the page to find
    copy.querySelectorAll("[id], [class]").forEach(e => {
      e.removeAttribute("id"); e.removeAttribute("class");
    });
    mini.appendChild(copy);
    frame = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    frame.setAttribute("fill", "rgba(255,75,75,0.12)");
    frame.setAttribute("stroke", "#ff4b4b");
    frame.setAttribute("vector-effect", "non-scaling-stroke");
    mini.appendChild(frame);
    mini.addEventListener("click", e => {
      const m = mini.getBoundingClientRect(), s = pz.getSizes();
      const scale = Math.min(m.width / vb.width, m.height / vb.height);
      const ox = (m.width - vb.width * scale) / 2, oy = (m.height - vb.height * scale) / 2;
      const ux = vb.x + (e.clientX - m.left - ox) / scale;
      const uy = vb.y + (e.clientY - m.top - oy) / scale;
      pz.pan({x: s.width / 2 - ux * s.realZoom, y: s.height / 2 - uy * s.realZoom});
    });
    root.appendChild(mini);
  }
  function drawMini() {
    if (!frame) return;
    const s = pz.getSizes(), p = pz.getPan();
    frame.setAttribute("x", -p.x / s.realZoom); frame.setAttribute("y", -p.y / s.realZoom);
    frame.setAttribute("width", s.width / s.realZoom);
    frame.setAttribute("height", s.height / s.realZoom);
  }
  const zoomed = toReadable("start");
  if (zoomed && nodes().length > 12) { buildMini(); drawMini(); }
  const act = b => {
    const what = b.dataset.act;
    if (what === "in") pz.zoomBy(1.25);
    else if (what === "out") pz.zoomBy(0.8);
    else if (what === "fit") { pz.fit(); pz.center(); }
    else toReadable(what === "output" ? "end" : "start");
  };
  root.querySelectorAll(".explorer-diagram-tools button")
    .forEach(b => b.addEventListener("click", () => act(b)));
  root.addEventListener("wheel", e => {
    if (!(e.ctrlKey || e.metaKey)) return;  // the plain wheel scrolls the page
    e.preventDefault();
    const c = root.getBoundingClientRect();
    pz.zoomAtPointBy(Math.exp(-e.deltaY / 300), {x: e.clientX - c.left, y: e.clientY - c.top});
  }, {passive: false});
  new ResizeObserver(() => { pz.resize(); drawMini(); }).observe(root);
})();
"""


# Which box was clicked, sent to the server through Streamlit's own bidirectional components
# (st.components.v2): a JavaScript-only component that listens for clicks on any diagram of
# the page. A press that moved more than a few pixels was a drag (a pan), not a click.
_BOX_CLICKS_JS = r"""
export default function (component) {
  const send = (id) => component.setTriggerValue("box", id);
  window.explorerBoxClicked = send;
  if (!window.explorerBoxClicks) {
    window.explorerBoxClicks = true;
    let down = null;
    document.addEventListener("pointerdown", (e) => { down = [e.clientX, e.clientY]; }, true);
    document.addEventListener("click", (e) => {
      const node = e.target instanceof Element
        ? e.target.closest(".explorer-diagram g.node") : null;
      if (!node || !window.explorerBoxClicked) return;
      if (down && Math.hypot(e.clientX - down[0], e.clientY - down[1]) > 5) return;
      if (!node.id.startsWith("box-")) return;
      e.preventDefault();
      document.querySelectorAll(".explorer-diagram g.node.explorer-picked")
        .forEach((n) => n.classList.remove("explorer-picked"));
      node.classList.add("explorer-picked");
      window.explorerBoxClicked(node.id.slice(4));
    }, true);
  }
  return () => { if (window.explorerBoxClicked === send) window.explorerBoxClicked = null; };
}
"""
_BOX_CLICKS = components_v2.component(
    "explorer_box_clicks", js=_BOX_CLICKS_JS, isolate_styles=False
)


def box_clicks(key: str) -> str | None:
    """The id of the diagram box (its DataFlowGraph node id, "n12") clicked since the last run,
    else None. Mount it once on a page whose diagram should answer clicks."""
    result = _BOX_CLICKS(key=key, on_box_change=lambda: None, height=0)
    box = result.get("box")
    return box if isinstance(box, str) and len(box) <= 64 else None
