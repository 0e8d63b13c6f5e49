"""Matplotlib figures from a run's CSVs: one colour per variant, titled, units on every axis."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from suite.atomic import write_atomic  # noqa: E402

_PALETTE = plt.get_cmap("tab10").colors


def colours(variants: list[str]) -> dict[str, tuple]:
    """A stable colour per variant: its position in the run's variant order."""
    return {v: _PALETTE[i % len(_PALETTE)] for i, v in enumerate(variants)}


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
    plt.close(fig)
    return path


def angle_plot(r, out: Path) -> Path:
    table = r.by_angle().reset_index()
    colour = colours(r.variants)
    fig, ax = plt.subplots(figsize=(9, 5))
    for v in r.variants:
        rows = table[table.variant == v].sort_values("angle")
        angles = np.append(rows.angle.to_numpy(), 360.0)
        mean = np.append(rows["mean"].to_numpy(), rows["mean"].iloc[0])
        std = np.nan_to_num(np.append(rows["std"].to_numpy(), rows["std"].iloc[0]))
        ax.plot(angles, mean, marker=".", color=colour[v], label=v)
        ax.fill_between(angles, mean - std, mean + std, color=colour[v], alpha=0.2)
    for quarter in (0, 90, 180, 270, 360):
        ax.axvline(quarter, color="grey", linestyle=":", linewidth=1)
    ax.set(
        xlabel="rotation of the test digits (degrees)",
        ylabel="test accuracy (%)",
        title="Accuracy vs rotation angle (dotted: exact 90° multiples; band: ± std over seeds)",
        xlim=(0, 360),
        ylim=(0, 100),
    )
    ax.set_xticks(range(0, 361, 45))
    ax.legend(loc="lower left", fontsize=8)
    return _save(fig, out / "accuracy_vs_angle.png")


def tradeoff_plot(r, out: Path) -> Path | None:
    if r.throughput.empty:
        return None
    acc = r.scalar("acc_random")
    params = r.scalar("params")
    colour = colours(r.variants)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for v in r.variants:
        if v not in acc.index:
            continue
        speed = r.infer_throughput(v)
        y, err = acc.loc[v, "mean"], np.nan_to_num(acc.loc[v, "std"])
        axes[0].errorbar(params.loc[v, "mean"], y, yerr=err, fmt="o", color=colour[v], label=v)
        if speed:
            axes[1].errorbar(speed, y, yerr=err, fmt="o", color=colour[v], label=v)
    axes[0].set(
        xlabel="trainable parameters",
        ylabel="random-angle accuracy (%)",
        title="Random-angle accuracy vs parameters",
    )
    axes[1].set(
        xlabel="inference throughput at the largest batch (images/s, log)",
        ylabel="random-angle accuracy (%)",
        title="Random-angle accuracy vs speed",
        xscale="log",
    )
    axes[0].legend(fontsize=8)
    return _save(fig, out / "accuracy_vs_cost.png")


def throughput_plot(r, out: Path) -> Path | None:
    t = r.throughput
    if t.empty:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
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
    axes[0].legend(fontsize=7)
    return _save(fig, out / "throughput.png")


def training_plot(r, out: Path) -> Path | None:
    h = r.history.dropna(subset=["acc_c4_mean"]) if not r.history.empty else r.history
    if h.empty:
        return None
    colour = colours(r.variants)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for v in r.variants:
        curve = h[h.variant == v].groupby("epoch")[["loss", "acc_c4_mean"]].agg(["mean", "std"])
        if curve.empty:
            continue
        epochs = curve.index.to_numpy()
        axes[0].plot(epochs, curve[("loss", "mean")], marker="o", color=colour[v], label=v)
        mean, std = curve[("acc_c4_mean", "mean")], np.nan_to_num(curve[("acc_c4_mean", "std")])
        axes[1].plot(epochs, mean, marker="o", color=colour[v], label=v)
        axes[1].fill_between(epochs, mean - std, mean + std, color=colour[v], alpha=0.2)
    axes[0].set(
        xlabel="epoch", ylabel="mean training loss (cross-entropy)", title="Training loss", yscale="log"
    )
    axes[1].set(
        xlabel="epoch",
        ylabel="C4-mean test accuracy (%)",
        title="Accuracy over 0/90/180/270° during training (first 2,000 test digits)",
    )
    axes[0].legend(fontsize=8)
    return _save(fig, out / "training_curves.png")


