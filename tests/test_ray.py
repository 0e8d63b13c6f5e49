"""Units as Ray tasks on a real 2-CPU Ray cluster on the loopback address: the same accuracy rows
as in process, a worker that dies retried once, then recorded as failed."""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.cli import run_main

LOOPBACK = "127.0.0.2"
HEADS: dict[str, subprocess.Popen] = {}  # the test cluster's `ray start` process, by address
pytestmark = pytest.mark.subprocess


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    """``ray start --head`` on 127.0.0.2 with 2 CPUs, as a user would start one; stopped after.

    Token authentication on both ends, with one token: a client whose mode differs is refused."""
    import secrets

    port = free_port()
    log = tmp_path_factory.mktemp("ray") / "head.log"
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    saved = {k: os.environ.get(k) for k in auth}
    os.environ.update(auth)  # this process is the client (the driver of the runs below)
    env = {**os.environ, "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}
    command = [str(Path(sys.executable).parent / "ray"), "start", "--head", "--block",
               f"--node-ip-address={LOOPBACK}", f"--port={port}", "--num-cpus=2", "--num-gpus=0",
               "--include-dashboard=false", "--disable-usage-stats"]  # fmt: skip
    with open(log, "w") as out:
        head = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    address = f"{LOOPBACK}:{port}"
    HEADS[address] = head
    try:
        wait_for(address, head, log)
        yield address
    finally:
        try:
            os.killpg(head.pid, signal.SIGINT)  # `ray start --block` stops its processes on Ctrl-C
            head.wait(timeout=10)
        except ProcessLookupError:  # the last test killed the head on purpose
            pass
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait(timeout=10)
        pointer = Path("/tmp/ray/ray_current_cluster")  # `ray start` names the cluster it started
        if pointer.is_file() and pointer.read_text().strip() == address:
            pointer.unlink()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def wait_for(address: str, head: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    host, port = address.rsplit(":", 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if head.poll() is not None:
            pytest.fail(f"ray start exited with {head.returncode}: {log.read_text()[-2000:]}")
        with socket.socket() as probe:
            if probe.connect_ex((host, int(port))) == 0:
                time.sleep(3)  # the GCS answers before the raylet has registered
                return
        time.sleep(0.5)
    pytest.fail(f"no Ray head at {address} after {timeout} s: {log.read_text()[-2000:]}")


def accuracy_rows(run_dir: Path) -> list[tuple]:
    with open(run_dir / "metrics.csv") as handle:
        rows = [tuple(r.values()) for r in csv.DictReader(handle) if r["metric"].startswith("acc")]
    return sorted(rows)


def test_a_study_grid_on_a_ray_cluster_gives_the_local_executors_accuracy_rows(ray_cluster, tmp_path, capsys):
    """``suite speedup`` runs a smoke study's grid in this process and as tasks on the cluster, every
    unit on one thread (a unit's setting: the same float reductions), in interleaved rounds:
    identical accuracy rows, and the timings and their ratio in speedup.json."""
    import json

    threads = torch.get_num_threads()
    code, stderr = run_main(capsys, "speedup", "data", "--scale", "smoke", "--variants", "cnn,gcnn-c4",
                            "--values", "128,256", "--seeds", "1", "--recipe", "tutorial", "--rounds", "2",
                            "--threads", "1", "--ray-address", ray_cluster, "--out", str(tmp_path),
                            "--no-progress")  # fmt: skip
    assert code == 0, stderr
    assert "training 4 units as Ray tasks" in stderr
    assert torch.get_num_threads() == threads  # the serial runs' thread count is put back
    local, remote = accuracy_rows(tmp_path / "round1-serial"), accuracy_rows(tmp_path / "round1-ray-cluster")
    assert len(local) == 4 * 8 and local == remote  # 4 units × (4 angles, balanced, C4 mean/min, random)
    assert accuracy_rows(tmp_path / "round2-ray-cluster") == remote  # and again, in another job
    found = json.loads((tmp_path / "speedup.json").read_text())
    order = [(t["round"], t["executor"]) for t in found["timings"]]
    assert order == [(1, "serial"), (1, "ray-cluster"), (2, "ray-cluster"), (2, "serial")]  # interleaved
    walls = {
        e: sum(t["wall_s"] for t in found["timings"] if t["executor"] == e) for e in ("serial", "ray-cluster")
    }
    assert found["ratio"] == round(walls["serial"] / walls["ray-cluster"], 3) and found["same_accuracy_rows"]
    assert found["serial_threads"] == found["threads"] == 1 and found["command"][:2] == ["suite", "speedup"]


def test_the_test_cluster_listens_on_the_loopback_address_only(ray_cluster):
    import ray

    ray.init(address=ray_cluster, _node_ip_address=LOOPBACK, logging_level="error", log_to_driver=False)
    try:
        addresses = {node["NodeManagerAddress"] for node in ray.nodes() if node["Alive"]}
    finally:
        ray.shutdown()
    assert addresses == {LOOPBACK}


DYING_PLUGIN = """
import os, signal
from pathlib import Path
import torch
from suite.registry import register

MARK = Path({mark!r})


class Dying(torch.nn.Module):
    \"\"\"Kills its process on its first training step in a Ray worker (once, or every time).\"\"\"

    def __init__(self, once):
        super().__init__()
        self.once = once
        self.linear = torch.nn.Linear(784, 10)

    def forward(self, x):
        in_a_ray_worker = "RAY_RAYLET_PID" in os.environ  # the driver checks each plugin variant too
        mark = MARK.with_name("died-once" if self.once else "died-always")
        if self.training and in_a_ray_worker and not (self.once and mark.exists()):
            mark.write_text("died")
            os.kill(os.getpid(), signal.SIGKILL)
        return self.linear(x.flatten(1))


@register("dies-once", description="its worker dies on the first try", family="plugin")
def dies_once(budget=None):
    return Dying(once=True)


@register("always-dies", description="its worker dies every time", family="plugin")
def always_dies(budget=None):
    return Dying(once=False)
"""


def test_a_killed_worker_is_retried_once_then_its_unit_is_recorded_as_failed(ray_cluster, tmp_path, capsys):
    import json

    plugin = tmp_path / "dying.py"
    plugin.write_text(DYING_PLUGIN.format(mark=str(tmp_path / "died")))
    out = tmp_path / "run"
    code, stderr = run_main(capsys, "run", "--profile", "smoke", "--variants", "always-dies,dies-once",
                            "--plugin", str(plugin), "--recipe", "tutorial", "--no-bench", "--no-progress",
                            "--executor", "ray", "--ray-address", ray_cluster, "--out", str(out))  # fmt: skip
    assert code == 1, stderr
    units = json.loads((out / "manifest.json").read_text())["units"]
    assert units["dies-once__seed0"]["status"] == "done"  # its first worker was killed: retried
    assert units["always-dies__seed0"]["status"] == "failed"
    assert "worker failed" in units["always-dies__seed0"]["reason"]
    assert (tmp_path / "died-once").is_file()  # it did die once


STALLING_PLUGIN = """
import os, time
from pathlib import Path

from models.planar._layers import PlainCNN
from suite.registry import register

PID = Path({pid!r})


class StallsOnce(PlainCNN):
    \"\"\"Hangs in its first training step in a Ray worker, having written the worker's pid.\"\"\"

    def forward(self, x):
        if self.training and "RAY_RAYLET_PID" in os.environ and not PID.exists():
            PID.write_text(str(os.getpid()))
            time.sleep(600)
        return super().forward(x)


@register("stalls-once", description="hangs on its first try in a Ray worker", family="plugin")
def build(budget=None):
    return StallsOnce()
"""


def test_ctrl_c_cancels_the_outstanding_ray_tasks_and_leaves_a_resumable_run(ray_cluster, tmp_path, capsys):
    """Ctrl-C while one unit hangs in a Ray worker and the other has finished, from Python that
    stays connected to the cluster (a notebook): the hanging task is cancelled, its worker killed
    (not left running on the cluster), the run is resumable, and resuming trains only that unit."""
    import json
    import threading

    import ray

    import suite

    plugin, pid_file = tmp_path / "stalling.py", tmp_path / "stalled.pid"
    plugin.write_text(STALLING_PLUGIN.format(pid=str(pid_file)))
    out = tmp_path / "run"
    finished = out / "units" / "train" / "cnn__seed0.json"

    def press_ctrl_c() -> None:  # once the cnn unit is written and the other one hangs
        deadline = time.monotonic() + 120
        while not (pid_file.is_file() and finished.is_file()) and time.monotonic() < deadline:
            time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGINT)

    ray_options = {"executor": "ray", "ray_address": ray_cluster, "progress": False}
    ray.init(address=ray_cluster, _node_ip_address=LOOPBACK, logging_level="error", log_to_driver=False)
    handler = signal.signal(signal.SIGINT, signal.default_int_handler)  # also under a background shell
    try:
        presser = threading.Thread(target=press_ctrl_c, daemon=True)
        presser.start()
        with pytest.raises(KeyboardInterrupt):
            suite.run("cnn,stalls-once", "smoke", out, plugins=[plugin], recipe="tutorial", bench=False,
                      **ray_options)  # fmt: skip
        presser.join(timeout=10)
        assert finished.is_file() and pid_file.is_file()
        assert process_ends(int(pid_file.read_text()), within=30), "the hanging Ray task was left running"
        units = json.loads((out / "manifest.json").read_text())["units"]
        assert units["cnn__seed0"]["status"] == "done" and units["stalls-once__seed0"]["status"] != "done"
        capsys.readouterr()
        results = suite.resume(out, plugins=[plugin], **ray_options)
    finally:
        signal.signal(signal.SIGINT, handler)
        ray.shutdown()
    log = capsys.readouterr().err
    assert "training 1 unit as Ray tasks" in log and "cnn seed 0" not in log, log  # only the unfinished one
    units = results.manifest["units"]
    assert {unit["status"] for unit in units.values()} == {"done"}


def test_a_smoke_tune_on_the_cluster_trains_its_trials_in_rungs_as_ray_tasks(ray_cluster, tmp_path, capsys):
    """Trials of an Optuna search as Ray tasks, two at a time (the cluster's 2 CPUs): each rung's
    checkpoint comes back to the driver, which keeps it in the run directory and sends it with
    the trial's next rung (the workers share no filesystem with it)."""
    import pandas as pd

    out = tmp_path / "tune"
    code, stderr = run_main(capsys, "tune", "--profile", "smoke", "--variants", "cnn", "--trials", "2",
                            "--epochs", "2", "--train-size", "128", "--threads", "1", "--executor", "ray",
                            "--ray-address", ray_cluster, "--no-progress", "--out", str(out))  # fmt: skip
    assert code == 0, stderr
    assert "training 2 units as Ray tasks" in stderr  # the two trials' first rungs, at once
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 2 and set(trials.state) <= {"complete", "pruned"}
    finished = trials[trials.state == "complete"]
    assert len(finished) >= 1 and (finished.epochs == 2).all()
    for unit in finished.unit:  # rung 1's checkpoint came back from its worker; the unit was recorded
        assert (out / "checkpoints" / f"{unit}.pt").is_file() and (
            out / "units" / "train" / f"{unit}.json"
        ).is_file()
    assert "optuna" in (out / "sweep.md").read_text()


def process_ends(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def test_a_run_whose_cluster_head_is_killed_stops_in_one_line_and_resumes_locally(
    ray_cluster, tmp_path, capsys, monkeypatch
):
    """The last test of the module (it kills the module's cluster): one unit has finished on the
    cluster and the other is training there when the head is killed; the run stops within the
    configured wait with one line, and the directory resumes on the local executor."""
    import json
    import threading

    from suite.cli.main import main

    monkeypatch.setenv("C4SUITE_RAY_LOST_AFTER_S", "3")
    plugin, pid_file = tmp_path / "stalling.py", tmp_path / "stalled.pid"
    # its own name: the Ctrl-C test registered "stalls-once" in this process already
    plugin.write_text(STALLING_PLUGIN.format(pid=str(pid_file)).replace('"stalls-once"', '"stalls-here"'))
    out = tmp_path / "run"
    finished = out / "units" / "train" / "cnn__seed0.json"
    killed, over = {}, threading.Event()

    def kill_the_head() -> None:  # once the cnn unit is written and the other one trains
        deadline = time.monotonic() + 120
        while not (pid_file.is_file() and finished.is_file()) and time.monotonic() < deadline:
            if over.wait(0.2):
                return
        os.killpg(HEADS[ray_cluster].pid, signal.SIGKILL)
        killed["at"] = time.monotonic()

    killer = threading.Thread(target=kill_the_head, daemon=True)
    killer.start()
    code = main(["run", "--profile", "smoke", "--variants", "cnn,stalls-here", "--plugin", str(plugin),
                 "--recipe", "tutorial", "--no-bench", "--no-progress", "--executor", "ray",
                 "--ray-address", ray_cluster, "--out", str(out)])  # fmt: skip
    stopped = time.monotonic()
    over.set()
    killer.join(timeout=10)
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("suite: error:")]
    assert code == 1 and len(errors) == 1 and "lost the Ray cluster" in errors[0], err[-2000:]
    assert f"--resume {out}" in errors[0] and stopped - killed["at"] < 60
    units = json.loads((out / "manifest.json").read_text())["units"]
    assert units["cnn__seed0"]["status"] == "done" and units["stalls-here__seed0"]["status"] != "done"
    code = main(["run", "--resume", str(out), "--plugin", str(plugin), "--no-progress"])  # locally
    err = capsys.readouterr().err
    assert code == 0 and "stalls-here seed 0: done" in err and "cnn seed 0: done" not in err, err[-2000:]


def test_ray_is_imported_with_its_uv_run_integration_off_wherever_the_suite_imports_it():
    """Ray reads the setting once, when first imported: under `uv run` its workers would
    otherwise get a fresh environment without Ray (a search's held connection imported it first)."""
    root = Path(__file__).resolve().parents[1]
    sources = {p: p.read_text() for p in (root / "suite").rglob("*.py")}
    importing = sorted(p.name for p, text in sources.items() if "import ray\n" in text)
    assert importing == ["executors.py"]
    assert sources[root / "suite" / "runs" / "executors.py"].count("import ray\n") == 1  # in import_ray only
    env = {k: v for k, v in os.environ.items() if k != "RAY_ENABLE_UV_RUN_RUNTIME_ENV"}
    probe = (
        "from suite.runs.executors import import_ray\n"
        "ray = import_ray()\n"
        "from ray._private import ray_constants\n"
        "print(ray_constants.RAY_ENABLE_UV_RUN_RUNTIME_ENV)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, cwd=root)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr[-2000:]
