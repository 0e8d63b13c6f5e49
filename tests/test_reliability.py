"""Bad input → one line; failures isolated; interrupted runs resume to the same numbers."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli import run_main

ROOT = Path(__file__).resolve().parents[1]
SMOKE = [
    "run",
    "--profile",
    "smoke",
    "--no-progress",
    "--no-bench",
    "--no-plots",
    "--variants",
    "cnn,gcnn-c4",
    "--epochs",
    "3",
]


def suite(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "suite.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
    )


def accuracy_rows(run_dir: Path) -> list[tuple]:
    with open(run_dir / "metrics.csv") as handle:
        return [
            (r["variant"], r["seed"], r["metric"], r["angle"], r["value"])
            for r in csv.DictReader(handle)
            if r["metric"].startswith("acc") or r["metric"] == "invariance_err"
        ]


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["run", "--variants", "nope"], 2, "unknown variant 'nope'; known variants: "),
        (["run", "--profile", "huge"], 2, "unknown profile 'huge'"),
        (["run", "--epochs", "0"], 2, "--epochs: expected a positive integer, got 0"),
        (["run", "--batch-size", "-3"], 2, "--batch-size: expected a positive integer"),
        (["run", "--seeds", "x"], 2, "--seeds: expected a positive integer, got 'x'"),
        (["run", "--angles", "0:360:0"], 2, "--angles '0:360:0'"),
        (["run", "--budget", "lots"], 2, "--budget 'lots'"),
        (["run", "--data-dir", "/nonexistent-dir"], 1, "--data-dir /nonexistent-dir: no such directory"),
        (["plot", "/nonexistent-dir"], 1, "no such run directory"),
        (["list", "--plugin", "/nonexistent.py"], 1, "--plugin /nonexistent.py: no such file"),
    ],
)
def test_bad_input_gives_one_line_and_an_exit_code(args, code, fragment, capsys):
    returned, stderr = run_main(capsys, *args)
    assert returned == code, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], stderr
    assert "Traceback" not in stderr


@pytest.mark.subprocess
def test_bad_input_from_a_real_process_has_no_traceback():
    done = suite("run", "--variants", "nope")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]


def test_cuda_request_matches_the_machine(capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # as on a CPU-only machine
    code, stderr = run_main(capsys, "run", "--device", "cuda", "--profile", "smoke")
    assert code == 2 and "no CUDA GPU" in stderr and len(stderr.strip().splitlines()) == 1


def test_incomplete_data_dir_and_unwritable_out(tmp_path, capsys):
    (tmp_path / "MNIST" / "raw").mkdir(parents=True)
    code, stderr = run_main(capsys, "run", "--profile", "smoke", "--data-dir", str(tmp_path))
    assert code == 1 and "train-images-idx3-ubyte" in stderr
    assert not (tmp_path / "results").exists()
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, stderr = run_main(capsys, "run", "--profile", "smoke", "--out", str(blocker / "run"))
    assert code == 1 and "--out" in stderr and "not writable" in stderr
    assert len(stderr.strip().splitlines()) == 1


def test_checksum_mismatch_in_data_dir(tmp_path, capsys, mnist):
    from suite.data.idx import IDX_FILES as _IDX_FILES
    from tests.test_data import _arrays, _write_idx

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    arrays = _arrays(mnist)
    arrays["train_y"] = arrays["train_y"].copy()
    arrays["train_y"][0] = (arrays["train_y"][0] + 1) % 10
    for key, stem in _IDX_FILES.items():
        _write_idx(raw / stem, arrays[key], gz=False)
    code, stderr = run_main(capsys, "run", "--profile", "smoke", "--data-dir", str(tmp_path))
    assert code == 1 and "SHA-256" in stderr and len(stderr.strip().splitlines()) == 1


def test_plot_on_a_directory_without_results(tmp_path, capsys):
    code, stderr = run_main(capsys, "plot", str(tmp_path))
    assert code == 1 and "no metrics.csv" in stderr


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "run"
    done = suite(*SMOKE, "--out", str(out))
    assert done.returncode == 0, done.stderr
    return out


@pytest.mark.subprocess
def test_existing_run_directory_is_refused_without_resume_or_force(reference):
    done = suite(*SMOKE, "--out", str(reference))
    assert done.returncode == 1 and "--resume" in done.stderr and "--force" in done.stderr


INTERRUPTER = """
import os, signal
from pathlib import Path

# A shell starts background jobs with SIGINT ignored, and Python then installs no handler:
# restore Python's own, so the SIGINT below is a KeyboardInterrupt however the tests are started.
signal.signal(signal.SIGINT, signal.default_int_handler)

