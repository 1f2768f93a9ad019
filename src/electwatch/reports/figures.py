"""Static figures (matplotlib) for the report, written as PNG + SVG and inlined as SVG.

Figures are drawn for print and for a phone: a wide-but-short aspect, large
labels, colour-blind-safe colours (Okabe & Ito 2008: blue #0072B2, vermillion
#D55E00), and a caption in the report stating what is drawn and how to read it.
Interactive touches need no network: bars and points carry SVG ``<title>``
tooltips (shown on hover, and on tap by the report's inline script), and every
figure can be opened full-screen and zoomed.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from electwatch.reports.model import FigureRef

BLUE = "#0072B2"
VERMILLION = "#D55E00"
GREEN = "#009E73"
GREY = "#666666"
ORANGE = "#E69F00"

_RC: Any = {  # matplotlib types rc keys as Literals; this dict is checked by use
    "svg.fonttype": "path",  # text as paths: renders the same without any font installed
    "svg.hashsalt": "electwatch",  # deterministic ids
    "font.size": 12,
    "axes.titlesize": 13,
    "axes.labelsize": 12,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 100,
}


@dataclass
class FigureWriter:
    """Writes figures into ``<out_dir>/figures`` and returns :class:`FigureRef` records."""

    out_dir: Path
    formats: tuple[str, ...] = ("png", "svg")
    dpi: int = 150

    def __post_init__(self) -> None:
        (self.out_dir / "figures").mkdir(parents=True, exist_ok=True)
        self.written: list[Path] = []

    def save(
        self,
        fig: Figure,
        fig_id: str,
        title: str,
        caption: str,
        tooltips: dict[str, str] | None = None,
        alt: str = "",
        narrow: bool = False,
    ) -> FigureRef:
        files: dict[str, str] = {}
        svg_bytes = io.BytesIO()
        with plt.rc_context(_RC):
            fig.savefig(svg_bytes, format="svg", metadata={"Date": None})
            # the layout is settled by the first save: keep it for the others (faster)
            fig.set_layout_engine("none")
            for fmt in self.formats:
                rel = f"figures/{fig_id}.{fmt}"
                path = self.out_dir / rel
                if fmt == "svg":
                    path.write_bytes(svg_bytes.getvalue())
                else:
                    fig.savefig(
                        path,
                        format=fmt,
                        dpi=self.dpi,
                        metadata={"Software": None} if fmt == "png" else None,
                    )
                files[fmt] = rel
                self.written.append(path)
        plt.close(fig)
        svg = inline_svg(svg_bytes.getvalue().decode("utf-8"), fig_id, tooltips or {}, alt or title)
        return FigureRef(
            id=fig_id,
            title=title,
            caption=caption,
            svg=svg,
            files=files,
            alt=alt or title,
            narrow=narrow,
        )


_ID_RE = re.compile(r'\bid="([^"]+)"')
_HREF_RE = re.compile(r'(xlink:href|href)="#([^"]+)"')
_URL_RE = re.compile(r"url\(#([^)]+)\)")


def inline_svg(svg: str, prefix: str, tooltips: dict[str, str], label: str) -> str:
    """Make matplotlib's SVG safe to inline next to others, responsive, with tooltips.

    Ids are prefixed (several inline SVGs share glyph and clip-path ids), the fixed
    width/height are dropped in favour of the viewBox, and each element whose gid
    is a key of ``tooltips`` gets a ``<title>`` child (a native, offline tooltip).
    """
    svg = svg[svg.index("<svg") :]
    svg = _ID_RE.sub(lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    svg = _HREF_RE.sub(lambda m: f'{m.group(1)}="#{prefix}-{m.group(2)}"', svg)
    svg = _URL_RE.sub(lambda m: f"url(#{prefix}-{m.group(1)})", svg)
    head_end = svg.index(">")
    head = svg[:head_end]
    head = re.sub(r'\s(width|height)="[^"]*"', "", head, count=2)
    head += f' class="fig" role="img" aria-label="{html.escape(label, quote=True)}"'
    svg = head + svg[head_end:]
    for gid, text in tooltips.items():
        svg = svg.replace(
            f'<g id="{prefix}-{gid}">',
            f'<g id="{prefix}-{gid}" class="tip"><title>{html.escape(text)}</title>',
            1,
        )
    return svg


def _figure(width: float = 7.0, height: float = 3.6) -> tuple[Figure, plt.Axes]:
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    return fig, ax


# --- histograms with whole-percent values marked --------------------------------


def integer_percent_histogram(
    percent: np.ndarray, *, xlabel: str, title: str, fig_id: str, lo: float = 0.0, hi: float = 100.0
) -> tuple[Figure, dict[str, str]]:
    """Histogram in 0.1-point bins centred on tenths; bins on whole percents marked.

    Kobak, Shpilkin & Pshenichnikov (2016) showed that falsified protocols pile up on
    whole-percent turnout and results; in 0.1-point bins these show as spikes at the
    integers. The whole-percent bins ([k - 0.05, k + 0.05)) are drawn in vermillion,
    all others as a blue outline.
    """
    x = np.asarray(percent, dtype=float)
    x = x[np.isfinite(x)]
    edges = np.arange(round(lo * 10) - 0.5, round(hi * 10) + 1.0, 1.0) / 10.0
    counts, _ = np.histogram(x, bins=edges)
    centres = (edges[:-1] + edges[1:]) / 2
    whole = np.isclose(centres, np.round(centres), atol=1e-9)
    # The end bins (e.g. 100% turnout: tiny or special stations) can hold many times the
    # stations of any other bin and would flatten the spikes this figure is for: the
    # y-axis is scaled to the interior bins, an off-scale end bin is drawn up to the top
    # and labelled with its count (its tooltip keeps the count too). Heights are capped
    # in the drawing itself, not only clipped, so every tooltip target lies inside the
    # axes (a tap on it lands on it).
    interior = counts[1:-1]
    top = 1.1 * float(interior.max()) if interior.size and interior.max() > 0 else 0.0
    drawn = np.minimum(counts, top) if top > 0 else counts
    with plt.rc_context(_RC):
        fig, ax = _figure()
        ax.stairs(drawn, edges, color=BLUE, linewidth=0.8, label="stations per 0.1-point bin")
        tips: dict[str, str] = {}
        idx = np.flatnonzero(whole & (counts > 0))
        bars = ax.bar(
            centres[idx], drawn[idx], width=0.1, color=VERMILLION, label="bins at a whole percent"
        )
        neighbours = _neighbour_mean(counts)
        for k, bar in zip(idx, bars, strict=True):
            gid = f"int{round(centres[k])}"
            bar.set_gid(gid)
            tips[gid] = (
                f"{centres[k]:.0f}% (±0.05): {counts[k]:,} stations; "
                f"neighbouring bins average {neighbours[k]:,.1f}"
            )
        ax.set_xlim(lo, hi)
        if top > 0:
            ax.set_ylim(0, top)
            for edge, ha in ((0, "left"), (int(counts.size) - 1, "right")):
                if counts[edge] > top:
                    ax.annotate(
                        f"{centres[edge]:.0f}%: {counts[edge]:,} ↑",
                        xy=(centres[edge], top),
                        xytext=(-3 if ha == "right" else 3, -3),
                        textcoords="offset points",
                        ha=ha,
                        va="top",
                        fontsize=10,
                        color=VERMILLION if whole[edge] else BLUE,
                    )
        ax.set_xlabel(xlabel)
        ax.set_ylabel("stations")
        ax.set_title(_wrap(title, 70), loc="left")
        ax.legend(frameon=False, loc="upper left", fontsize=10)
    return fig, tips


def _neighbour_mean(counts: np.ndarray, k: int = 2) -> np.ndarray:
    """Mean of the ``k`` bins either side of each bin (the bin itself excluded)."""
    c = np.asarray(counts, dtype=float)
    pad = np.pad(c, k, mode="edge")
    window = np.convolve(pad, np.ones(2 * k + 1), mode="valid")
    return (window - c) / (2 * k)


# --- election fingerprint -------------------------------------------------------


def fingerprint_counts(
    turnout: np.ndarray, share: np.ndarray, bins: int = 100
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """2D histogram of turnout (x) vs. winner's share (y) in 1% bins (Klimek et al. 2012).

    Returns ``(counts[y, x], x_edges, y_edges)`` with edges as fractions in [0, 1].
    """
    t = np.asarray(turnout, dtype=float)
    s = np.asarray(share, dtype=float)
    ok = np.isfinite(t) & np.isfinite(s)
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts, _, _ = np.histogram2d(np.clip(s[ok], 0, 1), np.clip(t[ok], 0, 1), bins=(edges, edges))
    return counts, edges, edges


def fingerprint_heatmap(
    counts: np.ndarray,
    x_edges: np.ndarray,
    y_edges: np.ndarray,
    *,
    title: str,
    ylabel: str,
    model: np.ndarray | None = None,
) -> Figure:
    """Heatmap of a fingerprint; log colour scale so that sparse fraud tails stay visible.

    ``model`` (same orientation as ``counts``): expected counts under a fitted model,
    drawn as white contours enclosing 50%, 90% and 99% of the model's stations.
    """
    from matplotlib.colors import LogNorm

    c = np.asarray(counts, dtype=float)
    with plt.rc_context(_RC):
        fig, ax = _figure(6.4, 5.4)
        masked = np.ma.masked_less_equal(c, 0)
        vmax = max(float(c.max()), 1.0)
        mesh = ax.pcolormesh(
            np.asarray(x_edges) * 100,
            np.asarray(y_edges) * 100,
            masked,
            cmap="viridis",
            norm=LogNorm(vmin=1, vmax=vmax),
            rasterized=True,
        )
        fig.colorbar(mesh, ax=ax, label="stations per 1% × 1% cell (log scale)")
        if model is not None and np.asarray(model).sum() > 0:
            m = np.asarray(model, dtype=float)
            levels = _mass_levels(m, (0.99, 0.9, 0.5))
            xc = (np.asarray(x_edges)[:-1] + np.asarray(x_edges)[1:]) * 50
            yc = (np.asarray(y_edges)[:-1] + np.asarray(y_edges)[1:]) * 50
            if len(levels) > 0:
                # a dark halo under a white line: readable on every colour of the map
                ax.contour(xc, yc, m, levels=levels, colors="black", linewidths=2.8, alpha=0.55)
                ax.contour(xc, yc, m, levels=levels, colors="white", linewidths=1.3)
        ax.set_xlabel("turnout, %")
        ax.set_ylabel(_wrap(ylabel, 40))
        ax.set_title(_wrap(title, 52), loc="left")
        ax.set_xlim(0, 100)
        ax.set_ylim(0, 100)
        ax.set_aspect("equal")
    return fig


def _mass_levels(m: np.ndarray, masses: Sequence[float]) -> np.ndarray:
    """Density levels whose superlevel sets hold the given shares of the total mass."""
    v = np.sort(m.ravel())[::-1]
    cum = np.cumsum(v) / v.sum()
    levels = [v[min(int(np.searchsorted(cum, q)), v.size - 1)] for q in masses]
    return np.unique(np.asarray([lv for lv in levels if lv > 0]))


def shpilkin_figure(
    turnout_pct: np.ndarray,
    leader_votes: np.ndarray,
    other_votes: np.ndarray,
    expected_leader: np.ndarray,
    *,
    leader: str,
) -> tuple[Figure, dict[str, str]]:
    """Votes per 1% turnout bin: leader, everyone else, and the leader's expected curve.

    Shpilkin (2011): the others' curve scaled to the leader's at low turnout is what
    the leader would have got without the anomaly; the gap above it is the excess.
    """
    x = np.asarray(turnout_pct, dtype=float) + 0.5  # bin centres
    lead = np.asarray(leader_votes, dtype=float)
    oth = np.asarray(other_votes, dtype=float)
    exp = np.asarray(expected_leader, dtype=float)
    with plt.rc_context(_RC):
        fig, ax = _figure()
        ax.fill_between(
            x,
            exp,
            lead,
            where=lead > exp,
            color=VERMILLION,
            alpha=0.25,
            linewidth=0,
            label="excess (Shpilkin)",
        )
        ax.plot(x, lead, color=VERMILLION, linewidth=1.6, label=_short(leader, 30))
        ax.plot(x, oth, color=BLUE, linewidth=1.6, label="all other candidates")
        ax.plot(x, exp, color=VERMILLION, linewidth=1.2, linestyle="--", label="leader, expected")
        ax.set_xlim(0, 100)
        ax.set_xlabel("turnout, % (1-point bins)")
        ax.set_ylabel("votes")
        ax.yaxis.set_major_formatter(
            matplotlib.ticker.FuncFormatter(
                lambda v, _: (
                    f"{v / 1e6:g}M" if v >= 1e6 else f"{v / 1e3:g}k" if v >= 1e3 else f"{v:g}"
                )
            )
        )
        ax.set_title("Votes by turnout", loc="left")
        ax.legend(frameon=False, fontsize=10, loc="upper left")
    return fig, {}


# --- digit tests ----------------------------------------------------------------


def digit_plot(
    observed: np.ndarray,
    null: np.ndarray,
    *,
    title: str,
    xlabel: str,
    labels: Sequence[str] | None = None,
) -> tuple[Figure, dict[str, str]]:
    """Observed digit shares (points) against the null (line) with a 95% band.

    The band is the binomial 95% interval of each digit's share under the null for
    the same number of digits, n: p ± 1.96 sqrt(p (1 - p) / n). The y axis is zoomed
    on the data (not from 0): with tens of thousands of counts the deviations that
    matter are fractions of a percentage point.
    """
    obs = np.asarray(observed, dtype=float)
    p = np.asarray(null, dtype=float)
    n = obs.sum()
    share = obs / n if n else np.zeros_like(obs)
    half = 1.96 * np.sqrt(p * (1 - p) / max(n, 1))
    x = np.arange(len(obs))
    names = list(labels) if labels is not None else [str(d) for d in x]
    with plt.rc_context(_RC):
        fig, ax = _figure(5.6, 3.6)
        ax.fill_between(
            np.r_[x - 0.5, x[-1] + 0.5],
            np.r_[p - half, p[-1] - half[-1]],
            np.r_[p + half, p[-1] + half[-1]],
            step="post", color=GREY, alpha=0.25, linewidth=0, label="null ± 95%",
        )  # fmt: skip
        ax.step(
            np.r_[x - 0.5, x[-1] + 0.5], np.r_[p, p[-1]], where="post", color=VERMILLION,
            linewidth=1.5, label="null",
        )  # fmt: skip
        tips = {}
        for d in x:
            outside = abs(share[d] - p[d]) > half[d]
            (pt,) = ax.plot(
                [d], [share[d]], marker="o", markersize=7, linestyle="none",
                color=VERMILLION if outside else BLUE,
                label="observed" if d == 0 else None,
            )  # fmt: skip
            gid = f"d{d}"
            pt.set_gid(gid)
            tips[gid] = (
                f"digit {names[d]}: observed {share[d]:.4f} ({int(obs[d]):,} of {int(n):,}), "
                f"null {p[d]:.4f} ± {half[d]:.4f}" + (" — outside the band" if outside else "")
            )
        ax.set_xticks(x, names)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("share")
        ax.set_title(_wrap(title, 46), loc="left", fontsize=11)
        lo = min(float(share.min()), float((p - half).min()))
        hi = max(float(share.max()), float((p + half).max()))
        pad = 0.1 * (hi - lo or 0.01)
        ax.set_ylim(lo - pad, hi + 3 * pad)
        ax.legend(frameon=False, fontsize=9, loc="upper right", ncols=3)
    return fig, tips


# --- claims vs. estimates -------------------------------------------------------


@dataclass(frozen=True)
class IntervalPoint:
    """One row of the claims-vs-estimates chart."""

    label: str
    value: float
    low: float | None = None
    high: float | None = None
    kind: str = "estimate"  # estimate | claim | official
    note: str = ""


_KIND_STYLE = {
    "estimate": (BLUE, "o", "estimate (95% CI)"),
    "claim": (VERMILLION, "D", "published claim"),
    "official": ("black", "s", "official figure"),
}


def interval_chart(
    points: Sequence[IntervalPoint], *, xlabel: str, title: str, percent: bool = True
) -> tuple[Figure, dict[str, str]]:
    """Each claim and each estimate (with its interval) on one horizontal axis.

    A one-sided claim ("at most", "at least": ``low`` or ``high`` is None while the
    other is given) is drawn as a dashed line running off to that side of the axis.
    """
    rows = list(points)
    height = 1.4 + 0.4 * len(rows)
    scale = 100.0 if percent else 1.0
    unit = "%" if percent else ""
    with plt.rc_context(_RC):
        fig, ax = _figure(7.0, height)
        tips = {}
        seen: set[str] = set()
        one_sided: list[tuple[int, float, str, str]] = []
        for i, pt in enumerate(rows):
            y = len(rows) - 1 - i
            colour, marker, legend = _KIND_STYLE.get(pt.kind, _KIND_STYLE["estimate"])
            if pt.low is not None and pt.high is not None:
                ax.hlines(y, pt.low * scale, pt.high * scale, color=colour, linewidth=3, alpha=0.6)
            elif pt.low is not None or pt.high is not None:
                side = "above" if pt.low is not None else "below"
                one_sided.append((y, pt.value * scale, side, colour))
            art = ax.scatter(
                [pt.value * scale], [y], color=colour, marker=marker, s=50, zorder=3,
                label=None if legend in seen else legend,
            )  # fmt: skip
            seen.add(legend)
            gid = f"pt{i}"
            art.set_gid(gid)
            ci = (
                f" (95% CI {pt.low * scale:.2f}–{pt.high * scale:.2f}{unit})"
                if pt.low is not None and pt.high is not None and pt.kind == "estimate"
                else ""
            )
            tips[gid] = f"{pt.label}: {pt.value * scale:.2f}{unit}{ci}" + (
                f" — {pt.note}" if pt.note else ""
            )
        lo, hi = ax.get_xlim()
        pad = 0.04 * (hi - lo)
        lo -= pad * (3 if any(side == "below" for _, _, side, _ in one_sided) else 1)
        hi += pad * (3 if any(side == "above" for _, _, side, _ in one_sided) else 1)
        for y, x, side, colour in one_sided:
            end = lo if side == "below" else hi
            ax.hlines(y, min(x, end), max(x, end), color=colour, linewidth=2, linestyles="--")
        ax.set_xlim(lo, hi)
        ax.set_yticks(range(len(rows)), [_wrap(p.label, 30) for p in reversed(rows)])
        ax.set_xlabel(xlabel)
        fig.suptitle(_wrap(title, 70), x=0.01, ha="left")
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        ax.set_ylim(-0.7, len(rows) - 0.3)
        fig.legend(frameon=False, fontsize=10, loc="outside lower center", ncols=3)
    return fig, tips


def _short(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _wrap(text: str, width: int = 48, lines: int = 2) -> str:
    """A title or label wrapped onto at most ``lines`` lines of ``width`` characters
    (never cut mid-word; the last line ends in "…" only past ``lines``): the figure's
    caption carries the full text."""
    import textwrap

    parts = textwrap.wrap(text, width) or [text]
    if len(parts) > lines:
        parts = [*parts[: lines - 1], _short(" ".join(parts[lines - 1 :]), width)]
    return "\n".join(parts)


# --- forensics figures drawn from results.json ---------------------------------------
#
# ``electwatch forensics`` writes results.json first and draws these from it: every
# number in a title or label is a value of that file (tests/test_forensics_applicability
# checks the titles), and a figure whose numbers are not in the file is not drawn.


def _not_applicable_nationally(data: dict, statistic: str) -> bool:
    """results.json lists ``statistic`` as not applicable at the national level."""
    return any(
        na.get("statistic") == statistic and na.get("level") in (None, "national")
        for na in data.get("not_applicable") or []
    )


def forensics_figure_titles(data: dict) -> dict[str, str]:
    """The title of each forensics figure, built only from ``results.json`` values;
    a figure is absent when its data is, or when results.json says its statistic did
    not apply nationally (the integer-percent histogram is kept in the file for fewer
    than 100 units, but not drawn: a figure must not show a test that did not run)."""
    label = "SYNTHETIC: " if data.get("synthetic") else ""
    name = str(data.get("election", ""))[:60]
    titles: dict[str, str] = {}
    fp = data.get("fingerprint")
    if fp and fp.get("n"):
        titles["fingerprint"] = f"{label}{name}\nfingerprint, {fp['n']:,} units"
    sh = data.get("shpilkin_curves")
    if (
        sh
        and sh.get("excess") is not None
        and not _not_applicable_nationally(data, "shpilkin_excess_votes")
    ):
        titles["shpilkin"] = (
            f"{label}Shpilkin: {sh['excess']:+,.0f} anomalous votes (t0 = {sh['t0']}%)"
        )
    ih = data.get("integer_histogram")
    if ih and ih.get("n") and not _not_applicable_nationally(data, "integer_percent"):
        titles["integer"] = (
            f"{label}{name[:50]}: {ih['n']:,} units with >= {ih['min_cast']} ballots cast, "
            "0.1-point bins"
        )
    return titles


def forensics_fingerprint_figure(data: dict) -> Figure:
    """Heatmap of the election fingerprint (log colour scale) from results.json's
    ``fingerprint.cells``, with the fitted Klimek model's contours when present."""
    from matplotlib.colors import LogNorm

    fp = data["fingerprint"]
    bins = int(fp["bins"])
    counts = np.zeros((bins, bins))
    cells = fp["cells"]
    counts[cells["turnout_bin"], cells["share_bin"]] = cells["count"]
    fig = Figure(figsize=(5.2, 4.4), dpi=110)
    ax = fig.add_subplot(1, 1, 1)
    masked = np.ma.masked_equal(counts.T, 0)
    vmax = max(float(masked.max()) if masked.count() else 1.0, 1.0)
    im = ax.imshow(
        masked,
        origin="lower",
        extent=(0, 100, 0, 100),
        aspect="auto",
        cmap="viridis",
        norm=LogNorm(vmin=1, vmax=vmax),
        interpolation="nearest",
    )
    model = data.get("klimek_model_cells")
    if model and model.get("expected"):
        grid = np.zeros((bins, bins))
        grid[model["turnout_bin"], model["share_bin"]] = model["expected"]
        centres = (np.arange(bins) + 0.5) * 100 / bins
        levels = np.unique(np.quantile(grid[grid > 0], [0.5, 0.9, 0.99]))
        ax.contour(centres, centres, grid.T, levels=levels, colors="white", linewidths=0.6)
    ax.set_xlabel("turnout (%)")
    ax.set_ylabel(f"winner's share (%)\n{str(fp.get('winner', ''))[:40]}")
    ax.set_title(forensics_figure_titles(data)["fingerprint"])
    fig.colorbar(im, ax=ax, label="units")
    return fig


