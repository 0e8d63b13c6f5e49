"""Recording finished units: each one's result and weights written, its status in the manifest.

A fault while writing is that unit's failure, not the run's: a result that cannot be written fails
the unit; weights that cannot be written fail it with its metrics kept. Only a full disk stops the
run (every later write would fail too)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from tqdm.auto import tqdm

from suite.atomic import disk_full
from suite.errors import failure_reason
from suite.measure.evaluate import C4_ANGLES
from suite.runs.executors import Finished
from suite.runs.grid import UnitKey
from suite.runs.ledger import RunLedger, log
from suite.runs.unit import UnitOutcome


def record_each(
    ledger: RunLedger, finished: Iterable[Finished], total: int, disable_bar: bool | None
) -> None:
    """Record each unit as its executor hands it back (a worker's crash is that unit's failure),
    counting them on a progress bar of ``total`` units unless ``disable_bar``."""
    bar = tqdm(total=total, desc="units", unit="unit", disable=disable_bar)
    for task, outcome, error in finished:
        if error is not None:
            outcome = UnitOutcome(task.name, 0.0, reason=failure_reason(error, "worker failed: "))
        record(ledger, outcome)
        bar.update(1)
    bar.close()


def record(ledger: RunLedger, outcome: UnitOutcome) -> None:
    """Write a finished unit's result and weights (or its failure) and update the manifest."""
    name = outcome.name
    if outcome.result is None:
        ledger.mark_failed(name, outcome.reason or "unknown", outcome.traceback or "")
        return
    weights_fault = _fault_of(lambda: write_weights(ledger, name, outcome.weights))
    result_fault = _fault_of(lambda: ledger.store.write_unit(name, outcome.result))
    if result_fault:
        ledger.mark_failed(name, f"its result could not be written: {result_fault}")
        return
    if weights_fault:
        ledger.mark_failed(name, f"its weights could not be written ({weights_fault}); its metrics are kept")
        ledger.assemble()
        return
    unit = ledger.mark_done(name, outcome.seconds, len(outcome.result["metrics"]))
    ledger.assemble()
    log(f"{ledger.label(name)}: done in {unit['seconds']:.0f} s: {accuracy_line(outcome.result['metrics'])}")


def _fault_of(write: Callable[[], None]) -> str | None:
    """Run ``write``; None if it worked, else its fault in one line (a full disk is raised)."""
    try:
        write()
    except Exception as exc:  # noqa: BLE001 - recording one unit must not sink the run
        if disk_full(exc):
            raise
        return failure_reason(exc)
    return None


def write_weights(ledger: RunLedger, name: str, weights: dict[str, torch.Tensor] | None) -> None:
    """A unit's trained weights, with its variant, seed, budget and grid point as metadata."""
    if weights is None:
        return
    key = UnitKey.parse(name)
    metadata = {
        "variant": key.variant,
        "seed": str(key.seed),
        "budget": str(ledger.config.budget_for(key)),
        **{axis: str(value) for axis, value in key.point},
    }
    ledger.store.write_weights(name, weights, metadata)


def accuracy_line(metrics: list[dict]) -> str:
    """A finished unit's accuracies for its log line: at each quarter turn (images), or the mean
    and lowest over the cube's rotations (volumes)."""
    values = {(r["metric"], r["angle"]): r["value"] for r in metrics}
    if ("acc_o_mean", "") in values:
        line = f"O mean {values[('acc_o_mean', '')]:.2f}%, O min {values[('acc_o_min', '')]:.2f}%"
        if ("acc_o_mirror_mean", "") in values:  # Oh data: the mirror images too
            line += f", mirrored mean {values[('acc_o_mirror_mean', '')]:.2f}%"
        return line
    accs = {int(angle): v for (metric, angle), v in values.items() if metric == "acc"}
    return ", ".join(f"{a}°={accs[a]:.2f}%" for a in C4_ANGLES)
