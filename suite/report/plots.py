"""Matplotlib figures from a run's CSVs: one colour per variant, titled, units on every axis.

Figures are :class:`matplotlib.figure.Figure` objects, drawn and saved without pyplot, so importing
this module or writing plots never changes the process's backend (a notebook keeps its inline plots).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from suite.atomic import write_atomic
from suite.data.rotations import rotate_exact_or_bilinear
from suite.report.evidence import Evidence, group_measure
from suite.report.stats import two_way_interval

_PALETTE = colormaps["tab10"].colors
RIGHT = "#a6dba0"  # a prediction cell of digit_predictions.png: the variant got the digit right
DIGIT_SAMPLES = (1, 2, 4, 6, 7, 9)  # the digits digit_predictions.png shows: 6 and 9 among them
WRONG = "#c2182b"  # ... got it wrong (the cell shows the digit it predicted)
MISSING = "#dddddd"  # ... no prediction recorded


# One colour and marker per variant in every figure of every run and study: the built-in variants
# by name, any other from a hash of its name (the same in every figure, whatever else ran).
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*", "h", "p")
_STYLES = {
    name: (_PALETTE[i % 10] if i < 10 else colormaps["Dark2"].colors[i % 8], _MARKERS[i % len(_MARKERS)])
    for i, name in enumerate((
        "cnn", "cnn-aug", "cnn-aug-so2", "gcnn-c4", "stack-c4", "escnn-c4", "escnn-c8", "escnn-d4",
        "escnn-so2", "e3nn-o2", "e3nn-c4", "e3nn-so2",
    ))
}  # fmt: skip


def variant_style(variant: str) -> dict:
    """``color`` and ``marker`` of a variant, fixed across figures, runs and studies."""
    if variant in _STYLES:
        colour, marker = _STYLES[variant]
    else:
        digest = int(hashlib.sha256(variant.encode()).hexdigest(), 16)
        colour = colormaps["tab20b"].colors[digest % 20]
        marker = _MARKERS[(digest // 20) % len(_MARKERS)]
    return {"color": colour, "marker": marker}


def colours(variants: list[str]) -> dict[str, tuple]:
    """The fixed colour of each variant (:func:`variant_style`), whatever the run's order."""
    return {v: variant_style(v)["color"] for v in variants}


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def _save(fig: Figure, path: Path) -> Path:
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
    return path


