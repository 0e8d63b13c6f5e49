"""``suite tune``'s search: Optuna proposes each variant's trials, the suite's own units train them.

Each trial is one unit (variant, seed 0, lr, weight decay, schedule) on the validation split,
trained through the run's executor (here or as Ray tasks) in *rungs* of one measured epoch: the unit
trains to the rung and hands back its validation curve so far; the driver (this process) reports
each epoch's validation C4 mean to the trial and either prunes it (Optuna's MedianPruner) or
continues the same unit from its checkpoint, which the run directory keeps (a rung on Ray gets it
with its task and hands the new one back: workers share no filesystem). A trial that reaches its
last epoch is measured and recorded like any unit.

The studies live in ``optuna.journal`` in the run directory: Optuna's journal storage, a file of
JSON lines, so resuming reads plain JSON and unpickles nothing. Resuming continues the trials left
running from their checkpoints and asks only for the trials still missing; a finished unit is
never trained again.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import optuna
import torch

from suite.atomic import write_atomic, write_csv_atomic
from suite.data.images import ImageData
from suite.runs.dispatch import train_here, train_on_ray, unit_task
from suite.runs.executors import Finished, RayExecutor, RaySettings
from suite.runs.grid import UnitKey
from suite.runs.ledger import RunLedger, log
from suite.runs.recording import record
from suite.runs.store import SEARCH_FILES
from suite.runs.unit import UnitOutcome, curve_epoch
from suite.training.schedules import SCHEDULES

AXES = ("lr", "weight_decay", "schedule")
LR_RANGE = (1e-4, 3e-2)  # log-uniform
WEIGHT_DECAYS = (0.0, 0.01, 0.1)  # none, the tutorial's, strong: AdamW's decay matters in decades
JOURNAL = SEARCH_FILES[0]  # "optuna.journal"
TRIAL_FIELDS = ("variant", "trial", "unit", *AXES, "state", "epochs", "val_c4_mean", "reason")


def search_settings(
    trials: int, sampler_seed: int = 0, startup: int = 3, finalists: int = 3, finalist_seeds: int = 3
) -> dict:
    """What a search records in its config (a resume repeats it): the space, the sampler, the
    pruner, and how many of each variant's best trials re-run at how many seeds (the finalists)."""
    return {
        "axes": list(AXES), "trials": trials, "lr": list(LR_RANGE), "weight_decay": list(WEIGHT_DECAYS),
        "schedule": list(SCHEDULES), "sampler_seed": sampler_seed, "startup_trials": startup,
        "finalists": finalists, "finalist_seeds": finalist_seeds,
    }  # fmt: skip


def open_study(out: Path, variant: str, search: dict) -> optuna.Study:
    """The variant's study in the run directory's journal (created, or loaded to resume)."""
    with warnings.catch_warnings():  # the file backend is marked experimental in some versions
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        storage = optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(out / JOURNAL))
        )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        storage=storage, study_name=variant, direction="maximize", load_if_exists=True,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=search["startup_trials"], n_warmup_steps=0),
    )  # fmt: skip
    # A resumed sampler starts a fresh random stream: seeded past the trials it has, or it would
    # propose the first trials' points again. A fresh study's seed is the recorded one.
    study.sampler = optuna.samplers.TPESampler(seed=search["sampler_seed"] + len(study.trials))
    return study


def unit_name(variant: str, params: dict, seed: int = 0) -> str:
    point = (("lr", float(params["lr"])), ("weight_decay", float(params["weight_decay"])),
             ("schedule", params["schedule"]))  # fmt: skip
    return UnitKey(variant, seed, point).name


def finalist_trials(study: optuna.Study, count: int) -> list[optuna.trial.FrozenTrial]:
    """The ``count`` best finished trials (pruned and failed ones excluded), best first; equal
    values keep the trials' order, so a resume picks the same ones."""
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return sorted(done, key=lambda t: -t.value)[:count]


def ask(study: optuna.Study, search: dict) -> optuna.Trial:
    trial = study.ask()
    trial.suggest_float("lr", *search["lr"], log=True)
    trial.suggest_categorical("weight_decay", search["weight_decay"])
    trial.suggest_categorical("schedule", search["schedule"])
    return trial


