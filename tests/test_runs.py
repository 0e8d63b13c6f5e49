"""The run directory and its driver: resume refuses changed settings, unit files of each kind in
their own folder, names validated, plugins loaded twice."""

import pytest
import torch

from suite import registry
from suite.plugins import load_plugin
from suite.report.results import RunResults
from suite.runs.executors import LocalExecutor
from suite.runs.grid import UnitKey
from suite.runs.store import RunStore, unit_name
from tests.cli import run_main


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A one-variant smoke run without the cost benchmark or plots (a few seconds)."""
    from suite.cli.main import main

    out = tmp_path_factory.mktemp("runs") / "tiny"
    assert (
        main(
            [
                "run",
                "--profile",
                "smoke",
                "--variants",
                "cnn",
                "--no-bench",
                "--no-plots",
                "--no-progress",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    return out


@pytest.mark.parametrize(
    "option",
    [["--epochs", "3"], ["--seeds", "2"], ["--profile", "quick"], ["--lr", "0.01"], ["--variants", "gcnn-c4"],
     ["--batch-size", "32"], ["--budget", "30k"], ["--no-bench"], ["--layout", "contiguous"],
     ["--recipe", "tutorial"], ["--split", "validation"]],
)  # fmt: skip
def test_resume_refuses_options_that_would_change_the_numbers(tiny_run, capsys, option):
    code, stderr = run_main(capsys, "run", "--resume", str(tiny_run), *option)
    lines = stderr.strip().splitlines()
    assert code == 2 and len(lines) == 1, stderr
    assert option[0] in lines[0] and "--resume" in lines[0]


def test_resume_of_a_finished_run_trains_nothing_and_keeps_its_numbers(tiny_run, capsys):
    before = (tiny_run / "metrics.csv").read_text()
    code, stderr = run_main(capsys, "run", "--resume", str(tiny_run), "--no-progress", "--no-plots")
    assert code == 0, stderr
    assert "cnn seed 0: done" not in stderr and (tiny_run / "metrics.csv").read_text() == before
    import json

    manifest = json.loads((tiny_run / "manifest.json").read_text())
    first = manifest["resumed"][0]["git_before"]  # the commit it was made at, kept past the resume
    assert first and first["commit"] == manifest["environment"]["git"]["commit"]  # same code here


def test_provenance_names_every_commit_a_resumed_run_ran_at():
    from suite.report.readme import _commits

    a, b, c = ({"commit": name * 8} for name in "abc")
    assert _commits({"environment": {"git": a}}) == "commit `aaaaaaa`"
    resumed = {"environment": {"git": c}, "resumed": [{"git_before": a}, {"git_before": b}]}
    assert _commits(resumed) == (
        "commits `aaaaaaa`, `bbbbbbb`, `ccccccc` (started at the first, resumed at the others)"
    )
    older = {"environment": {"git": c}, "resumed": [{"command": []}, {"git_before": b}]}
    assert (
        _commits(older) == "commits `bbbbbbb`, `ccccccc` (in order; resumes before these recorded no commit)"
    )  # noqa: E501


def test_each_kind_of_unit_file_has_its_own_folder(tmp_path):
    """A variant may be called 'bench': its result never mixes with the benchmark rows."""
    store = RunStore(tmp_path)
    store.write_unit(unit_name("bench", 0), {"metrics": [{"variant": "bench", "seed": 0, "metric": "acc",
                                                          "angle": 0, "value": 50.0}]})  # fmt: skip
    store.write_bench("cnn", [{"variant": "cnn", "bench": "infer", "samples_per_s": 10.0}])
    store.assemble([unit_name("bench", 0)], ("variant", "bench", "samples_per_s"))
    assert (tmp_path / "throughput.csv").read_text().splitlines() == [
        "variant,bench,samples_per_s",
        "cnn,infer,10.0",
    ]
    assert "bench,0,acc,0,50.0" in (tmp_path / "metrics.csv").read_text()
    assert store.unit_path("bench__seed0").parent != store.bench_path("bench").parent


def test_the_per_image_table_is_written_compressed_the_same_bytes_each_time(tiny_run, tmp_path):
    """``correct.csv.gz`` (a search's text passes 5 MB): its bytes depend only on its rows; a run
    rewritten from its units drops the plain ``correct.csv`` of older runs; readers take either."""
    import gzip
    import shutil

    packed = tiny_run / "correct.csv.gz"
    assert packed.is_file() and not (tiny_run / "correct.csv").exists()
    rows = RunResults(tiny_run).correct
    assert not rows.empty and set(rows.metric) >= {"acc"}
    copy = tmp_path / "old"
    shutil.copytree(tiny_run, copy)
    (copy / "correct.csv").write_bytes(gzip.decompress(packed.read_bytes()))  # as an older run wrote it
    (copy / "correct.csv.gz").unlink()
    assert RunResults(copy).correct.equals(rows)
    store = RunStore(copy)
    store.assemble(list(store.read_manifest()["units"]), ("variant",))
    assert (copy / "correct.csv.gz").read_bytes() == packed.read_bytes()
    assert not (copy / "correct.csv").exists()


@pytest.mark.parametrize("name", ["a__seed1", "Bench", "my model", "x/y", "-lead", ""])
def test_variant_names_are_validated_at_registration(name):
    with pytest.raises(ValueError, match="lowercase letters, digits"):
        registry.register(name, description="x", family="plugin")(lambda budget=None: torch.nn.Linear(1, 1))
    assert name not in registry.names()


def test_unit_names_round_trip_for_every_valid_name_and_grid_point():
    for variant in ("cnn", "escnn-c4", "v1.2", "bench", "seed", "lr"):
        assert UnitKey.parse(unit_name(variant, 12)) == UnitKey(variant, 12)
        for point in (
            (("lr", 0.003),),
            (("lr", 1e-05), ("budget", 30000)),
            (("train_size", 1000), ("epochs", 50)),
        ):
            key = UnitKey(variant, 3, point)
            assert UnitKey.parse(key.name) == key, key.name


PLUGIN = """
import torch
from suite.registry import register


@register("twice-loaded", description="a plugin a notebook loads twice", family="plugin")
def build(budget=None):
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
"""


def test_loading_a_plugin_twice_returns_its_variants_both_times(tmp_path):
    path = tmp_path / "twice.py"
    path.write_text(PLUGIN)
    try:
        assert load_plugin(path) == ["twice-loaded"]
        assert load_plugin(path) == ["twice-loaded"]  # a notebook cell run again
    finally:
        registry.unregister("twice-loaded")


def test_the_local_executor_applies_the_function_in_order():
    assert list(LocalExecutor().map(abs, [-2, 3])) == [(-2, 2, None), (3, 3, None)]


def test_executor_choices_are_checked_in_one_line(capsys):
    from suite.errors import UsageError
    from suite.runs.executors import RaySettings, choose_executor

    assert choose_executor() is None
    assert choose_executor(jobs=3) == RaySettings(workers=3)  # --jobs N: a local Ray instance
    assert choose_executor("ray", ray_address="127.0.0.2:6379").address == "127.0.0.2:6379"
    with pytest.raises(UsageError, match="Ray tasks only"):
        choose_executor(ray_address="127.0.0.2:6379")
    with pytest.raises(UsageError, match="expected one of local, ray"):
        choose_executor("dask")
    code, stderr = run_main(capsys, "run", "--profile", "smoke", "--gpus-per-unit", "0.5")
    assert code == 2 and stderr.strip() == (
        "suite: error: --gpus-per-unit applies to Ray tasks only; choose the ray executor"
    )


def test_ray_tasks_on_cuda_get_a_share_of_the_gpu():
    """``--jobs N`` on CUDA: each task asks for 1/N of the GPU (the settings recorded are the ones
    used and recorded); tasks on a cluster must ask for a share themselves; an explicit share is kept."""
    import torch

    from suite.errors import SuiteError
    from suite.runs.executors import RaySettings
    from suite.runs.runner import gpu_share

    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert gpu_share(RaySettings(workers=12), cuda).gpus_per_unit == 1 / 12
    assert gpu_share(RaySettings(workers=12), cpu).gpus_per_unit == 0
    assert gpu_share(RaySettings(address="127.0.0.2:6379", gpus_per_unit=0.25), cuda).gpus_per_unit == 0.25
    assert gpu_share(None, cuda) is None
    with pytest.raises(SuiteError, match="ask for no GPU"):
        gpu_share(RaySettings(address="127.0.0.2:6379"), cuda)


def test_ray_tasks_are_submitted_costliest_first():
    """FLOPs per image × images trained orders the tasks (Ray starts them in that order): the
    e3nn model first, a bigger training set before a smaller one, the plain CNN last."""
    from suite.runs.config import make_config
    from suite.runs.runner import costliest_first
    from suite.runs.unit import UnitTask

    config = make_config("cnn,escnn-c4,e3nn-o2", "smoke", grid={"train_size": [128, 256]})
    tasks = [UnitTask(key.name, 64, None) for key in config.units()]
    order = [task.name for task in costliest_first(tasks, config)]
    assert order[:2] == ["e3nn-o2__seed0__train_size=256", "e3nn-o2__seed0__train_size=128"]
    assert order[-2:] == ["cnn__seed0__train_size=256", "cnn__seed0__train_size=128"]
    assert sorted(order) == sorted(task.name for task in tasks)


def test_a_run_without_plots_says_how_to_draw_them_and_suite_plot_does(tiny_run, tmp_path, capsys):
    import shutil

    assert not list(tiny_run.rglob("*.png"))
    copy = tmp_path / "tiny"
    shutil.copytree(tiny_run, copy)
    assert f"`suite plot {tiny_run}` draws them" in (tiny_run / "summary.md").read_text()
    code, stderr = run_main(capsys, "plot", str(copy))
    assert code == 0, stderr
    drawn = sorted(p.name for p in (copy / "plots").glob("*.png"))
    assert drawn and all(f"(plots/{name})" in (copy / "summary.md").read_text() for name in drawn)