def forensics_shpilkin_figure(data: dict) -> Figure:
    """Votes by 1% turnout bin (leader, others, leader expected); below, the excess for
    every reference turnout t0 (the sensitivity curve, gaps where a t0 bin is empty);
    and, when results.json has it, the leader's share by turnout bin with the fitted
    flat-then-rising broken line, its change point and t0 (how t0 was chosen:
    :func:`electwatch.forensics.shpilkin.share_change_point`). All from results.json's
    ``shpilkin_curves``."""
    c = data["shpilkin_curves"]
    x = np.asarray(c["turnout_pct"], dtype=float)
    lead = np.asarray(c["leader"], dtype=float)
    oth = np.asarray(c["others"], dtype=float)
    exp = np.asarray(c["expected_leader"], dtype=float)
    share = np.asarray(c.get("leader_share_by_turnout") or [], dtype=float)
    fit = np.asarray(c.get("share_fit") or [], dtype=float)
    panels = 3 if share.size else 2
    fig = Figure(figsize=(6.4, 3.0 * panels), dpi=110)
    ax = fig.add_subplot(panels, 1, 1)
    ax.plot(x, lead, color=BLUE, label=f"leader ({str(data.get('winner', ''))[:30]})")
    ax.plot(x, oth, color=GREY, label="all others")
    ax.plot(x, exp, "--", color=BLUE, label="leader, expected")
    ax.fill_between(x, exp, lead, where=x > c["t0"], color=VERMILLION, alpha=0.3)
    ax.axvline(c["t0"], color="k", lw=0.6, ls=":")
    if c.get("others_mode_pct") is not None and c["others_mode_pct"] != c["t0"]:
        ax.axvline(c["others_mode_pct"], color=GREY, lw=0.6, ls="--")
    ax.set_xlabel("turnout (%)")
    ax.set_ylabel("votes per 1% bin")
    ax.set_title(forensics_figure_titles(data)["shpilkin"])
    ax.legend(fontsize=8)
    sens_x = np.asarray(c.get("sensitivity_t0", []), dtype=float)
    sens_y = np.asarray(c.get("sensitivity_excess", []), dtype=float)
    ax2 = fig.add_subplot(panels, 1, 2)
    if sens_x.size:
        ax2.plot(sens_x, sens_y, color=VERMILLION, marker=".", ms=2)
        ax2.axvline(c["t0"], color="k", lw=0.6, ls=":")
        ax2.axhline(0, color=GREY, lw=0.5)
    ax2.set_xlabel("reference turnout t0 (%)")
    ax2.set_ylabel("excess votes")
    ax2.set_title("sensitivity: the excess for every t0", fontsize=10)
    if share.size:
        ax3 = fig.add_subplot(panels, 1, 3)
        centres = x + 0.5
        ax3.plot(centres, 100 * share, ".", color=BLUE, ms=3, label="leader's share, 1% bins")
        seen = np.flatnonzero(np.isfinite(share))
        if fit.size and seen.size:  # the fitted line over the bins that hold votes
            span = slice(seen[0], seen[-1] + 1)
            ax3.plot(
                centres[span], 100 * fit[span], color=VERMILLION, lw=1.2,
                label="broken line (Huber)",
            )  # fmt: skip
        if c.get("share_change_point_pct") is not None:
            ax3.axvline(
                c["share_change_point_pct"], color=VERMILLION, lw=0.6, ls="--",
                label=f"change point {c['share_change_point_pct']:.0f}%",
            )  # fmt: skip
        if c.get("others_mode_pct") is not None:
            ax3.axvline(
                c["others_mode_pct"], color=GREY, lw=0.6, ls="--",
                label=f"others' mode {c['others_mode_pct']}%",
            )  # fmt: skip
        ax3.axvline(c["t0"], color="k", lw=0.6, ls=":", label=f"t0 = {c['t0']}%")
        ax3.set_xlim(0, 100)
        ax3.set_xlabel("turnout (%)")
        ax3.set_ylabel("leader's share (%)")
        ax3.set_title(f"how t0 was chosen: {c.get('t0_method', '')}", fontsize=10)
        ax3.legend(fontsize=7)
    fig.tight_layout()
    return fig