def _count(value: float, _pos=None) -> str:
    """200k, 1M, 2.5M: a count short enough for a crowded axis."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def _log_ticks(axis, low: float, high: float) -> None:
    """Labelled ticks on a log axis that do not collide: 1-2-5 per decade over a short range,
    decades only over a long one, every integer multiple within a single decade."""
    decades = math.log10(high / low) if low > 0 and high > 0 else 0.0
    subs = tuple(range(1, 10)) if decades < 0.7 else (1, 2, 5) if decades < 2.5 else (1,)
    axis.set_major_locator(LogLocator(base=10, subs=[float(s) for s in subs]))
    axis.set_major_formatter(FuncFormatter(_count))
    axis.set_minor_locator(LogLocator(base=10, subs=[float(s) for s in range(2, 10)]))
    axis.set_minor_formatter(NullFormatter())


ZOOM_ABOVE = 85.0  # accuracy_vs_angle's second panel: the variants whose mean over angles is above this


def angle_bands(r, evidence: Evidence, variant: str) -> tuple[np.ndarray, ...]:
    """Angles (closed at 360°), mean accuracy and its 95% interval at each measured angle."""
    table = r.by_angle().reset_index()
    angles = table[table.variant == variant].sort_values("angle").angle.to_numpy()
    intervals = [evidence.interval(variant, f"{a:g}") for a in angles]
    mean, low, high = (np.array([getattr(i, f) for i in intervals]) for f in ("mean", "low", "high"))
    close = lambda x: np.append(x, x[0])  # noqa: E731 - 360° is 0°
    return np.append(angles, 360.0), close(mean), close(low), close(high)


def angle_figure(r) -> Figure | None:
    """Accuracy against the rotation angle, every variant; beside it, the accurate ones zoomed
    (images only: a run on volumes has no angle sweep)."""
    if not (r.metrics.metric == "acc").any():
        return None
    evidence = Evidence.of(r)
    bands = {v: angle_bands(r, evidence, v) for v in r.variants}
    accurate = [v for v in r.variants if np.nanmean(bands[v][1]) >= ZOOM_ABOVE]
    fig = _figure(14 if accurate else 9, 5)
    axes = fig.subplots(1, 2 if accurate else 1, squeeze=False)[0]
    for ax, shown in zip(axes, (r.variants, accurate), strict=False):
        for v in shown:
            angles, mean, low, high = bands[v]
            style = variant_style(v)
            ax.plot(angles, mean, markersize=4, label=v, **style)
            ax.fill_between(angles, np.nan_to_num(low, nan=mean), np.nan_to_num(high, nan=mean),
                            color=style["color"], alpha=0.2)  # fmt: skip
        for quarter in (0, 90, 180, 270, 360):
            ax.axvline(quarter, color="grey", linestyle=":", linewidth=1)
        ax.set(xlabel="rotation of the test images (degrees)", ylabel="test accuracy (%)", xlim=(0, 360))
        ax.set_xticks(range(0, 361, 45))
    axes[0].set(ylim=(0, 100), title="Accuracy vs rotation angle (dotted: exact 90° multiples)")
    if accurate:
        lows = [np.where(np.isnan(bands[v][2]), bands[v][1], bands[v][2]) for v in accurate]  # 1 seed: mean
        floor = math.floor(min(np.nanmin(low) for low in lows)) - 0.5
        title = f"Zoom: the variants above {ZOOM_ABOVE:.0f}% on average (y from {floor:g}%, not 0)"
        axes[1].set(ylim=(floor, 100), title=title)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right upper", fontsize=8, title="bands: 95% interval")
    return fig


def tradeoff_figure(r) -> Figure | None:
    """Random-angle accuracy (95% interval bars) against parameters and against inference speed."""
    if r.throughput.empty:
        return None
    evidence = Evidence.of(r)
    params = r.scalar("params")
    fig = _figure(12, 4.5)
    axes = fig.subplots(1, 2)
    speeds, counts = [], []
    for v in r.variants:
        if v not in params.index:
            continue
        interval = evidence.interval(v, "random")
        err = [[np.nan_to_num(interval.mean - interval.low)], [np.nan_to_num(interval.high - interval.mean)]]
        style = variant_style(v)
        axes[0].errorbar(params.loc[v, "mean"], interval.mean, yerr=err, capsize=3, label=v, **style)
        counts.append(params.loc[v, "mean"])
        speed = r.infer_throughput(v)
        if speed:
            axes[1].errorbar(speed, interval.mean, yerr=err, capsize=3, label=v, **style)
            speeds.append(speed)
    narrow = counts and max(counts) < 1.25 * min(counts)
    span = f" (all within {_count(min(counts))}–{_count(max(counts))}: one budget)" if narrow else ""
    axes[0].set(xlabel=f"trainable parameters{span}", ylabel="random-angle accuracy (%)",
                title="Random-angle accuracy vs parameters")  # fmt: skip
    axes[0].xaxis.set_major_formatter(FuncFormatter(_count))
    axes[1].set(xlabel="inference throughput at the largest batch (images/s, log scale)", xscale="log",
                ylabel="random-angle accuracy (%)", title="Random-angle accuracy vs speed")  # fmt: skip
    if speeds:
        _log_ticks(axes[1].xaxis, min(speeds), max(speeds))
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right upper", fontsize=8, title="bars: 95% interval")
    return fig


def throughput_figure(r) -> Figure | None:
    t = r.throughput
    if t.empty:
        return None
    fig = _figure(13, 4.5)
    axes = fig.subplots(1, 2)
    colour = colours(r.variants)
    for ax, bench in zip(axes, ("infer", "train"), strict=True):
        rows = t[t.bench == bench]
        series = [(v, f) for v in r.variants for f in rows[rows.variant == v].form.unique()]
        batches = sorted(rows.batch_size.unique())
        width = 0.8 / max(len(series), 1)
        for i, (v, form) in enumerate(series):
            sel = rows[(rows.variant == v) & (rows.form == form)].set_index("batch_size")
            values = [sel.samples_per_s.get(b, np.nan) for b in batches]
            ax.bar(
                np.arange(len(batches)) + i * width,
                values,
                width,
                color=colour[v],
                hatch="//" if form != "native" else None,
                edgecolor="white",
                label=v if form == "native" else f"{v} ({form})",
            )
        ax.set_xticks(np.arange(len(batches)) + 0.4 - width / 2, [str(b) for b in batches])
        ax.set(
            xlabel="batch size",
            ylabel="images/s (log)",
            yscale="log",
            title=f"{'Inference' if bench == 'infer' else 'Training'} throughput "
            f"({rows.device_name.iloc[0] if len(rows) else ''})",
        )
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right upper", fontsize=7)  # beside the bars, not over them
    return fig


def training_figure(r) -> Figure | None:
    """Training loss per epoch, and the validation accuracy curve where the run measured one."""
    h = r.history
    if h.empty:
        return None
    gm = group_measure(r)
    curve_column = gm.curve
    validated = curve_column in h.columns and h[curve_column].notna().any()
    evidence = Evidence.of(r)
    fig = _figure(12 if validated else 7, 4.5)
    axes = fig.subplots(1, 2 if validated else 1, squeeze=False)[0]
    losses = []
    for v in r.variants:
        curve = (
            h[h.variant == v]
            .groupby("epoch")[["loss", *([curve_column] if validated else [])]]
            .agg(["mean", "std"])
        )
        if curve.empty:
            continue
        epochs = curve.index.to_numpy()
        style = variant_style(v)
        axes[0].plot(epochs, curve[("loss", "mean")], label=v, **style)
        losses.extend(curve[("loss", "mean")])
        if validated:
            measured = curve[(curve_column, "mean")].notna().to_numpy()  # a long curve is sparse
            epochs, mean = epochs[measured], curve[(curve_column, "mean")].to_numpy()[measured]
            intervals = [evidence.scores(v, gm.measure, curve_epoch=int(e)) for e in epochs]
            axes[1].plot(epochs, mean, label=v, **style)
            if all(i is not None for i in intervals):
                band = [two_way_interval(i).scaled(100) for i in intervals]
                axes[1].fill_between(epochs, [b.low for b in band], [b.high for b in band],
                                     color=style["color"], alpha=0.2)  # fmt: skip
    # log scale when the loss falls by a factor (a real run); linear over a narrow range (one epoch)
    log = min(losses) > 0 and max(losses) / min(losses) >= 3
    axes[0].set(
        xlabel="epoch",
        ylabel=f"mean training loss (cross-entropy{', log' if log else ''})",
        title="Training loss",
        yscale="log" if log else "linear",
    )
    if validated:
        axes[1].set(
            xlabel="epoch",
            ylabel=f"mean accuracy over {'the 24 rotations' if gm.group == 'O' else '0/90/180/270°'} (%)",
            title=f"{gm.group}-mean validation accuracy (band: 95% interval, where stored per image)",
        )
    last = int(h.epoch.max())
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        if last == int(h.epoch.min()):
            ax.set_xlim(last - 0.5, last + 0.5)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right upper", fontsize=8)  # beside the curves, not over them
    return fig


def digits_figure(r) -> Figure | None:
    """Sample digits at each angle; under each, one cell per variant: light green when it predicted
    the true digit, red with the digit it predicted otherwise."""
    p, s = r.predictions, r.samples
    if p.empty or s.empty:
        return None
    seed = p.seed.min()
    p = p[p.seed == seed]
    angles = sorted(p.angle.unique())
    # six sample images; for digits the pair a C4 model may confuse (6 and 9) among them
    samples = s[s.label.isin(DIGIT_SAMPLES)] if r.digits else s.head(6)
    variants = [v for v in r.variants if v in set(p.variant)]
    guesses = p.drop_duplicates(["index", "angle", "variant"]).set_index(["index", "angle", "variant"])
    guesses = guesses.predicted
    fig = _figure(1.9 * len(angles), 2.2 * len(samples) + 1.6)
    axes = fig.subplots(len(samples), len(angles), squeeze=False)
    fontsize = 8 if len(variants) <= 6 else 7
    channels = int(r.manifest.get("task", {}).get("channels", 1))  # runs before tasks: gray digits
    for i, sample in enumerate(samples.itertuples()):
        pixels = _sample_pixels(sample.pixels_hex, channels)
        for j, angle in enumerate(angles):
            ax = axes[i, j]
            _draw_turned(ax, pixels, float(angle))
            cells = [guesses.get((sample.index, angle, v)) for v in variants]
            named = i == len(samples) - 1  # name the variants under the last row, one per cell
            _draw_guesses(ax, pixels.shape[-1], cells, int(sample.label), variants, fontsize, named)
            if i == 0:
                ax.set_title(f"{angle}°", fontsize=10)
            if j == 0:
                ax.set_ylabel(f"true {r.class_name(int(sample.label))}", fontsize=10 if r.digits else 8)
    _caption_digits(fig, seed)
    return fig


def _sample_pixels(pixels_hex: str, channels: int) -> torch.Tensor:
    """A samples.csv image as a ``(1, channels, side, side)`` float tensor of 0-255 values."""
    raw = np.frombuffer(bytes.fromhex(pixels_hex), dtype=np.uint8)
    side = math.isqrt(raw.size // channels)
    return torch.from_numpy(raw.astype(np.float32).reshape(1, channels, side, side))


def _draw_turned(ax: Axes, pixels: torch.Tensor, angle: float) -> None:
    """The image turned by ``angle``, framed: in colour when it has three channels, else its first
    channel in gray (dark on light, as digits are written)."""
    side = pixels.shape[-1]
    turned = rotate_exact_or_bilinear(pixels, angle)[0]
    if pixels.shape[1] == 3:
        ax.imshow(turned.permute(1, 2, 0).numpy().astype(np.uint8))
    else:  # gray (or a channel count with no colour meaning: its first channel)
        ax.imshow(turned[0].numpy(), cmap="gray_r", vmin=0, vmax=255)
    ax.add_patch(Rectangle((-0.5, -0.5), side, side, fill=False, edgecolor="0.6", linewidth=0.8))


def _draw_guesses(
    ax: Axes, side: int, guesses: list, label: int, variants: list[str], fontsize: int, named: bool
) -> None:
    """Under an image ``side`` pixels wide, one cell per variant with the label it guessed: light
    green when right, red when wrong, grey when none is recorded; ``named``: the variants' names
    under the cells."""
    cell = side / max(len(variants), 1)
    height = min(cell, side / 5)
    top = side - 0.5 + side / 28  # the cells' upper edge, a pixel below the digit
    for k, guess in enumerate(guesses):
        right = guess is not None and int(guess) == label
        face = MISSING if guess is None else RIGHT if right else WRONG
        x0 = -0.5 + k * cell
        ax.add_patch(Rectangle((x0, top), cell, height, facecolor=face, edgecolor="white", linewidth=0.8))
        ax.text(
            x0 + cell / 2,
            top + height / 2,
            "–" if guess is None else str(int(guess)),
            ha="center",
            va="center",
            fontsize=fontsize,
            color="white" if face == WRONG else "black",
            fontweight="bold" if face == WRONG else "normal",
        )
    ax.set_xlim(-0.5, side - 0.5)
    ax.set_ylim(top + height + 0.2, -0.5)
    ax.spines[:].set_visible(False)
    ax.set_yticks([])
    if named:
        centres = [-0.5 + (k + 0.5) * cell for k in range(len(variants))]
        ax.set_xticks(centres, variants, rotation=90, fontsize=fontsize)
        ax.tick_params(axis="x", length=0, pad=2)
    else:
        ax.set_xticks([])


def _caption_digits(fig: Figure, seed: int) -> None:
    """The digits figure's title and its legend of right and wrong cells."""
    fig.suptitle(
        f"Test images rotated, and what each variant predicts (seed {seed}): under each image, one cell "
        "per variant\n(the label it predicted), in the order named at the bottom",
        fontsize=10,
    )
    fig.legend(
        handles=[
            Patch(facecolor=RIGHT, edgecolor="0.6", label="right (the true label)"),
            Patch(facecolor=WRONG, edgecolor="0.6", label="wrong (the label it predicted)"),
        ],
        loc="outside lower center",
        ncols=2,
        fontsize=9,
        frameon=False,
    )