from models.planar._layers import PlainCNN
from suite.registry import register

MARK = Path(__file__).with_suffix(".interrupted")


class InterruptsOnce(PlainCNN):
    def forward(self, x):
        if self.training and not MARK.exists():  # its first training step, in the first run only
            MARK.touch()
            os.kill(os.getpid(), signal.SIGINT)  # a real SIGINT, at a known point of the run
        return super().forward(x)


@register("interrupts-once", description="Ctrl-C to its own run in its first training step", family="plugin")
def build(budget=None):
    return InterruptsOnce()
"""


@pytest.mark.subprocess
def test_sigint_then_resume_equals_an_uninterrupted_run(reference, tmp_path):
    """A real SIGINT in the middle of a run (sent by a plugin variant in its first training step,
    so the moment is certain): exit 130 with the resume hint; the resume trains only what is
    missing and gives the reference's numbers. Units trained in two other processes equal the
    reference bit for bit, so this is also the same-seed determinism check."""
    plugin = tmp_path / "interrupter.py"
    plugin.write_text(INTERRUPTER)
    out = tmp_path / "interrupted"
    variants = ["--variants", "cnn,interrupts-once,gcnn-c4", "--plugin", str(plugin)]
    stopped = suite(*SMOKE, *variants, "--out", str(out))
    assert stopped.returncode == 130, stopped.stderr
    assert "suite run --resume" in stopped.stderr and "Traceback" not in stopped.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["units"]["cnn__seed0"]["status"] == "done"
    assert manifest["units"]["interrupts-once__seed0"]["status"] in ("pending", "running")
    assert manifest["units"]["gcnn-c4__seed0"]["status"] == "pending"
    interrupted_after = manifest["wall_s"]
    done = suite("run", "--resume", str(out), "--plugin", str(plugin), "--no-plots")  # executes nothing
    assert done.returncode == 0, done.stderr
    assert "cnn seed 0" not in done.stderr  # the finished unit is not trained again
    assert json.loads((out / "manifest.json").read_text())["wall_s"] > interrupted_after > 0
    resumed = [row for row in accuracy_rows(out) if row[0] != "interrupts-once"]
    assert resumed == accuracy_rows(reference)


@pytest.mark.subprocess
def test_checkpoint_resumes_mid_variant(reference, tmp_path):
    """A unit killed after an epoch continues from its checkpoint to the same numbers."""
    import shutil

    out = tmp_path / "partial"
    shutil.copytree(reference, out)
    manifest = json.loads((out / "manifest.json").read_text())
    # Roll gcnn-c4 back to "killed after epoch 1": keep only an epoch-1 checkpoint.
    (out / "units" / "train" / "gcnn-c4__seed0.json").unlink()
    manifest["units"]["gcnn-c4__seed0"]["status"] = "running"
    (out / "manifest.json").write_text(json.dumps(manifest))
    one_epoch = [*SMOKE[:-4], "--variants", "gcnn-c4", "--epochs", "1"]  # the unit whose checkpoint is used
    done = suite(*one_epoch, "--out", str(tmp_path / "one-epoch"))
    assert done.returncode == 0, done.stderr
    shutil.copy(
        tmp_path / "one-epoch" / "checkpoints" / "gcnn-c4__seed0.pt",
        out / "checkpoints" / "gcnn-c4__seed0.pt",
    )
    done = suite("run", "--resume", str(out), "--no-plots")
    assert done.returncode == 0, done.stderr
    assert accuracy_rows(out) == accuracy_rows(reference)

    def epoch_seconds(run_dir):
        with open(run_dir / "history.csv") as handle:
            return {(r["variant"], r["epoch"]): r["epoch_s"] for r in csv.DictReader(handle)}

    # Epoch 1 was restored from the one-epoch run's checkpoint, not trained again.
    restored = epoch_seconds(out)[("gcnn-c4", "1")]
    assert restored == epoch_seconds(tmp_path / "one-epoch")[("gcnn-c4", "1")]


NAN_PLUGIN = """
import os
from pathlib import Path

import torch
from suite.registry import register


class Exploding(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(1))

    def forward(self, x):
        if "RAY_RAYLET_PID" in os.environ:  # in a Ray worker: say at which priority it runs
            Path(__file__).with_suffix(".niceness").write_text(str(os.nice(0)))
        return torch.nn.functional.avg_pool2d(x, 28).flatten(1).repeat(1, 10) * self.scale / 0.0


@register("nan-test", description="produces NaN logits", family="plugin")
def nan_test(budget=None):
    return Exploding()