def forensics_integer_figure(data: dict) -> Figure:
    """Units per 0.1-point bin of turnout and of the leader's result (% of ballots
    cast): the integer-percent spikes of Kobak, Shpilkin & Pshenichnikov (2016),
    from results.json's ``integer_histogram``."""
    ih = data["integer_histogram"]
    x = np.asarray(ih["bin_centres_pct"], dtype=float)
    fig = Figure(figsize=(8, 4.6), dpi=100)
    series = (("turnout", "turnout (%)"), ("leader_result", "leader's result (% of cast)"))
    nonzero = [x[np.asarray(ih[k]) > 0] for k, _ in series]
    lows = [float(np.quantile(v, 0.01)) for v in nonzero if v.size]
    lo = max(0.0, float(np.floor(min(lows) / 5) * 5)) if lows else 0.0
    for k, (key, label) in enumerate(series):
        ax = fig.add_subplot(2, 1, k + 1)
        ax.plot(x, ih[key], lw=0.6, color="k")
        for v in range(0, 101, 5):
            ax.axvline(v, color=VERMILLION, lw=0.4, alpha=0.4)
        ax.set_xlim(lo, 100)
        ax.set_ylabel("units / 0.1 pt")
        ax.set_xlabel(label)
    fig.suptitle(forensics_figure_titles(data)["integer"])
    fig.tight_layout()
    return fig


