"""The drawing vocabulary of every lecture's figures: colours, boxes, arrows, number grids.

The figure functions of the lecture modules build on these, so a colour or the look of a
box is changed here once for all lectures. Everything draws on a given matplotlib ``Axes``
(object-oriented API, no pyplot state).
"""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

# ColorBrewer shades (Blues, Oranges, Reds, Greens, Greys, Purples): readable in print too.
BLUE, DARK, ORANGE, RED, GREY = "#9ecae1", "#08519c", "#e6550d", "#fcbba1", "#f0f0f0"
LIGHT_GREEN, GREEN, DARK_GREEN = "#c7e9c0", "#a1d99b", "#31a354"
LIGHT_ORANGE, PALE_ORANGE = "#fdae6b", "#fdd0a2"
MID_GREY, LIGHT_PURPLE, DEEP_RED = "#d9d9d9", "#dadaeb", "#cb181d"

#: ``box`` style of a plain rectangle (a cell of a matrix), where the default has round corners.
SQUARE = "square,pad=0"


def box(ax, x, y, w, h, text: str = "", fc=BLUE, ec="k", lw: float = 1.0, fontsize: float = 8,
        style: str = "round,pad=0.02", **patch_kw) -> None:
    """A ``w`` x ``h`` box centred on (x, y), with ``text`` in its middle."""
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle=style, fc=fc, ec=ec,
                                lw=lw, **patch_kw))
    if text:
        ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def arrow(ax, start, end, style: str = "->", size: float = 10, lw: float = 1.0, **patch_kw) -> None:
    """An arrow from ``start`` to ``end`` (data coordinates); ``size`` scales the head."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=size, lw=lw,
                                 **patch_kw))


def circled(ax, x, y, sign: str = "+", ms: float = 18, text_scale: float = 0.6) -> None:
    """A circled sign (+ for an addition, C for a concatenation, x for a product): a marker,
    so it stays round whatever the axes' aspect."""
    ax.plot([x], [y], "o", ms=ms, mfc="white", mec="k", zorder=3)
    ax.text(x, y, sign, ha="center", va="center", fontsize=ms * text_scale, zorder=4)


def frame(ax, xlim, ylim) -> None:
    """Limits, equal aspect and no axes: for diagrams drawn in data coordinates."""
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")


def cell_lines(ax, h: int, w: int, color="k", lw: float = 0.5) -> None:
    """Borders of an h x w image's cells as two line collections, and no ticks at all.

    Much cheaper to lay out than a grid of minor ticks: constrained layout measures every
    tick of every axes, and some figures have hundreds.
    """
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xticks([], minor=True)
    ax.set_yticks([], minor=True)
    ax.grid(False)
    ax.hlines(np.arange(-0.5, h, 1), -0.5, w - 0.5, color=color, lw=lw)
    ax.vlines(np.arange(-0.5, w, 1), -0.5, h - 0.5, color=color, lw=lw)


def grid(ax, arr, cmap="Blues", fmt="{:g}", highlight=None, hl_color=ORANGE, vmin=None,
         vmax=None, title=None, fontsize=11) -> None:
    """Draw a small matrix with its numbers written in the cells (NaN cells stay blank).

    ``highlight`` = (row, col, height, width) outlines a block of cells.
    """
    arr = np.asarray(arr, dtype=float)
    im = ax.imshow(arr, cmap=cmap, vmin=vmin, vmax=vmax)
    for (r, c), v in np.ndenumerate(arr):
        if np.isnan(v):
            continue
        # Pick the text colour from the cell's own brightness, whatever the colormap.
        red, green, blue, _ = im.cmap(im.norm(v))
        dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5
        ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=fontsize,
                color="white" if dark else "black")
    cell_lines(ax, *arr.shape)
    if highlight is not None:
        r0, c0, h, w = highlight
        ax.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), w, h, fill=False, lw=3, ec=hl_color))
    if title:
        ax.set_title(title)


def bar_panels(rows, panels, colors, label: str = "network", headroom: float = 1.18,
               rotation: float = 20) -> Figure:
    """One bar chart per ``(key, title, scale)`` of ``panels``, one bar per row (named by
    ``row[label]``), each bar labelled with ``row[key] / scale``: the lectures' comparisons of
    networks by parameters, MACs and error."""
    names = [r[label] for r in rows]
    fig = Figure(figsize=(13, 3.8), layout="constrained")
    axes = fig.subplots(1, len(panels))
    for ax, (key, title, scale) in zip(axes, panels):
        vals = [r[key] / scale for r in rows]
        bars = ax.bar(names, vals, color=colors)
        ax.bar_label(bars, labels=[f"{v:.2f}" for v in vals], fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_ylim(0, max(vals) * headroom)
        ax.tick_params(axis="x", labelsize=8, rotation=rotation)
    return fig


def plot_losses(histories: dict, colors=(DARK, ORANGE, BLUE), first_step: int = 0,
                log: bool = False) -> Figure:
    """Training loss per step, one line per model (``{name: losses}``), the steps numbered
    from ``first_step``."""
    fig = Figure(figsize=(6.5, 3.4), layout="constrained")
    ax = fig.subplots()
    for (name, losses), color in zip(histories.items(), colors):
        ax.plot(np.arange(first_step, first_step + len(losses)), losses, "o-", color=color,
                label=name)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy on the batch")
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=9)
    return fig