"""


def test_a_nan_variant_fails_alone(tmp_path, capsys):
    plugin = tmp_path / "nan_plugin.py"
    plugin.write_text(NAN_PLUGIN)
    out = tmp_path / "run"
    quick = ["--profile", "smoke", "--no-progress", "--no-bench", "--no-plots"]
    code, stderr = run_main(capsys, "run", *quick, "--plugin", str(plugin), "--variants", "nan-test,cnn",
                            "--out", str(out))  # fmt: skip
    assert code == 1, stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["units"]["nan-test__seed0"]["status"] == "failed"
    assert "loss became nan" in manifest["units"]["nan-test__seed0"]["reason"]
    assert manifest["units"]["cnn__seed0"]["status"] == "done"
    assert {r[0] for r in accuracy_rows(out)} == {"cnn"}
    assert "nan-test" in (out / "summary.md").read_text()  # reported as failed


@pytest.mark.subprocess
def test_checkpoints_load_without_executing_code(reference):
    import torch

    state = torch.load(reference / "checkpoints" / "cnn__seed0.pt", weights_only=True)
    assert state["epochs_done"] == 3 and len(state["history"]) == 3


@pytest.mark.subprocess
def test_parallel_workers_match_a_serial_run_and_isolate_failures(reference, tmp_path):
    """--executor ray with default options trains units as tasks of a local Ray instance (plugins
    loaded there too) on the run's recorded thread count: the serial run's accuracy rows exactly,
    and a unit that fails leaves the others done. (--jobs N, its shorthand: tests/test_runs.py)"""
    plugin = tmp_path / "nan_plugin.py"
    plugin.write_text(NAN_PLUGIN)
    out = tmp_path / "parallel"
    args = [*SMOKE[:-4], "--variants", "nan-test,cnn", *SMOKE[-2:]]
    done = suite(*args, "--plugin", str(plugin), "--executor", "ray", "--out", str(out))
    assert done.returncode == 1, done.stderr
    assert "as Ray tasks" in done.stderr and "local Ray instance on 127.0.0.2" in done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["units"]["nan-test__seed0"]["status"] == "failed"
    assert "loss became nan" in manifest["units"]["nan-test__seed0"]["reason"]
    serial = json.loads((reference / "manifest.json").read_text())["config"]["threads"]
    assert manifest["config"]["threads"] == serial  # the default: the same count on either executor
    # a local instance's workers run at the driver's priority, not Ray's default nice 15 (at which
    # they yield the CPU to any other work, and a serial run would not)
    assert plugin.with_suffix(".niceness").read_text() == str(os.nice(0))

    def accuracies(run_dir):
        return [row for row in accuracy_rows(run_dir) if row[2].startswith("acc")]

    assert accuracies(out) == [row for row in accuracies(reference) if row[0] == "cnn"]


TERMINATOR = """
import os, signal
from pathlib import Path

from models.planar._layers import PlainCNN
from suite.registry import register

MARK = Path(__file__).with_suffix(".terminated")


class TerminatedOnce(PlainCNN):
    def forward(self, x):
        if self.training and not MARK.exists():  # its first training step, in the first run only
            MARK.touch()
            os.kill(os.getpid(), signal.SIGTERM)  # as `timeout`, `kill` or a batch system's limit
        return super().forward(x)


@register("terminated-once", description="SIGTERM to its own run in its first training step", family="plugin")
def build(budget=None):
    return TerminatedOnce()
"""


def test_sigterm_stops_a_run_as_ctrl_c_does_and_it_resumes(tmp_path, capsys):
    """SIGTERM (what `timeout` and SLURM send) mid-run: the manifest records the interruption and
    the time spent, the resume hint is printed, and --resume finishes only what is missing."""
    plugin = tmp_path / "terminator.py"
    plugin.write_text(TERMINATOR)
    out = tmp_path / "run"
    code, stderr = run_main(capsys, *SMOKE[:-2], "--variants", "cnn,terminated-once", "--plugin", str(plugin),
                            "--out", str(out))  # fmt: skip
    assert code == 130 and f"suite run --resume {out}" in stderr, stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["interrupted"] and manifest["wall_s"] > 0
    assert manifest["units"]["cnn__seed0"]["status"] == "done"
    assert manifest["units"]["terminated-once__seed0"]["status"] != "done"
    code, stderr = run_main(capsys, "run", "--resume", str(out), "--plugin", str(plugin), "--no-plots")
    assert code == 0 and "cnn seed 0" not in stderr, stderr
    assert (
        json.loads((out / "manifest.json").read_text())["units"]["terminated-once__seed0"]["status"] == "done"
    )
