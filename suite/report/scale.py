"""Whether a run trains at the scale its tuned recipe was chosen at (training images × epochs).

A tuned table records the scale of its search; a run or study more than ``FACTOR``× away from it in
either training-set size or epochs says so in one line, since a rate chosen for 10,000 images × 5
epochs need not be the best for 60,000 × 10. Tables that record no scale say nothing.
"""

from __future__ import annotations

import math

FACTOR = 2.0


def run_scale(manifest: dict, variant: str) -> tuple[list[int], list[int]]:
    """The training-set sizes and epochs a variant's units train at, from the manifest's config."""
    config = manifest.get("config", {})
    grid = config.get("grid") or {}
    whole = manifest.get("train_digits")
    sizes = [int(s) for s in grid.get("train_size", [])] or [config.get("train_size") or whole]
    sizes = [min(s, whole) if whole and s else s for s in sizes]
    epochs = (config.get("epochs_by_variant") or {}).get(variant) or config.get("recipe", {}).get("epochs")
    every = [int(e) for e in grid.get("epochs", [])] or [epochs]
    least = config.get("min_images_seen")
    pairs = [(s, max(e, math.ceil(least / s)) if least and s else e) for s in sizes for e in every]
    return [s for s, _ in pairs if s], [e for _, e in pairs if e]


def off(value: float, tuned: float) -> bool:
    return value > FACTOR * tuned or value * FACTOR < tuned


def scale_line(manifest: dict) -> str | None:
    """One line naming the variants trained more than ``FACTOR``× away from their tuning scale."""
    scales = manifest.get("config", {}).get("tuned_scale") or {}
    away, tuned_at = [], set()
    for variant, scale in scales.items():
        sizes, epochs = run_scale(manifest, variant)
        images, length = scale.get("train_images"), scale.get("epochs")
        off_size = images and any(off(s, images) for s in sizes)
        if off_size or (length and any(off(e, length) for e in epochs)):
            away.append(f"`{variant}`")
            tuned_at.add(f"{images:,} images × {length} epochs")
    if not away:
        return None
    sizes, epochs = run_scale(manifest, next(iter(scales)))
    images_here = "–".join(f"{s:,}" for s in sorted(set(sizes)))
    here = f"{images_here} images × {'–'.join(map(str, sorted(set(epochs))))}"
    return (
        f"Scale: the tuned recipe of {', '.join(away)} was chosen at {' / '.join(sorted(tuned_at))}; this "
        f"run trains at {here} epochs, more than {FACTOR:g}× away: its values may not be the best here."
    )