def confusion_figure(r) -> Figure | None:
    c = r.confusion
    if c.empty:
        return None
    c = c[c.condition == "random"]
    variants = [v for v in r.variants if v in set(c.variant)]
    cols = min(len(variants), 4)
    rows_n = -(-len(variants) // cols)
    fig = _figure(4.4 * cols, 4.3 * rows_n + 0.3)
    axes = fig.subplots(rows_n, cols, squeeze=False)
    k = len(r.classes)
    for ax, v in zip(axes.flat, variants, strict=False):
        matrix = np.zeros((k, k))
        for row in c[c.variant == v].itertuples():
            matrix[row.true, row.predicted] += row.count
        matrix = 100 * matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        ax.imshow(matrix, cmap="Blues", vmin=0, vmax=100)
        for t in range(k):
            for q in range(k):
                if matrix[t, q] >= 5 and k <= 12:  # numbers only where they fit
                    ax.text(
                        q,
                        t,
                        f"{matrix[t, q]:.0f}",
                        ha="center",
                        va="center",
                        fontsize=8,
                        color="white" if matrix[t, q] > 50 else "black",
                    )
        ax.set(title=v, xlabel="predicted", ylabel="true", xticks=range(k), yticks=range(k))
        names = [r.class_name(label) for label in range(k)]
        ax.set_xticklabels(names, rotation=0 if r.digits else 90)
        ax.set_yticklabels(names)
        ax.tick_params(labelsize=8 if r.digits else 7)
    for ax in list(axes.flat)[len(variants) :]:
        ax.axis("off")
    fig.suptitle("Confusion at random angles (% of each true class, summed over seeds)", fontsize=11)
    return fig


# file name -> the figure drawn into it (None: the run has no data for it)
FIGURES: dict[str, Callable[..., Figure | None]] = {
    "accuracy_vs_angle.png": angle_figure,
    "accuracy_vs_cost.png": tradeoff_figure,
    "throughput.png": throughput_figure,
    "training_curves.png": training_figure,
    "digit_predictions.png": digits_figure,
    "confusion_random.png": confusion_figure,
}


def write_plots(r) -> list[Path]:
    out = r.dir / "plots"
    out.mkdir(exist_ok=True)
    return [_save(fig, out / name) for name, make in FIGURES.items() if (fig := make(r)) is not None]
