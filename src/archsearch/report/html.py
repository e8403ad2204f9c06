"""A self-contained HTML report of a study: one file, plots embedded as PNG data.

It shows the best-so-far curve, every trial, the Pareto front for the objectives asked
for, and the winning architecture drawn as a graph where its space describes cells.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archsearch.core.genotype import Architecture
from archsearch.core.trial import Trial, TrialState
from archsearch.space.base import SearchSpace
from archsearch.space.encodings import EdgeCell, as_cells, is_cell_space

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: right; }
td.arch { text-align: left; font-family: monospace; }
tr.FAILED { color: #a33; } tr.PRUNED { color: #888; } tr.best { background: #eef6e8; }
img { max-width: 100%; }
"""


def _figure_html(fig: Figure, alt: str) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _best_so_far(trials: Sequence[Trial], metric: str, mode: str) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.2))
    ax = fig.add_subplot()
    xs, ys, best = [], [], -math.inf
    for t in trials:
        if t.state is TrialState.COMPLETE and t.score is not None:
            best = max(best, t.score)
        if best > -math.inf:
            xs.append(t.number)
            ys.append(best if mode == "max" else -best)
    done = [t for t in trials if t.state is TrialState.COMPLETE and metric in t.metrics]
    ax.scatter(
        [t.number for t in done], [t.metrics[metric] for t in done], s=8, alpha=0.4, label="trial"
    )
    ax.step(xs, ys, where="post", color="C3", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(metric)
    ax.legend(loc="lower right" if mode == "max" else "upper right")
    return fig


def _pareto(
    trials: Sequence[Trial], front: Sequence[Trial], objectives: Sequence[tuple[str, str]]
) -> Figure:
    from matplotlib.figure import Figure

    (mx, _), (my, _) = objectives[0], objectives[1]
    fig = Figure(figsize=(5, 4))
    ax = fig.add_subplot()
    done = [t for t in trials if mx in t.metrics and my in t.metrics]
    ax.scatter(
        [t.metrics[mx] for t in done],
        [t.metrics[my] for t in done],
        s=10,
        alpha=0.4,
        label="trials",
    )
    pts = sorted((t.metrics[mx], t.metrics[my]) for t in front)
    ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", color="C3", label="Pareto front")
    ax.set_xlabel(mx)
    ax.set_ylabel(my)
    ax.legend()
    return fig


def _cells(space: SearchSpace, arch: Architecture) -> list[tuple[str, EdgeCell]]:
    """Named cells of an architecture where its space describes cells (NB201: one;
    DARTS: normal and reduction), none for other spaces."""
    if not is_cell_space(space):
        return []
    return [(cell.name or "cell", cell) for cell in as_cells(space, arch)]


def _architecture(space: SearchSpace, arch: Architecture) -> Figure | None:
    """The winner's cells as DAGs (nodes left to right, ops on the edges), where the
    space describes its architectures as cells; None otherwise."""
    cells = _cells(space, arch)
    if not cells:
        return None
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 2.6 * len(cells)))
    for row, (name, cell) in enumerate(cells):
        ax = fig.add_subplot(len(cells), 1, row + 1)
        n = cell.n_nodes
        for i, j, op in cell.live_edges():
            span = j - i
            height = 0.0 if span == 1 else 0.25 * (span - 1) * (1 if (i + j) % 2 else -1)
            mid_x, mid_y = (i + j) / 2, height
            ax.annotate(
                "",
                xy=(j, 0),
                xytext=(i, 0),
                arrowprops={
                    "arrowstyle": "->",
                    "connectionstyle": f"arc3,rad={-0.6 * height}",
                    "color": "0.4",
                },
            )
            ax.text(mid_x, mid_y + 0.06 * (1 if height >= 0 else -1), op, ha="center", fontsize=8)
        labels = [
            f"in{k}" if k in cell.inputs else ("out" if k == cell.out_node else str(k))
            for k in range(n)
        ]
        ax.scatter(range(n), [0] * n, s=500, color="#dde8f6", edgecolors="0.3", zorder=3)
        for k, label in enumerate(labels):
            ax.text(k, 0, label, ha="center", va="center", fontsize=8, zorder=4)
        ax.set_xlim(-0.6, n - 0.4)
        ax.set_ylim(-1.0, 1.0)
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    return fig


