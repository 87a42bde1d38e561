"""Our exact figures beside a paper's or a weights card's published ones.

✓ when they agree within the source's rounding (torchvision's `_ops` has 3 decimals of
GFLOPs, a paper's table rounds to what it prints), otherwise Δ with the difference. Shared by
the app's Architecture page and `explorer summary`.
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.catalog import ArchSpec
from explorer.core.layer_math import commas
from explorer.core.records import Trace


@dataclass(frozen=True)
class FigureCheck:
    figure: str  # "Parameters", "MACs", "inception3a MACs"
    ours: int
    published: int
    check: str  # "✓", "✓ (within ±500,000)", "Δ +1,234 (+0.05%)"
    note: int = 0  # 1-based index into the source's notes (errata); 0: none


def check(spec: ArchSpec, trace: Trace) -> tuple[list[FigureCheck], list[str]]:
    """Every published figure of `spec` against `trace`, and the source's notes."""
    pub = spec.published
    if pub is None:
        return [], []
    out: list[FigureCheck] = []
    notes: list[str] = []

    def add(what: str, ours: int, theirs: int | None, tolerance: int, note: str = "") -> None:
        if theirs is None:
            return
        diff = ours - theirs
        if abs(diff) <= tolerance:
            mark = "✓" if diff == 0 else f"✓ (within ±{commas(tolerance)})"
        else:
            pct = f" ({100 * diff / theirs:+.2f}%)" if theirs else ""
            mark = f"Δ {diff:+,}{pct}"
        if note and note not in notes:
            notes.append(note)
        out.append(FigureCheck(what, ours, theirs, mark, notes.index(note) + 1 if note else 0))

    add("Parameters", trace.total_params, pub.params, pub.params_tolerance)
    add("MACs", trace.total_macs, pub.macs, pub.macs_tolerance)
    if pub.macs_convention and pub.macs is not None and out and not out[-1].check.startswith("✓"):
        from explorer.catalog.timm_models import CONVENTIONS

        label, count, why = CONVENTIONS[pub.macs_convention]
        add(f"MACs {label}", count(trace), pub.macs, pub.macs_tolerance, why(trace))
    for m in pub.modules:
        try:
            record = trace.layer(m.name)
        except KeyError:
            continue
        add(f"{m.name} params", record.params, m.params, m.params_tolerance, m.note)
        add(f"{m.name} MACs", record.macs, m.macs, m.macs_tolerance, m.note)
    return out, notes


def published_rows(spec: ArchSpec, trace: Trace) -> tuple[list[dict[str, str]], list[str]]:
    """The checks as table rows (Figure, Ours, Published, Check[, Note]) and the notes."""
    checks, notes = check(spec, trace)
    rows = []
    for c in checks:
        row = {
            "Figure": c.figure,
            "Ours": commas(c.ours),
            "Published": commas(c.published),
            "Check": c.check,
        }
        if notes:
            row["Note"] = f"note {c.note}" if c.note else ""
        rows.append(row)
    return rows, notes


def to_text(spec: ArchSpec, trace: Trace) -> str:
    """The checks as plain text for the CLI ('' when nothing is published)."""
    checks, notes = check(spec, trace)
    if not checks:
        return ""
    assert spec.published is not None
    source = spec.published.source
    width = max(len(c.figure) for c in checks)
    lines = [f"Published figures ({source}):"]
    for c in checks:
        note = f"  (note {c.note})" if c.note else ""
        lines.append(
            f"  {c.figure:<{width}}  ours {commas(c.ours):>15}  published "
            f"{commas(c.published):>15}  {c.check}{note}"
        )
    lines += [f"  note {i}: {text}" for i, text in enumerate(notes, 1)]
    if spec.published.note:
        lines.append(f"  {spec.published.note}")
    return "\n".join(lines)
