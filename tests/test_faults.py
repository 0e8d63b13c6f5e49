"""Faults and trust, each injected in this process: one writer per run directory, a run directory
never executes code, recording never sinks a run, bad files and a full disk are named in one line,
and a Ray cluster that is absent or lost says so."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import torch

import suite
from suite import registry
from suite.errors import SuiteError
from suite.runs.lock import HOLDER_NAME, RunDirectoryInUse, RunLock
from tests.cli import run_main

C4 = "0,90,180,270"
SMOKE = ["run", "--profile", "smoke", "--no-bench", "--no-progress", "--angles", C4]


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def error_line(stderr: str) -> str:
    """The one ``suite: error:`` line among a run's log lines."""
    errors = [line for line in stderr.splitlines() if line.startswith("suite: error:")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    return errors[0]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stub_reports(patch: pytest.MonkeyPatch) -> None:
    """No summary.md or plots (2 s each on 2 cores) where a test is not about them."""
    import suite.api
    import suite.report.tables

    patch.setattr(suite.report.tables, "write_report", lambda run_dir, plots=True: [])
    patch.setattr(suite.api, "write_report", lambda run_dir, plots=True: [])


@pytest.fixture
def no_report(monkeypatch) -> None:
    stub_reports(monkeypatch)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """A finished one-unit smoke run (a second or two); tests damage copies of it."""
    out = tmp_path_factory.mktemp("faults") / "tiny"
    with pytest.MonkeyPatch.context() as patch:
        stub_reports(patch)
        suite.run("cnn", "smoke", out, bench=False, progress=False, angles=C4)
    return out


@pytest.fixture
def run_dir(tiny, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(tiny, copy)
    return copy


# --- one writer per run directory -----------------------------------------------------------------


def test_a_second_writer_is_refused_in_one_line_naming_the_holder(run_dir, capsys, no_report):
    """While a process holds the run directory: --resume, plot, a forced new run and the API's
    resume are refused, naming the holder; once it is released, they work."""
    with RunLock(run_dir) as held:
        holder = f"pid {os.getpid()} on {socket.gethostname()} (since {held.holder['since']})"
        for args in (["run", "--resume", str(run_dir)], ["plot", str(run_dir)],
                     [*SMOKE, "--variants", "cnn", "--out", str(run_dir), "--force"]):  # fmt: skip
            code, stderr = run_main(capsys, *args)
            assert code == 1 and holder in one_line(stderr), (args, stderr)
        with pytest.raises(RunDirectoryInUse, match="is in use by"):
            suite.resume(run_dir, progress=False)
    assert run_main(capsys, "plot", str(run_dir))[0] == 0
    assert not (run_dir / HOLDER_NAME).exists()  # the record goes with the lock


def gone_pid() -> int:
    finished = subprocess.Popen(["true"])
    finished.wait()
    return finished.pid


def test_a_dead_holders_lock_is_taken_over_saying_so(run_dir, capsys, no_report):
    pid = gone_pid()
    record = {"host": socket.gethostname(), "pid": pid, "since": "2025-01-01T00:00:00+00:00"}
    (run_dir / HOLDER_NAME).write_text(json.dumps(record))  # as a process killed with -9 leaves it
    code, stderr = run_main(capsys, "plot", str(run_dir))
    assert code == 0 and f"taking over the lock of pid {pid} on {record['host']}" in stderr
    assert "which is gone" in stderr and not (run_dir / HOLDER_NAME).exists()


def test_a_lock_from_another_host_is_broken_only_on_purpose(run_dir, capsys, no_report):
    record = {"host": "elsewhere.example", "pid": 4242, "since": "2025-01-01T00:00:00+00:00"}
    (run_dir / HOLDER_NAME).write_text(json.dumps(record))
    code, stderr = run_main(capsys, "plot", str(run_dir))
    line = one_line(stderr)
    assert code == 1 and "pid 4242 on elsewhere.example" in line and "(pass --break-lock)" in line
    with pytest.raises(SuiteError, match=r"pass break_lock=True"):
        suite.resume(run_dir, progress=False)
    assert json.loads((run_dir / HOLDER_NAME).read_text()) == record  # untouched
    code, stderr = run_main(capsys, "plot", str(run_dir), "--break-lock")
    assert code == 0 and "breaking the lock of pid 4242 on elsewhere.example" in stderr


# --- loading never executes ----------------------------------------------------------------------

EVIL = """
from pathlib import Path

Path(__file__).with_name("EXECUTED").write_text("a file the run directory names was executed")

import torch
from suite.registry import register


@register("evil-net", description="shipped inside a run directory", family="plugin")
def build(budget=None):
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
"""


def plant_plugin(run_dir: Path, recorded: bool) -> str:
    """Edit the manifest as a stranger could: a plugin file shipped in the run directory, named
    by its config, one of its units needing it; ``recorded``: this format (the plugin's SHA-256),
    else one written before ``format_version`` existed."""
    evil = run_dir / "evil.py"
    evil.write_text(EVIL)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["config"]["plugins"] = [str(evil)]
    manifest["config"]["variants"].append("evil-net")
    manifest["units"]["evil-net__seed0"] = {"status": "pending"}
    if recorded:
        manifest["plugins"] = [{"file": "evil.py", "sha256": sha256(evil), "variants": ["evil-net"]}]
    else:
        del manifest["plugins"], manifest["format_version"]
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    return sha256(evil)


@pytest.mark.parametrize("recorded", [True, False], ids=["this-format", "before-format-version"])
def test_loading_plotting_or_resuming_executes_no_file_the_run_directory_names(
    run_dir, capsys, monkeypatch, recorded
):
    """Plotting for real once (its report code is the one to prove), stubbed for the older format."""
    if not recorded:
        stub_reports(monkeypatch)
    digest = plant_plugin(run_dir, recorded)
    assert not suite.load_model(run_dir, "cnn").training  # a built-in variant loads as before
    with pytest.raises(SuiteError, match="evil.py") as refused:
        suite.load_model(run_dir, "evil-net")
    assert "was not passed" in str(refused.value) and (digest in str(refused.value)) == recorded
    suite.load_run(run_dir)
    assert run_main(capsys, "plot", str(run_dir))[0] == 0
    code, stderr = run_main(capsys, "run", "--resume", str(run_dir))
    line = one_line(stderr)
    assert code == 1 and line.startswith("suite: error: --plugin ") and "evil.py" in line
    assert not (run_dir / "EXECUTED").exists()


SHARED = """
import torch
from suite.registry import register


class Group(torch.nn.Module):
    \"\"\"One object every layer holds, with a buffer (as a tutorial's GCNN passes its group).\"\"\"

    def __init__(self):
        super().__init__()
        self.register_buffer("turns", torch.arange(4.0))


class Layer(torch.nn.Module):
    def __init__(self, group, cin, cout):
        super().__init__()
        self.group = group
        self.conv = torch.nn.Conv2d(cin, cout, 3, padding=1)

    def forward(self, x):
        return torch.relu(self.conv(x)) * (1 + self.group.turns.mean() / 10)


class SharedGroupNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        group = Group()
        self.layers = torch.nn.Sequential(Layer(group, 1, 4), torch.nn.MaxPool2d(2), Layer(group, 4, 8))
        self.head = torch.nn.Linear(8, 10)

    def forward(self, x):
        return self.head(self.layers(x).mean(dim=(2, 3)))


@register("shared-group", description="layers that share one module holding a buffer", family="plugin")
def build(budget=None):
    return SharedGroupNet()
"""


@pytest.fixture(scope="module")
def plugin_run(tmp_path_factory):
    """A smoke run of a plugin variant whose state dict shares memory (safetensors refuses that)."""
    folder = tmp_path_factory.mktemp("plugin")
    plugin = folder / "shared_group.py"
    plugin.write_text(SHARED)
    out = folder / "run"
    try:
        with pytest.MonkeyPatch.context() as patch:
            stub_reports(patch)
            suite.run("shared-group", "smoke", out, plugins=[plugin], bench=False, progress=False, angles=C4)
        yield plugin, out
    finally:
        if "shared-group" in registry.names():
            registry.unregister("shared-group")


def test_a_model_whose_layers_share_a_module_is_recorded_and_loads_to_the_same_logits(plugin_run, tmp_path):
    from suite.measure.evaluate import accuracy
    from suite.runs.config import RunConfig, load_run_data
    from suite.runs.store import RunStore
    from suite.runs.unit import trained_state

    plugin, out = plugin_run
    results = suite.load_run(out)
    assert results.manifest["units"]["shared-group__seed0"]["status"] == "done"
    model = suite.load_model(out, "shared-group", plugins=[plugin])
    assert model.layers[0].group is model.layers[2].group  # still one module, as built
    data = load_run_data(RunConfig.from_dict(results.manifest["config"]))
    rows = results.metrics[(results.metrics.metric == "acc") & (results.metrics.angle.astype(float) == 90)]
    assert accuracy(model, data.test_x, data.test_y, 90) == pytest.approx(float(rows.value.iloc[0]), abs=1e-9)
    trained = registry.get("shared-group")  # and exactly, through the store, with a changed buffer
    with torch.no_grad():
        trained.layers[0].group.turns.add_(1.0)
    RunStore(tmp_path).write_weights("x", trained_state(trained), {})
    again = registry.get("shared-group")
    again.load_state_dict(RunStore(tmp_path).read_weights("x"))
    images = torch.rand(4, 1, 28, 28)
    assert torch.equal(again.eval()(images), trained.eval()(images))


def test_weights_files_leave_out_escnns_rebuilt_bases_and_reload_to_the_same_logits(tmp_path):
    from suite.runs.store import RunStore
    from suite.runs.unit import trained_state
    from suite.runs.weights import REBUILT_SHA256, REBUILT_SKETCH, rebuilt_fingerprint, restore_state

    trained = suite.build("escnn-c4")
    with torch.no_grad():
        for param in trained.parameters():
            param.add_(0.01 * torch.randn_like(param))
    full = trained.train().state_dict()  # as runs keep it: eval mode adds cached filters
    rebuilt = trained.rebuilt_state_keys()
    assert any(k.endswith("sampled_basis") for k in rebuilt) and rebuilt < set(full)
    assert not {name for name, _ in trained.named_parameters()} & rebuilt
    RunStore(tmp_path).write_weights("x", trained_state(trained), {})
    kept = RunStore(tmp_path).read_weights("x")
    assert set(kept) == set(full) - rebuilt | {REBUILT_SKETCH}
    images = torch.rand(4, 1, 28, 28)
    sha_file = {k: v for k, v in kept.items() if k != REBUILT_SKETCH}  # as written before the sketch
    sha_file[REBUILT_SHA256] = rebuilt_fingerprint(trained, rebuilt & set(full))
    for state in (kept, full, sha_file):  # files written now, older ones that kept the bases, or a SHA
        again = suite.build("escnn-c4").train()
        restore_state(again, state)
        assert torch.equal(again.eval()(images), trained.eval()(images))
    with pytest.raises(RuntimeError, match="missing keys"):  # a learned tensor is never optional
        restore_state(suite.build("escnn-c4"), {k: v for k, v in kept.items() if k != "head.weight"})
    rounded = suite.build("escnn-c4").train()  # bases equal up to rounding (another BLAS or CPU): loads
    for key in rebuilt:  # every entry one float step up
        value = rounded.state_dict()[key]
        value.copy_(torch.nextafter(value, torch.full_like(value, float("inf"))))
    restore_state(rounded, kept)
    with pytest.raises(RuntimeError, match="differ from those"):  # a SHA-256 tells them apart
        restore_state(rounded, sha_file)
    other = suite.build("escnn-c4").train()  # a build whose bases differ (another install's tables)
    basis = next(v for k, v in other.state_dict().items() if k.endswith("sampled_basis"))
    basis.mul_(-1)
    for state in (kept, sha_file):
        with pytest.raises(RuntimeError, match="differ from those the unit was trained with"):
            restore_state(other, state)
    with pytest.raises(RuntimeError, match="differ from those"):  # left out, and no fingerprint
        restore_state(suite.build("escnn-c4").train(), {k: v for k, v in kept.items() if k != REBUILT_SKETCH})


def test_plugins_run_only_when_passed_and_as_recorded(plugin_run, tmp_path, capsys):
    plugin, out = plugin_run
    record = suite.load_run(out).manifest["plugins"]
    assert record == [{"file": "shared_group.py", "sha256": sha256(plugin), "variants": ["shared-group"]}]
    with pytest.raises(SuiteError, match=f"shared_group.py \\(SHA-256 {sha256(plugin)}\\)"):
        suite.load_model(out, "shared-group")  # registered in this process, yet not passed
    changed = tmp_path / "shared_group.py"
    changed.write_text(SHARED + "\n# edited since the run\n")
    with pytest.raises(SuiteError, match=r"pass allow_changed_plugins=True"):
        suite.load_model(out, "shared-group", plugins=[changed])
    code, stderr = run_main(capsys, "run", "--resume", str(out), "--plugin", str(changed))
    assert code == 1 and "(pass --allow-changed-plugins)" in one_line(stderr)
    registry.unregister("shared-group")  # the edited file registers it anew
    model = suite.load_model(out, "shared-group", plugins=[changed], allow_changed_plugins=True)
    assert not model.training


# --- recording never sinks a run -----------------------------------------------------------------


def test_a_fault_while_recording_fails_that_unit_only_and_keeps_its_metrics(
    tmp_path, monkeypatch, capsys, no_report
):
    """Seed 0's weights and seed 1's result cannot be written: each is recorded as failed with
    its reason, seed 0 keeps its metrics, the run ends; a resume trains seed 1 only."""
    from suite.runs.store import RunStore

    def failing(method: str, unit: str):  # noqa: ANN202
        original = getattr(RunStore, method)

        def write(self, name, *args):  # noqa: ANN001, ANN202
            if name == unit:
                raise RuntimeError(f"injected fault writing {name}")
            return original(self, name, *args)

        return write

    original_weights, original_unit = RunStore.write_weights, RunStore.write_unit
    monkeypatch.setattr(RunStore, "write_weights", failing("write_weights", "cnn__seed0"))
    monkeypatch.setattr(RunStore, "write_unit", failing("write_unit", "cnn__seed1"))
    out = tmp_path / "run"
    code, stderr = run_main(capsys, *SMOKE, "--variants", "cnn", "--seeds", "2", "--out", str(out))
    assert code == 1 and "2 unit(s) failed" in stderr, stderr
    units = json.loads((out / "manifest.json").read_text())["units"]
    assert units["cnn__seed0"]["status"] == "failed" and "metrics are kept" in units["cnn__seed0"]["reason"]
    assert "injected fault writing cnn__seed1" in units["cnn__seed1"]["reason"]
    assert set(suite.load_run(out).metrics.seed) == {0}
    monkeypatch.setattr(RunStore, "write_weights", original_weights)
    monkeypatch.setattr(RunStore, "write_unit", original_unit)
    code, stderr = run_main(capsys, "run", "--resume", str(out))
    assert code == 1 and "cnn seed 1: done" in stderr and "cnn seed 0" not in stderr, stderr
    assert set(suite.load_run(out).metrics.seed) == {0, 1}


class FillingDisk:
    """``os`` as the atomic writer sees it, on a disk that is full from the moment the first
    unit's result is written: every later write fails with ENOSPC (its file half-written)."""

    def __init__(self):
        self.full = False
        self.manifest: str | None = None

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(os, name)

    def replace(self, src: str, dst: str) -> None:
        if self.full:
            Path(src).write_bytes(Path(src).read_bytes()[:10])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        os.replace(src, dst)
        if Path(dst).name == "cnn__seed0.json":
            self.full = True
            self.manifest = (Path(dst).parents[2] / "manifest.json").read_text()


def test_a_full_disk_keeps_the_previous_file_and_stops_the_run_in_one_line(
    tmp_path, monkeypatch, capsys, no_report
):
    import suite.atomic

    disk = FillingDisk()
    monkeypatch.setattr(suite.atomic, "os", disk)
    out = tmp_path / "run"
    code, stderr = run_main(capsys, *SMOKE, "--variants", "cnn", "--seeds", "2", "--out", str(out))
    line = error_line(stderr)
    assert code == 1 and f"{out / 'manifest.json'}: no space left on the device" in line, stderr
    assert f"finish it with: suite run --resume {out}" in line
    assert (out / "manifest.json").read_text() == disk.manifest  # the previous manifest, whole
    assert not list(out.rglob("*.tmp")) and "cnn seed 1" not in stderr  # the run stopped there
    monkeypatch.setattr(suite.atomic, "os", os)  # space freed
    code, stderr = run_main(capsys, "run", "--resume", str(out))
    assert code == 0 and "cnn seed 1: done" in stderr and "cnn seed 0" not in stderr, stderr


# --- corrupt or foreign files --------------------------------------------------------------------


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif how == "truncate at a line end":  # still a well-formed CSV: only counting rows tells
        path.write_bytes(data[: data.rindex(b"\n", 0, len(data) // 2) + 1])
    else:
        path.write_text(how)


@pytest.mark.parametrize(
    ("file", "how", "command", "fragment"),
    [
        ("manifest.json", '{"config": {', "plot", "manifest.json is not readable JSON"),
        ("manifest.json", '{"config": {', "resume", "manifest.json is not readable JSON"),
        ("manifest.json", '{"config": {', "load_model", "manifest.json is not readable JSON"),
        ("manifest.json", '{"config": {}, "units": {}, "format_version": 9}', "load_model", "update c4suite"),
        ("metrics.csv", "truncate", "plot", "metrics.csv"),
        ("metrics.csv", "truncate", "load_run", "metrics.csv"),
        ("metrics.csv", "truncate at a line end", "plot", "rows of cnn__seed0: truncated?"),
        ("metrics.csv", "variant,seed\ncnn,zero\n", "plot", "metrics.csv lacks the column(s) metric, value"),
        ("correct.csv.gz", "truncate", "plot", "correct.csv.gz is not a readable CSV table"),
        ("weights/cnn__seed0.safetensors", "truncate", "load_model", "not a readable safetensors file"),
        ("units/train/cnn__seed0.json", "truncate", "resume", "cnn__seed0.json is not readable JSON"),
    ],
)
def test_a_bad_file_is_named_in_one_line(run_dir, capsys, file, how, command, fragment):
    damage(run_dir / file, how)
    if command in ("plot", "resume"):
        args = ["plot", str(run_dir)] if command == "plot" else ["run", "--resume", str(run_dir)]
        code, stderr = run_main(capsys, *args)
        line = one_line(stderr)
        assert code == 1 and str(run_dir / file) in line and fragment in line, stderr
        return
    with pytest.raises(SuiteError, match=fragment) as refused:
        suite.load_run(run_dir) if command == "load_run" else suite.load_model(run_dir, "cnn")
    assert "\n" not in str(refused.value)


def test_a_bad_checkpoint_fails_its_unit_naming_the_file(run_dir, capsys, no_report):
    (run_dir / "units" / "train" / "cnn__seed0.json").unlink()  # as if killed mid-unit
    damage(run_dir / "checkpoints" / "cnn__seed0.pt", "truncate")
    code, stderr = run_main(capsys, "run", "--resume", str(run_dir))
    reason = json.loads((run_dir / "manifest.json").read_text())["units"]["cnn__seed0"]["reason"]
    assert code == 1 and "Traceback" not in stderr, stderr
    assert "cnn__seed0.pt is not a readable checkpoint" in reason and "delete it" in reason


# --- Ray: absent or lost -------------------------------------------------------------------------


def test_an_unreachable_ray_address_is_refused_in_one_line_at_once(tmp_path, capsys):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.2", 0))
        address = f"127.0.0.2:{probe.getsockname()[1]}"
    began = time.monotonic()
    code, stderr = run_main(capsys, *SMOKE, "--executor", "ray", "--ray-address", address,
                            "--out", str(tmp_path / "run"))  # fmt: skip
    line = one_line(stderr)
    assert code == 1 and time.monotonic() - began < 30
    assert f"--ray-address {address}: no Ray cluster answers there" in line
    assert "ray start --head --node-ip-address=127.0.0.2" in line and not (tmp_path / "run").exists()


class SilentRay:
    """Ray's ``wait`` while the cluster is gone: nothing ever finishes."""

    def __init__(self, finishes_after: int | None = None):
        self.calls, self.finishes_after = 0, finishes_after

    def wait(self, pending: list, num_returns: int, timeout: float) -> tuple[list, list]:
        self.calls += 1
        if self.finishes_after is not None and self.calls > self.finishes_after:
            return pending[:1], pending[1:]
        return [], pending

    def get(self, ref: str) -> str:
        return f"result of {ref}"


def test_a_silent_cluster_is_waited_for_only_while_it_answers():
    from suite.runs.executors import ClusterLost, RayExecutor, RaySettings

    executor = RayExecutor(RaySettings(address="127.0.0.2:6379", lost_after_s=0.05, poll_s=0.01))
    with pytest.raises(ClusterLost, match="lost the Ray cluster 127.0.0.2:6379.*1 unit"):
        list(executor._gather(SilentRay(), {"ref": "task"}, alive=lambda: False))
    slow = SilentRay(finishes_after=20)  # a long task on a cluster that still answers
    finished = list(executor._gather(slow, {"ref": "task"}, alive=lambda: True))
    assert finished == [("task", "result of ref", None)]


def test_a_run_that_loses_its_cluster_stops_in_one_line_and_resumes_locally(
    tmp_path, monkeypatch, capsys, no_report
):
    """The cluster is lost while the unit runs on it: one line with the resume command, the
    directory resumable on the local executor. (A real head killed mid-run, by hand: the run
    stopped 7 s after the kill with C4SUITE_RAY_LOST_AFTER_S=6; too slow for the test suite.)"""
    import suite.runs.runner
    from suite.runs.executors import ClusterLost

    class LosesItsCluster:
        def __init__(self, settings):  # noqa: ANN001
            self.settings = settings

        def map(self, function, jobs):  # noqa: ANN001, ANN202
            raise ClusterLost("lost the Ray cluster started here: it has not answered for 20 s")
            yield  # a generator, as Ray's executor is

    monkeypatch.setattr(suite.runs.runner, "RayExecutor", LosesItsCluster)
    out = tmp_path / "run"
    code, stderr = run_main(capsys, *SMOKE, "--variants", "cnn", "--executor", "ray", "--out", str(out))
    line = error_line(stderr)
    assert code == 1 and "lost the Ray cluster" in line and f"suite run --resume {out}" in line
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stopped"] and "lost the Ray cluster" in manifest["stopped_because"]
    assert manifest["units"]["cnn__seed0"]["status"] == "running"
    code, stderr = run_main(capsys, "run", "--resume", str(out))
    assert code == 0 and "cnn seed 0: done" in stderr, stderr


def test_a_session_killed_outright_keeps_the_wall_time_up_to_its_last_save(tmp_path, monkeypatch, no_report):
    """A kill runs no stop handler: the manifest still holds the wall time of the units before it,
    and the report never quotes less than they took."""
    import suite.training.train as train_module
    from suite.report.formatting import wall_time
    from suite.runs.ledger import RunLedger

    real, calls = train_module.train_epoch, []

    def killed_in_the_second_unit(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # one epoch per unit
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "train_epoch", killed_in_the_second_unit)
    monkeypatch.setattr(RunLedger, "stop", lambda *args, **kwargs: None)  # as if killed: nothing recorded
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        suite.run("cnn", "smoke", out, seeds=2, epochs=1, bench=False, progress=False, angles=C4)
    manifest = json.loads((out / "manifest.json").read_text())
    first = manifest["units"]["cnn__seed0"]
    assert first["status"] == "done" and manifest["wall_s"] >= first["seconds"] > 0
    assert wall_time(manifest) == f"{manifest['wall_s']} s"
    lost = {**manifest, "wall_s": 10.0, "units": {"a": {"seconds": 40.0}, "b": {"seconds": 30.0}}}
    assert wall_time(lost).startswith("at least 70 s")  # a run killed before this saving existed
    parallel = {**lost, "executor": {"t": "ray local instance, RaySettings(workers=2)"}}
    assert wall_time(parallel) == "10.0 s"  # units side by side: their sum bounds nothing