def _rotate_bilinear(image: np.ndarray, degrees: float) -> np.ndarray:
    """Counter-clockwise rotation about the centre (for display only), bilinear, zeros outside."""
    n = image.shape[0]
    c = (n - 1) / 2
    theta = np.deg2rad(degrees)
    yy, xx = np.mgrid[0:n, 0:n].astype(float)
    x_src = np.cos(theta) * (xx - c) - np.sin(theta) * (yy - c) + c
    y_src = np.sin(theta) * (xx - c) + np.cos(theta) * (yy - c) + c
    x0, y0 = np.floor(x_src).astype(int), np.floor(y_src).astype(int)
    out = np.zeros_like(image, dtype=float)
    for dy in (0, 1):
        for dx in (0, 1):
            xi, yi = x0 + dx, y0 + dy
            w = (1 - np.abs(x_src - xi)) * (1 - np.abs(y_src - yi))
            ok = (xi >= 0) & (xi < n) & (yi >= 0) & (yi < n)
            out[ok] += w[ok] * image[yi[ok], xi[ok]]
    return out


def digits_plot(r, out: Path) -> Path | None:
    p, s = r.predictions, r.samples
    if p.empty or s.empty:
        return None
    p = p[p.seed == p.seed.min()]
    angles = sorted(p.angle.unique())
    samples = s.head(6)
    variants = [v for v in r.variants if v in set(p.variant)]
    fig, axes = plt.subplots(len(samples), len(angles), figsize=(1.9 * len(angles), 2.1 * len(samples)))
    axes = np.atleast_2d(axes)
    for i, sample in enumerate(samples.itertuples()):
        pixels = np.frombuffer(bytes.fromhex(sample.pixels_hex), dtype=np.uint8).reshape(28, 28)
        for j, angle in enumerate(angles):
            ax = axes[i, j]
            ax.imshow(_rotate_bilinear(pixels.astype(float), angle), cmap="gray_r", vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            rows = p[(p["index"] == sample.index) & (p.angle == angle)].set_index("variant")
            text = " ".join(str(int(rows.predicted.get(v, -1))) for v in variants)
            ax.set_xlabel(text, fontsize=6)
            if i == 0:
                ax.set_title(f"{angle}°", fontsize=9)
            if j == 0:
                ax.set_ylabel(f"true {sample.label}", fontsize=9)
    fig.suptitle(
        "Test digits rotated; under each, the predictions of: "
        + ", ".join(variants)
        + f" (seed {p.seed.min()})",
        fontsize=8,
    )
    return _save(fig, out / "digit_predictions.png")


def confusion_plot(r, out: Path) -> Path | None:
    c = r.confusion
    if c.empty:
        return None
    c = c[c.condition == "random"]
    variants = [v for v in r.variants if v in set(c.variant)]
    cols = min(len(variants), 4)
    rows_n = -(-len(variants) // cols)
    fig, axes = plt.subplots(rows_n, cols, figsize=(3.4 * cols, 3.3 * rows_n), squeeze=False)
    for ax, v in zip(axes.flat, variants, strict=False):
        matrix = np.zeros((10, 10))
        for row in c[c.variant == v].itertuples():
            matrix[row.true, row.predicted] += row.count
        matrix = 100 * matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        ax.imshow(matrix, cmap="Blues", vmin=0, vmax=100)
        for t in range(10):
            for q in range(10):
                if matrix[t, q] >= 5:
                    ax.text(
                        q,
                        t,
                        f"{matrix[t, q]:.0f}",
                        ha="center",
                        va="center",
                        fontsize=6,
                        color="white" if matrix[t, q] > 50 else "black",
                    )
        ax.set(title=v, xlabel="predicted digit", ylabel="true digit", xticks=range(10), yticks=range(10))
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(variants) :]:
        ax.axis("off")
    fig.suptitle(
        "Confusion at random angles (% of each true digit, summed over seeds)",
        fontsize=9,
    )
    return _save(fig, out / "confusion_random.png")


def write_plots(r) -> list[Path]:
    out = r.dir / "plots"
    out.mkdir(exist_ok=True)
    makers = (angle_plot, tradeoff_plot, throughput_plot, training_plot, digits_plot, confusion_plot)
    return [path for make in makers if (path := make(r, out)) is not None]
