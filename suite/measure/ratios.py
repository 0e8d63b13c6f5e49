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
