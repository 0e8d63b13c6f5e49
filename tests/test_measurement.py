"""The angle sweep, random-angle protocol and benchmark schema."""

import csv

import numpy as np
import pytest
import torch

from suite import registry
from suite.correctness import decode, encode
from suite.data.images import ImageData
from suite.errors import UsageError
from suite.measure.benchmark import THROUGHPUT_FIELDS, BenchSettings, benchmark_variant
from suite.measure.evaluate import measure, parse_angles, random_angles
from tests.cli import run_main


@pytest.fixture(scope="module")
def small(mnist) -> ImageData:
    return mnist.subset(64, 300)


def _acc(rows):
    return {r["angle"]: r["value"] for r in rows if r["metric"] == "acc"}


@pytest.mark.parametrize("name", ["gcnn-c4", "stack-c4", "escnn-c4"])
def test_sweep_of_a_c4_model_repeats_every_quarter_turn(name, small):
    torch.manual_seed(1)
    model = registry.get(name)
    rows, confusions, correct = measure(model, small, 32, [0, 15, 105, 195, 285])
    acc = _acc(rows)
    assert acc[0] == acc[90] == acc[180] == acc[270]
    bits = {r["angle"]: decode(r["bits"], r["images"]) for r in correct if r["metric"] == "acc"}
    # the same images right at every quarter turn, and the bits give each accuracy
    assert all((bits[a] == bits[0]).all() for a in (90, 180, 270))
    assert all(100 * bits[a].mean() == pytest.approx(acc[a]) for a in acc)
    assert acc[15] == acc[105] == acc[195] == acc[285]
    assert sum(c["count"] for c in confusions if c["condition"] == "random") == 300
    scalars = {r["metric"]: r["value"] for r in rows if r["angle"] == ""}
    assert scalars["invariance_err"] < 1e-4
    assert {"acc_c4_mean", "acc_c4_min", "acc_random"} <= set(scalars)


def test_sweep_of_the_plain_cnn_depends_on_the_angle(small):
    torch.manual_seed(1)
    rows, _, correct = measure(registry.get("cnn"), small, 32, [0, 45])
    random_bits = next(r for r in correct if r["metric"] == "acc_random")
    assert random_bits["images"] == 300 and len(decode(random_bits["bits"], 300)) == 300
    scalars = {r["metric"]: r["value"] for r in rows if r["angle"] == ""}
    assert scalars["invariance_err"] > 1e-3


def test_random_angles_are_fixed_and_uniform():
    a, b = random_angles(10_000), random_angles(10_000)
    assert torch.equal(a, b)
    assert 0 <= a.min() and a.max() < 360 and abs(a.mean().item() - 180) < 5


def test_parse_angles():
    assert parse_angles("0:360:90") == (0, 90, 180, 270)
    assert parse_angles("45, 405, -90") == (45, 270)
    for bad in ("", "a,b", "0:360:0", "1:2"):
        with pytest.raises(UsageError, match="angles") as raised:
            parse_angles(bad)
        assert raised.value.param == "angles"


def test_benchmark_rows_follow_the_schema():
    settings = BenchSettings(infer_batches=(1, 8), train_batches=(8,), warmup=1, repeats=2)
    cnn = benchmark_variant("cnn", torch.device("cpu"), settings)
    stack = benchmark_variant("stack-c4", torch.device("cpu"), settings)
    escnn = benchmark_variant("escnn-c4", torch.device("cpu"), settings)
    for row in cnn + stack + escnn:
        assert tuple(row) == THROUGHPUT_FIELDS
        assert row["samples_per_s"] > 0 and row["step_ms"] > 0 and row["flops"] > 0
    assert {(r["bench"], r["batch_size"]) for r in cnn} == {("infer", 1), ("infer", 8), ("train", 8)}
    assert 3.5 < stack[0]["flops"] / cnn[0]["flops"] < 4.5  # the stack runs the CNN four times
    assert {r["form"] for r in escnn if r["bench"] == "infer"} == {"native", "exported", "twin"}
    assert {r["form"] for r in escnn if r["bench"] == "train"} == {"native", "twin"}
    assert {r["form"] for r in stack} == {"native"}  # no expanded filters, so no twin
    assert {r["layout"] for r in cnn} == {"contiguous"}
    assert BenchSettings.for_device(torch.device("cpu")).layout == "auto"  # as `suite run` trains


@pytest.mark.parametrize(
    ("field", "value"),
    [("repeats", 0), ("repeats", -1), ("warmup", -1), ("infer_batches", (1, 0)), ("train_batches", (-8,))],
)
def test_bench_settings_refuse_values_that_measure_nothing(field, value):
    with pytest.raises(UsageError) as raised:
        BenchSettings(**{field: value})
    assert raised.value.param == field
    assert raised.value.message.startswith(str(value))
    assert "--" not in raised.value.message  # the library names its parameters, not flags


