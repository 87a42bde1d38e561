"""A real Jupyter notebook executed by nbclient: a Trace renders as an HTML table, a diagram as
inline SVG, and explorer.summary prints torchinfo's kind of table."""

from __future__ import annotations

import re

import nbformat
import pytest
from nbclient import NotebookClient

CELLS = [
    'import explorer\nt = explorer.trace("lenet5")\nt',
    'from explorer.analysis.notebook import diagram\ndiagram("lenet5", depth=1)',
    'explorer.summary("lenet5", depth=1)',
    "import torch\nfrom torch import nn\n"
    "class Siamese(nn.Module):\n"
    "    def __init__(self):\n"
    "        super().__init__()\n"
    "        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(16, 4))\n"
    "    def forward(self, a, b):\n"
    "        return self.encoder(a) - self.encoder(b)\n"
    "explorer.summary(Siamese(), [(2, 4, 4), (2, 4, 4)], verbose=0)",
]


@pytest.fixture(scope="module")
def executed() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    NotebookClient(nb, timeout=600, kernel_name="python3").execute()
    return nb


def _output(cell: nbformat.NotebookNode, mime: str) -> str:
    for out in cell.outputs:
        if mime in out.get("data", {}):
            return str(out["data"][mime])
    raise AssertionError(f"no {mime} output in {cell.source!r}: {cell.outputs}")


def test_trace_renders_as_an_html_table(executed: nbformat.NotebookNode) -> None:
    html = _output(executed.cells[0], "text/html")
    assert html.count("<tr>") > 5 and "<table>" in html
    assert "61,706" in html and "416,520" in html  # LeNet-5's parameters and MACs
    assert re.search(r"<td[^>]*>Conv2d</td>", html)


def test_diagram_renders_as_inline_svg(executed: nbformat.NotebookNode) -> None:
    svg = _output(executed.cells[1], "image/svg+xml")
    assert "<svg" in svg and 'class="node"' in svg


def test_summary_prints_the_table_like_torchinfo(executed: nbformat.NotebookNode) -> None:
    cell = executed.cells[2]
    printed = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    assert "Layer" in printed and "Total params: 61,706" in printed
    assert "features" in printed and "features.0" not in printed  # depth 1
    assert "61,706" in _output(cell, "text/html")  # and returns the Trace


def test_summary_of_a_two_input_module(executed: nbformat.NotebookNode) -> None:
    html = _output(executed.cells[3], "text/html")
    assert "Siamese" in html and "Total params: 68" in html  # one encoder: 16·4 + 4
    assert "Total MACs: 256" in html  # 2 calls × batch 2 × 16·4