# --- eforensics (station-level fraud model) -------------------------------------------


def eforensics_weights_figure(
    weights: Sequence[tuple[str, float, float | None, float | None]],
    magnitudes: Sequence[tuple[str, float, float | None, float | None]],
    *,
    title: str,
) -> tuple[Figure, dict[str, str]]:
    """Mixture weights (left) and mean fraud shares (right), each a dot with its 95%
    interval: rows are ``(label, estimate, low, high)``; a missing interval (a magnitude
    that is not identified) is a hollow dot."""
    with plt.rc_context(_RC):
        fig = plt.figure(figsize=(8.0, 3.2), layout="constrained")
        axes = fig.subplots(1, 2)
        tips: dict[str, str] = {}
        panels = (
            (axes[0], weights, "share of stations, %", (BLUE, GREEN, VERMILLION)),
            (axes[1], magnitudes, "mean fraud share, %", (ORANGE, ORANGE, VERMILLION, VERMILLION)),
        )
        for p, (ax, rows, xlabel, colours) in enumerate(panels):
            n = len(rows)
            for i, (label, est, lo, hi) in enumerate(rows):
                y = n - 1 - i
                colour = colours[i % len(colours)]
                has_ci = lo is not None and hi is not None
                if has_ci:
                    assert lo is not None and hi is not None
                    ax.hlines(y, lo * 100, hi * 100, color=colour, linewidth=4, alpha=0.55)
                art = ax.scatter(
                    [est * 100], [y], s=55, zorder=3, color=colour if has_ci else "white",
                    edgecolors=colour, linewidths=1.5,
                )  # fmt: skip
                gid = f"ef{p}-{i}"
                art.set_gid(gid)
                ci = (
                    f" (95% interval {lo * 100:.2f}–{hi * 100:.2f}%)"  # type: ignore[operator]
                    if has_ci
                    else " (not identified: no interval)"
                )
                tips[gid] = f"{label}: {est * 100:.2f}%{ci}"
                text = f"{est * 100:.1f}%" + (
                    f" ({lo * 100:.1f}–{hi * 100:.1f})" if has_ci else ""  # type: ignore[operator]
                )
                ax.annotate(
                    text, (est * 100, y), xytext=(0, 7), textcoords="offset points",
                    ha="right" if est > 0.6 else "left", va="bottom", fontsize=9, color=GREY,
                )  # fmt: skip
            ax.set_yticks(range(n), [r[0] for r in reversed(rows)])
            ax.set_xlim(-2, 102)
            ax.set_xlabel(xlabel)
            ax.grid(axis="x", color="#dddddd", linewidth=0.6)
            ax.set_axisbelow(True)
            ax.set_ylim(-0.6, n - 0.4)
        fig.suptitle(_wrap(title, 80), x=0.01, ha="left")
    return fig, tips


