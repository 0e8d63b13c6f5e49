"""Ratios the suite reports, computed from throughput rows alone (no torch needed)."""

from __future__ import annotations


def ratios(rows: list[dict]) -> list[dict]:
    """Per variant with a twin and per batch size: inference throughput vs the twin, and the
    training-step overhead of filter expansion (share of the native step time)."""
    out = []
    for variant in dict.fromkeys(r["variant"] for r in rows):
        mine = [r for r in rows if r["variant"] == variant]
        twin_infer = {r["batch_size"]: r for r in mine if r["bench"] == "infer" and r["form"] == "twin"}
        if not twin_infer:
            continue
        for form in ("exported", "native"):  # escnn's exported module when there is one
            infer = {r["batch_size"]: r for r in mine if r["bench"] == "infer" and r["form"] == form}
            common = sorted(set(infer) & set(twin_infer))
            out.extend(
                {
                    "variant": variant,
                    "ratio": f"infer {form} / twin",
                    "batch_size": b,
                    "value": infer[b]["samples_per_s"] / twin_infer[b]["samples_per_s"],
                }
                for b in common
            )
            if common:
                break
        train = {(r["form"], r["batch_size"]): r for r in mine if r["bench"] == "train"}
        for (form, b), row in sorted(train.items()):
            if form == "native" and ("twin", b) in train:
                overhead = 1 - train[("twin", b)]["step_ms"] / row["step_ms"]
                out.append(
                    {
                        "variant": variant,
                        "ratio": "train expansion overhead share",
                        "batch_size": b,
                        "value": overhead,
                    }
                )
    return out


def twin_limits(rows: list[dict]) -> list[dict]:
    """Limit rows (``suite.measure.limits.LIMIT_FIELDS``) for variants with a plain-CNN twin: the
    native form's time per image over its twin's, per bench and batch (1.00 is the limit: an
    expanded group convolution can cost no less than the plain CNN it expands to)."""
    by_key = {(r["variant"], r["bench"], r["form"], r["batch_size"]): r for r in rows}
    out = []
    for (variant, bench, form, batch), twin in by_key.items():
        native = by_key.get((variant, bench, "native", batch))
        if form != "twin" or native is None:
            continue
        out.append({
            "variant": variant, "limit": "plain-CNN twin", "bench": bench, "batch_size": batch,
            "step_ms": native["step_ms"], "limit_step_ms": twin["step_ms"],
            "ratio_to_limit": native["step_ms"] / twin["step_ms"],
            "peak_mem_mb": native.get("peak_mem_mb", ""), "limit_peak_mem_mb": twin.get("peak_mem_mb", ""),
        })  # fmt: skip
    return out


def option_ratios(default_rows: list[dict], option_rows: list[dict]) -> list[dict]:
    """Throughput with the chosen options (bf16, channels-last, compile) over the default, for
    each variant, bench, form and batch measured both ways."""
    key = ("variant", "bench", "form", "batch_size")
    default = {tuple(r[k] for k in key): r for r in default_rows}
    out = []
    for row in option_rows:
        base = default.get(tuple(row[k] for k in key))
        if base is not None:
            out.append({**{k: row[k] for k in key}, "value": row["samples_per_s"] / base["samples_per_s"]})
    return out