def write_report(
    trials: Sequence[Trial],
    space: SearchSpace,
    path: str | Path,
    *,
    metric: str = "val_acc",
    mode: str = "max",
    objectives: Sequence[tuple[str, str]] | None = None,
    plot_front: Sequence[tuple[str, str]] | None = None,
    title: str = "archsearch study",
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write the report to `path` (atomically) and return it. `objectives` are the
    study's own (metric, "max" | "min") pairs, if it has several: they rank its trials
    and draw its Pareto front; `plot_front` draws a front of a single-objective study;
    `extra` adds summary rows (the final test accuracy, export paths, ...)."""
    from archsearch.study.selection import best_trial, pareto_front

    path = Path(path)
    done = [t for t in trials if t.state is TrialState.COMPLETE and t.score is not None]
    best = best_trial(trials, objectives)
    counts = {s.value: sum(t.state is s for t in trials) for s in TrialState}
    parts = [f"<h1>{html.escape(title)}</h1>", "<h2>Summary</h2>", "<table>"]
    rows: dict[str, Any] = {"trials": len(trials), **counts}
    if best is not None:
        rows |= {"best trial": best.number, "best architecture": space.describe(best.arch)}
        rows |= {f"best {k}": f"{v:.6g}" for k, v in best.metrics.items()}
    rows |= extra or {}
    parts += [
        f"<tr><th>{html.escape(str(k))}</th><td class=arch>{html.escape(str(v))}</td></tr>"
        for k, v in rows.items()
    ]
    parts.append("</table>")
    if done:
        parts += [
            "<h2>Best so far</h2>",
            _figure_html(_best_so_far(trials, metric, mode), "best so far"),
        ]
    front_objectives = objectives or plot_front
    if front_objectives and len(front_objectives) >= 2 and done:
        objectives = front_objectives
        front = pareto_front(done, objectives)
        parts += [
            f"<h2>Pareto front ({', '.join(f'{m} {d}' for m, d in objectives)})</h2>",
            _figure_html(_pareto(done, front, objectives[:2]), "Pareto front"),
            "<p>"
            + ", ".join(f"trial {t.number}" for t in sorted(front, key=lambda t: t.number))
            + "</p>",
        ]
    if best is not None:
        figure = _architecture(space, best.arch)
        if figure is not None:
            parts += ["<h2>The winner</h2>", _figure_html(figure, "winning architecture")]
    names = sorted({k for t in trials for k in t.metrics})
    parts += [
        "<h2>All trials</h2>",
        "<table><tr><th>trial</th><th>state</th><th>score</th><th>cost s</th>",
    ]
    parts[-1] += (
        "".join(f"<th>{html.escape(n)}</th>" for n in names) + "<th>architecture / error</th></tr>"
    )
    for t in trials:
        cls = f"{t.state.value}{' best' if best is not None and t.number == best.number else ''}"
        cells = [
            str(t.number),
            t.state.value,
            "" if t.score is None else f"{t.score:.5g}",
            f"{t.cost:.3g}",
        ]
        cells += [f"{t.metrics[n]:.5g}" if n in t.metrics else "" for n in names]
        last = space.describe(t.arch) + (f" — {t.error}" if t.error else "")
        parts.append(
            f'<tr class="{cls}">'
            + "".join(f"<td>{html.escape(c)}</td>" for c in cells)
            + f"<td class=arch>{html.escape(last)}</td></tr>"
        )
    parts.append("</table>")
    return _write_page(path, title, parts)


def write_history_report(
    history: Sequence[dict[str, Any]],
    summary: dict[str, Any],
    path: str | Path,
    *,
    space: SearchSpace | None = None,
    arch: Architecture | None = None,
    title: str = "archsearch one-shot search",
) -> Path:
    """The report of a job that trains one model epoch by epoch (a one-shot supernet):
    the summary, each numeric per-epoch record plotted, the derived architecture drawn,
    and the epochs as a table."""
    from matplotlib.figure import Figure

    path = Path(path)
    parts = [f"<h1>{html.escape(title)}</h1>", "<h2>Summary</h2>", "<table>"]
    for key, value in summary.items():
        if isinstance(value, dict | list):
            continue
        shown = f"{value:.6g}" if isinstance(value, float) else str(value)
        parts.append(
            f"<tr><th>{html.escape(key)}</th><td class=arch>{html.escape(shown)}</td></tr>"
        )
    parts.append("</table>")
    numeric = [
        k
        for k in (history[0] if history else {})
        if k != "epoch" and all(isinstance(r.get(k), int | float) for r in history)
    ]
    if numeric:
        fig = Figure(figsize=(7, 2.2 * len(numeric)))
        epochs = [r["epoch"] for r in history]
        for i, key in enumerate(numeric):
            ax = fig.add_subplot(len(numeric), 1, i + 1)
            ax.plot(epochs, [r[key] for r in history], marker="o", color=f"C{i}")
            ax.set_ylabel(key)
            ax.grid(alpha=0.3)
        fig.axes[-1].set_xlabel("epoch")
        parts += ["<h2>Per epoch</h2>", _figure_html(fig, "per-epoch records")]
    if space is not None and arch is not None:
        figure = _architecture(space, arch)
        if figure is not None:
            parts += ["<h2>The derived architecture</h2>", _figure_html(figure, "architecture")]
    keys = list(history[0]) if history else []
    parts.append("<h2>Epochs</h2><table><tr>" + "".join(f"<th>{html.escape(k)}</th>" for k in keys))
    for record in history:
        cells = [
            f"{v:.5g}" if isinstance(v, float) else ("" if v is None else str(v))
            for v in (record.get(k) for k in keys)
        ]
        parts.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    parts.append("</table>")
    return _write_page(path, title, parts)


def _write_page(path: Path, title: str, parts: list[str]) -> Path:
    """One self-contained HTML page, written atomically."""
    from archsearch.core.atomic import atomic_write_text

    document = (
        f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(path, document)