class Search:
    """One tune's trials: asks, trains rungs through the executor, reports, prunes, records."""

    def __init__(self, ledger: RunLedger, data: ImageData, device: torch.device, ray: RaySettings | None,
                 progress: bool):  # fmt: skip
        self.ledger, self.data, self.device, self.ray, self.progress = ledger, data, device, ray, progress
        self.search = ledger.config.search
        self.studies: dict[str, optuna.Study] = {}

    def run(self) -> None:
        self.ledger.manifest["tuner"] = {
            "library": "optuna", "version": optuna.__version__, "storage": f"{JOURNAL} (JSON lines)",
            "sampler": f"TPESampler(seed={self.search['sampler_seed']})",
            "pruner": f"MedianPruner(n_startup_trials={self.search['startup_trials']}), every epoch",
        }  # fmt: skip
        with self._executor() as (width, train):
            for variant in self.ledger.config.variants:
                self.studies[variant] = open_study(self.ledger.out, variant, self.search)
                self._variant(self.studies[variant], variant, width, train)
                run_finalists(self.ledger, self.studies[variant], variant, train)
        self.write_trials()

    @contextmanager
    def _executor(self) -> Iterator[tuple[int, Callable[[list], Iterable[Finished]]]]:
        """How many trials train at once, and how a list of rung tasks is trained."""
        if self.ray is None:
            here = self.data.to(self.device)
            yield 1, lambda tasks: train_here(self.ledger, tasks, here, self.device, self.progress)
            return
        executor = RayExecutor(self.ray)
        threads = self.ledger.config.threads or max(1, int(self.ray.cpus_per_unit))
        with executor.held() as width:
            yield width, lambda tasks: train_on_ray(self.ledger, tasks, executor, self.device, threads)

    def _variant(self, study: optuna.Study, variant: str, width: int, train: Callable) -> None:
        """The variant's trials, ``width`` at a time: the ones left running first, then new ones.
        A trial whose unit finished before an interruption takes its recorded result."""
        live = []
        for left in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            if set(AXES) <= set(left.params):  # else stopped between asking and its suggestions
                live.append(optuna.Trial(study, left._trial_id))
            else:
                study.tell(left.number, state=optuna.trial.TrialState.FAIL)
        while True:
            while len(live) < width and len(study.trials) < self.search["trials"]:
                live.append(self._new_trial(study, variant))
            if not live:
                return
            tasks = {unit_name(variant, t.params): t for t in live}
            live = [t for name, t in tasks.items() if not self._settle_finished(study, t, name)]
            rungs = [self._rung(name, trial) for name, trial in tasks.items() if trial in live]
            for task, outcome, error in train(rungs) if rungs else ():
                if self._settle(study, tasks[task.name], task.name, outcome, error):
                    live.remove(tasks[task.name])
            self.write_trials()

    def _new_trial(self, study: optuna.Study, variant: str) -> optuna.Trial:
        trial = ask(study, self.search)
        name = unit_name(variant, trial.params)
        self.ledger.manifest["units"].setdefault(name, {"status": "pending"})["trial"] = trial.number
        self.ledger.save_manifest()
        return trial

    def _rung(self, name: str, trial: optuna.Trial):  # noqa: ANN202 - a UnitTask
        """The unit's next rung: to the next epoch its curve measures (its checkpoint goes along on Ray)."""
        task = unit_task(self.ledger, name)
        last = self.ledger.config.recipe_for(task.key).epochs
        done = max(trial.storage.get_trial(trial._trial_id).intermediate_values, default=0)
        stop = next(e for e in range(int(done) + 1, last + 1) if curve_epoch(e, last))
        checkpoint = Path(task.checkpoint)
        resume = checkpoint.read_bytes() if self.ray is not None and checkpoint.is_file() else None
        return replace(task, stop_after=stop, resume=resume)

    def _settle(self, study: optuna.Study, trial: optuna.Trial, name: str, outcome: UnitOutcome | None,
                error: BaseException | None) -> bool:  # fmt: skip
        """Take a rung's outcome: report its epochs, then prune, continue or finish; True when over."""
        if error is not None or outcome is None or outcome.result is None:
            reason = f"worker failed: {error}" if error is not None else getattr(outcome, "reason", None)
            self.ledger.mark_failed(name, reason or "unknown", getattr(outcome, "traceback", None) or "")
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            return True
        reported = report_epochs(trial, outcome.result["history"])
        if not outcome.result.get("partial"):
            record(self.ledger, outcome)
            study.tell(trial, final_value(outcome.result))
            return True
        if outcome.checkpoint is not None:  # from a Ray worker: the run directory keeps it
            path, state = self.ledger.store.checkpoint_path(name), outcome.checkpoint
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, lambda tmp: Path(tmp).write_bytes(state))
        if not trial.should_prune():
            return False
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        self.ledger.manifest["units"][name].update(status="pruned", epochs=reported)
        self.ledger.save_manifest()
        log(f"{self.ledger.label(name)}: pruned after {reported} epoch(s)")
        return True

    def _settle_finished(self, study: optuna.Study, trial: optuna.Trial, name: str) -> bool:
        """A trial whose unit finished before an interruption: its recorded result, not trained again."""
        if not self.ledger.store.has_unit(name):
            return False
        result = self.ledger.store.read_unit(name)
        report_epochs(trial, result.get("history", []))
        study.tell(trial, final_value(result))
        return True

    def write_trials(self) -> None:
        """``trials.csv``: every trial of every variant, its state and how far it trained."""
        units = self.ledger.manifest["units"]
        rows = [trial_row(v, t) for v, study in self.studies.items() for t in study.get_trials(deepcopy=False)
                if set(AXES) <= set(t.params)]  # fmt: skip
        for row in rows:
            row["reason"] = units.get(row["unit"], {}).get("reason", "")
        write_csv_atomic(self.ledger.out / "trials.csv", rows, TRIAL_FIELDS)


