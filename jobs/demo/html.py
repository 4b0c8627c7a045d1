"""Self-contained HTML pieces (inline CSS and SVG; no scripts, nothing fetched)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#1f2933;background:#fff}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}
th,td{border:1px solid #d9e2ec;padding:.3rem .6rem;text-align:right}
th{background:#f0f4f8}td:first-child,th:first-child{text-align:left}
.ok{color:#18794e;font-weight:600}.bad{color:#c62828;font-weight:600}
.meta{color:#52606d}svg{vertical-align:middle}
"""
Cell = str | int | float | None


def page(title: str, meta: str, body: str) -> str:
    """A complete HTML document."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>"
        f'<body><h1>{escape(title)}</h1><p class="meta">{escape(meta)}</p>{body}</body></html>\n'
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    """A table; cells that already are markup (start with '<') are kept as they are."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def badge(ok: bool, yes: str, no: str) -> str:
    return (
        f'<span class="ok">{escape(yes)}</span>' if ok else f'<span class="bad">{escape(no)}</span>'
    )


def histogram(reference: np.ndarray, current: np.ndarray, *, bins: int = 20) -> str:
    """Two overlaid density outlines on shared bins: reference grey, current red."""
    values = np.concatenate([reference, current])
    if values.size == 0 or values.min() == values.max():
        return ""
    edges = np.linspace(values.min(), values.max(), bins + 1)
    lines = []
    for sample, colour in ((reference, "#7b8794"), (current, "#c62828")):
        counts = np.histogram(sample, bins=edges)[0] / max(sample.size, 1)
        peak = max(float(counts.max()), 1e-9)
        points = " ".join(f"{i * 8 + 4},{40 - 36 * c / peak:.1f}" for i, c in enumerate(counts))
        lines.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}"/>'
        )
    return f'<svg width="{bins * 8}" height="42" role="img">{"".join(lines)}</svg>'


def _cell(value: Cell) -> str:
    if value is None:
        return "&ndash;"
    if isinstance(value, float):
        return f"{value:.4g}"
    text = str(value)
    return text if text.startswith("<") else escape(text)