def test_bench_settings_accept_the_smallest_sweep():
    assert BenchSettings(warmup=0, repeats=1, infer_batches=(1,), train_batches=(1,)).repeats == 1


def test_bench_with_no_repeats_is_one_usage_line(capsys):
    from suite.cli.main import main

    with pytest.raises(SystemExit) as exited:
        main(["bench", "--repeats", "0"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "repeats" in err and "Traceback" not in err


def test_bench_compares_a_layout_against_the_default(capsys):
    """`suite bench --layout contiguous` on CPU measures both layouts in one run and prints the ratios."""
    from suite.cli.main import main

    assert main(["bench", "--device", "cpu", "--variants", "cnn", "--batches", "4", "--repeats", "1",
                 "--layout", "contiguous"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "channels_last" in out and "contiguous" in out
    assert "throughput with layout=contiguous / default" in out
    compared = [line for line in out.splitlines() if line.strip().startswith("cnn ") and "batch" in line]
    assert len(compared) >= 6  # 2 layouts x (infer 1 batch + train 1 batch) rows + 2 ratio lines


def test_twins_match_the_expanded_shapes():
    from suite.measure.twins import plain_twin

    torch.manual_seed(0)
    for name in ("gcnn-c4", "escnn-c4"):
        model = registry.get(name)
        twin = plain_twin(model)
        convs = [m for m in twin.modules() if isinstance(m, torch.nn.Conv2d)]
        assert len(convs) == 3
        x = torch.rand(4, 1, 28, 28)
        with torch.no_grad():
            assert twin(x).shape == (4, 10)
    assert plain_twin(registry.get("cnn")) is None


def test_ratios_from_rows():
    from suite.measure.ratios import ratios

    rows = [
        {"variant": "v", "bench": "infer", "form": "native", "batch_size": 64, "samples_per_s": 90.0},
        {"variant": "v", "bench": "infer", "form": "twin", "batch_size": 64, "samples_per_s": 100.0},
        {"variant": "v", "bench": "train", "form": "native", "batch_size": 64, "step_ms": 10.0},
        {"variant": "v", "bench": "train", "form": "twin", "batch_size": 64, "step_ms": 6.0},
    ]
    found = {r["ratio"]: r["value"] for r in ratios(rows)}
    assert found["infer native / twin"] == pytest.approx(0.9)
    assert found["train expansion overhead share"] == pytest.approx(0.4)


def test_option_ratios_pair_rows_measured_both_ways():
    from suite.measure.ratios import option_ratios

    def row(form, batch, speed):
        return {"variant": "v", "bench": "infer", "form": form, "batch_size": batch, "samples_per_s": speed}

    default = [row("native", 64, 100.0), row("twin", 64, 50.0)]
    with_bf16 = [row("native", 64, 150.0), row("native", 1024, 900.0)]  # 1024: no default to compare
    assert option_ratios(default, with_bf16) == [
        {"variant": "v", "bench": "infer", "form": "native", "batch_size": 64, "value": 1.5}
    ]


def test_models_without_expanded_filters_have_no_twin_and_are_not_copied():
    """e3nn's compiled modules cannot be deep-copied: the twin builder must not try."""
    from suite.measure.twins import plain_twin

    assert plain_twin(registry.get("e3nn-o2")) is None


def test_pipeline_comparison_reports_every_timing_and_ratio(mnist):
    """`suite bench --pipeline` on a few batches: the three epochs, the batches-only timings and
    the ratios derived from them (values depend on the machine; their consistency does not)."""
    from suite.measure.pipelines import compare_pipelines

    found = compare_pipelines(mnist, torch.device("cpu"), images=256, rounds=2)
    assert found["images"] == 256 and found["rounds"] == 2 and found["layout"] == "channels-last"
    seconds = [k for k in found if k.endswith("_s")]
    assert len(seconds) == 5 and all(found[k] > 0 for k in seconds)
    assert found["aug_cost_ratio"] == pytest.approx(found["on_device_c4_aug_s"] / found["on_device_no_aug_s"])
    assert found["speedup_vs_torchvision"] == pytest.approx(
        found["torchvision_c4_aug_s"] / found["on_device_c4_aug_s"]
    )
    assert found["batches_only_speedup"] == pytest.approx(
        found["batches_only_torchvision_s"] / found["batches_only_on_device_s"]
    )
    model_only = found["on_device_c4_aug_s"] - found["batches_only_on_device_s"]
    assert found["speedup_ceiling"] == (
        pytest.approx(found["torchvision_c4_aug_s"] / model_only) if model_only > 0 else None
    )


def test_correctness_bits_round_trip_and_refuse_a_wrong_length():
    rng = np.random.default_rng(0)
    for n in (1, 7, 8, 9, 10_000):
        flags = rng.random(n) < 0.5
        assert (decode(encode(flags), n) == flags).all()
    with pytest.raises(ValueError, match="cannot hold"):
        decode(encode(np.ones(16, bool)), 300)


def test_a_stack_is_timed_against_k_times_its_one_copy_cnn():
    from suite.measure.limits import LIMIT_FIELDS, stack_limits

    settings = BenchSettings(infer_batches=(8,), train_batches=(8,), warmup=1, repeats=2)
    rows = stack_limits("stack-c4", torch.device("cpu"), settings)
    assert [(r["bench"], r["batch_size"], r["limit"]) for r in rows] == [
        ("infer", 8, "4 × one copy"),
        ("train", 8, "4 × one copy"),
    ]
    assert all(set(r) == set(LIMIT_FIELDS) and r["ratio_to_limit"] > 0 for r in rows)
    assert stack_limits("cnn", torch.device("cpu"), settings) == []  # not a stack: no such limit
    stack = registry.get("stack-c4").eval()
    single = stack.one_copy().eval()
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():  # the one-copy CNN is the stack's layers on one copy (its limit's unit)
        assert torch.allclose(single.features(x), stack.features(x))


def test_an_expanded_form_is_timed_against_its_plain_cnn_twin():
    from suite.measure.limits import LIMIT_FIELDS
    from suite.measure.ratios import twin_limits

    def row(form, bench, ms):
        return {"variant": "g", "bench": bench, "form": form, "batch_size": 64, "step_ms": ms,
                "peak_mem_mb": ""}  # fmt: skip

    rows = [row("native", "infer", 3.0), row("twin", "infer", 2.0), row("native", "train", 5.0),
            row("twin", "train", 4.0), row("exported", "infer", 2.0)]  # fmt: skip
    limits = twin_limits(rows)
    assert [(r["bench"], r["ratio_to_limit"], r["limit"]) for r in limits] == [
        ("infer", 1.5, "plain-CNN twin"),
        ("train", 1.25, "plain-CNN twin"),
    ]
    assert all(set(r) == set(LIMIT_FIELDS) for r in limits)
    assert twin_limits([row("native", "infer", 3.0)]) == []  # no twin: no such limit


def test_bench_writes_what_it_printed_with_its_command_line(tmp_path, capsys):
    """`suite bench --out` writes every measured row and bench.json (environment, settings, the
    command line, ratios, limits, option ratios and the pipeline comparison), in that order."""
    import json

    from suite.cli.main import main

    argv = ["bench", "--device", "cpu", "--variants", "cnn", "--batches", "4", "--repeats", "1", "--pipeline",
            "--pipeline-images", "128", "--pipeline-rounds", "1", "--out", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "pipeline, cnn-aug, 128 mnist training images" in out and "speed-up vs torchvision" in out
    assert f"written: {tmp_path / 'throughput.csv'}, {tmp_path / 'bench.json'}" in out
    written = json.loads((tmp_path / "bench.json").read_text())
    keys = ["environment", "settings", "command", "ratios", "limits", "option_ratios", "pipeline"]
    assert list(written) == keys
    assert written["command"] == ["suite", *argv] and written["pipeline"]["images"] == 128
    assert (tmp_path / "throughput.csv").read_text().startswith(",".join(THROUGHPUT_FIELDS))


def test_against_times_every_variant_in_one_loop_and_writes_its_ratios(tmp_path, capsys):
    """`suite bench --against`: one row per variant, bench and batch, and each other variant's step
    over the reference's (the reference comes first, however it was named)."""
    import json

    code, stderr = run_main(capsys, "bench", "--variants", "cnn,stack-c4", "--against", "stack-c4",
                            "--batches", "4", "--repeats", "1", "--out", str(tmp_path))  # fmt: skip
    assert code == 0, stderr
    written = json.loads((tmp_path / "bench.json").read_text())
    rows = {(r["variant"], r["bench"]): r for r in csv.DictReader(open(tmp_path / "steps.csv"))}
    assert written["against"] == "stack-c4" and len(rows) == 4
    for r in written["step_ratios"]:
        assert r["variant"] == "cnn" and r["batch_size"] == 4
        mine, theirs = (float(rows[(v, r["bench"])]["step_ms"]) for v in ("cnn", "stack-c4"))
        assert r["step_ratio"] == pytest.approx(mine / theirs, rel=1e-3)
    assert {r["bench"] for r in written["step_ratios"]} == {"infer", "train"}


def test_step_ratios_pair_the_same_bench_and_batch():
    from suite.measure.versus import ratios_against

    rows = [{"variant": v, "bench": b, "batch_size": n, "step_ms": ms} for v, b, n, ms in [
        ("ref", "train", 64, 2.0), ("x", "train", 64, 3.0),
        ("ref", "infer", 64, 4.0), ("x", "infer", 64, 1.0),
        ("x", "infer", 1024, 9.0),  # no reference row at this batch: no ratio
    ]]  # fmt: skip
    found = {(r["bench"], r["batch_size"]): r["step_ratio"] for r in ratios_against(rows, "ref")}
    assert found == {("train", 64): 1.5, ("infer", 64): 0.25}