def eforensics_area_figure(
    rows: Sequence[tuple[str, float, float, int]], *, title: str, top: int = 15
) -> tuple[Figure, dict[str, str]]:
    """Expected manufactured and stolen votes per area, stacked horizontal bars, the
    ``top`` areas with the most (rows: ``(area, manufactured, stolen, stations)``, any
    order)."""
    shown = sorted(rows, key=lambda r: -(r[1] + r[2]))[:top]
    n = max(len(shown), 1)
    with plt.rc_context(_RC):
        fig, ax = _figure(8.0, 1.3 + 0.32 * n)
        tips: dict[str, str] = {}
        for i, (area, man, sto, stations) in enumerate(shown):
            y = n - 1 - i
            b1 = ax.barh(
                [y], [man], color=BLUE, height=0.7, label="manufactured" if i == 0 else None
            )
            b2 = ax.barh(
                [y], [sto], left=[man], color=VERMILLION, height=0.7,
                label="stolen" if i == 0 else None,
            )  # fmt: skip
            for bars, kind in ((b1, "man"), (b2, "sto")):
                gid = f"ea{i}{kind}"
                bars.patches[0].set_gid(gid)
                tips[gid] = (
                    f"{area}: {man:,.0f} manufactured + {sto:,.0f} stolen = "
                    f"{man + sto:,.0f} expected frauded votes ({stations:,} stations)"
                )
        ax.set_yticks(range(len(shown)), [_short(r[0], 34) for r in reversed(shown)])
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _p: f"{x:,.0f}"))
        ax.set_xlabel("expected votes (model reading, not a count)")
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        ax.set_ylim(-0.6, n - 0.4)
        fig.suptitle(_wrap(title, 80), x=0.01, ha="left")
        if shown:
            fig.legend(frameon=False, fontsize=10, loc="outside lower center", ncols=2)
    return fig, tips