def run_finalists(ledger: RunLedger, study: optuna.Study, variant: str, train: Callable) -> None:
    """Re-run the best trials at more seeds as ordinary units (seed 0 is the trial's own unit,
    kept); the manifest names each finalist's seed-0 unit, in order, for the report."""
    search = ledger.config.search
    chosen = finalist_trials(study, search.get("finalists", 0))
    named = [unit_name(variant, t.params) for t in chosen]
    ledger.manifest.setdefault("finalists", {})[variant] = named
    seeds = range(1, search.get("finalist_seeds", 1))
    names = [unit_name(variant, t.params, s) for t in chosen for s in seeds]
    names = [n for n in names if not ledger.store.has_unit(n)]
    for name in names:
        ledger.manifest["units"].setdefault(name, {})["status"] = "pending"
    ledger.save_manifest()
    if names:
        log(f"{variant}: {len(chosen)} finalist(s), {len(names)} unit(s) at more seeds")
    for task, outcome, error in train([unit_task(ledger, n) for n in names]) if names else ():
        if error is None and outcome is not None:
            record(ledger, outcome)  # a failure inside the unit is recorded as failed there
        else:
            ledger.mark_failed(task.name, f"worker failed: {error}")


def report_epochs(trial: optuna.Trial, history: list[dict]) -> int:
    """Report each epoch's validation C4 mean to ``trial`` (once); returns the last epoch trained."""
    known = trial.storage.get_trial(trial._trial_id).intermediate_values
    for row in history:
        if row["epoch"] not in known and curve_value(row) is not None:
            trial.report(curve_value(row), row["epoch"])
    return max([row["epoch"] for row in history], default=0)


def curve_value(row: dict) -> float | None:
    return row.get("val_acc_c4_mean", row.get("val_acc_o_mean"))


def final_value(result: dict) -> float:
    """A finished trial's value: its validation C4 (or O) mean as the unit measured it."""
    values = {r["metric"]: r["value"] for r in result["metrics"]}
    return float(values.get("acc_c4_mean", values.get("acc_o_mean")))


def trial_row(variant: str, trial: optuna.trial.FrozenTrial) -> dict:
    state = trial.state.name.lower()
    steps = trial.intermediate_values
    value = trial.value if trial.value is not None else steps[max(steps)] if steps else None
    name = unit_name(variant, trial.params)  # the values as the unit trains them (lr to 6 digits)
    return {
        "variant": variant, "trial": trial.number, "unit": name, **dict(UnitKey.parse(name).point),
        "state": state, "epochs": max(steps, default=0),
        "val_c4_mean": None if value is None else round(value, 4), "reason": "",
    }  # fmt: skip


def run_search(
    ledger: RunLedger, data: ImageData, device: torch.device, ray: RaySettings | None, progress: bool
) -> None:
    """Train a tune's trials (``ledger.config.search``) until each variant has its number."""
    Search(ledger, data, device, ray, progress).run()
