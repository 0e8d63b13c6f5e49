"""The 3-D track's data: the 29 one-sided pentacubes and MNIST extruded into slabs, generated
offline and deterministically; the cube's rotations act on them exactly."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from suite import registry
from suite.data.groups import get_group
from suite.data.volumes import GRID, SHIFT, canonical, digits3d_data, polycube_data, polycubes
from suite.errors import UsageError


def test_there_are_29_one_sided_pentacubes_23_free_ones_and_6_mirror_pairs():
    shapes = polycubes()
    mirrored = [canonical(tuple(map(tuple, (np.array(s) * [-1, 1, 1]).tolist()))) for s in shapes]
    assert len(shapes) == 29 and len({min(s, m) for s, m in zip(shapes, mirrored, strict=True)}) == 23
    chiral = [s for s, m in zip(shapes, mirrored, strict=True) if s != m]
    assert len(chiral) == 12 and all(m in shapes for m in mirrored)  # each mirror is another class
    assert [len(polycubes(n)) for n in (1, 2, 3, 4)] == [1, 1, 2, 8]  # the one-sided polycubes


def test_polycubes_are_deterministic_balanced_and_fit_the_grid():
    a, b = polycube_data(4, 2, seed=3), polycube_data(4, 2, seed=3)
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.test_y, b.test_y)
    assert a.train_x.shape == (4 * 29, 1, GRID, GRID, GRID) and a.train_x.dtype == torch.uint8
    assert torch.bincount(a.train_y).tolist() == [4] * 29
    assert a.task.kind == "3d" and a.task.classes == 29 and a.group == "O"
    assert not torch.equal(polycube_data(4, 2, seed=4).train_x, a.train_x)
    bright = (a.train_x > 120).flatten(1).sum(1)  # five blocks of 2³ or 3³ voxels, some overlapping
    assert bright.min() >= 5 * 8 - 16 and bright.max() <= 5 * 27


def test_polycubes_sit_near_the_middle_of_the_grid():
    """Each shape's blocks lie around the grid's middle (moved by at most SHIFT voxels, and a
    jittered block by one more), never anywhere in the grid: the position is not what to learn."""
    data = polycube_data(6, 1, seed=1)
    for volume in data.train_x[:, 0]:
        cells = (volume > 100).nonzero()  # blocks ~ N(200, 25), background ~ N(20, 12)
        middle = (cells.min(0).values + cells.max(0).values).float() / 2
        assert ((middle - (GRID - 1) / 2).abs() <= SHIFT + 1.5).all(), middle


def voxels(cells, size=6):
    volume = torch.zeros(1, 1, size, size, size)
    for x, y, z in cells:
        volume[0, 0, x, y, z] = 1.0
    return volume


def placed(volume):
    """The filled voxels, shifted to the origin: a shape's pose, wherever it lies in the grid."""
    cells = volume[0, 0].nonzero()
    return sorted(map(tuple, (cells - cells.min(0).values).tolist()))


def test_the_cube_group_turns_a_volume_exactly_and_keeps_chirality():
    cube = get_group("O")
    volume = polycube_data(1, 1, seed=0).train_x[:1].float()
    for element in cube.elements:  # voxels are moved, never interpolated
        assert torch.equal(element.act(volume).flatten().sort().values, volume.flatten().sort().values)
    shapes = polycubes()
    mirrored = [canonical(tuple(map(tuple, (np.array(s) * [-1, 1, 1]).tolist()))) for s in shapes]
    for shape, mirror in zip(shapes, mirrored, strict=True):
        v = voxels(shape)
        turned_to_mirror = any(placed(e.act(v)) == placed(v.flip(-1)) for e in cube.elements)
        # a rotation reaches the mirror image of an achiral piece; never that of a chiral one
        assert turned_to_mirror == (shape == mirror), shape


def test_digits3d_extrudes_the_digits_into_a_slab(mnist):
    data = digits3d_data(mnist, 20, 10)
    assert (
        data.train_x.shape == (20, 1, GRID, GRID, GRID) and data.test_y.tolist() == mnist.test_y[:10].tolist()
    )
    depth_profile = data.train_x.float().sum(dim=(0, 1, 3, 4))
    assert (
        (depth_profile[6:10] > 0).all() and (depth_profile[:6] == 0).all() and (depth_profile[10:] == 0).all()
    )


def test_a_2d_variant_is_refused_on_volumes_before_anything_is_written(tmp_path, capsys):
    from tests.cli import run_main

    code, err = run_main(capsys, "run", "--dataset", "polycubes", "--profile", "smoke", "--variants", "cnn",
                         "--out", str(tmp_path / "run"))  # fmt: skip
    assert code == 2 and "cnn serves 2d data, not 3d" in err and not (tmp_path / "run").exists()
    with pytest.raises(UsageError, match="serves 2d data"):
        from suite.task import Task

        registry.get("cnn", task=Task((16, 16, 16), 1, 29, "O"))


@pytest.mark.parametrize("name", registry.select("all", "3d"))
def test_the_3d_variants_serve_volumes_keep_their_claims_and_resume_from_checkpoints(name, tmp_path):
    from suite.measure.conformance import TOLERANCE, claim_holds, learns, symmetry_errors
    from tests.test_conformance import checkpoint_round_trip

    data = polycube_data(2, 1, seed=1)
    x, y = data.train_x[:4].float() / 255, data.train_y[:4]
    torch.manual_seed(0)
    model = registry.get(name, task=data.task)
    params = registry.count_params(model)  # the tutorial's layout in 3-D, 29 classes: 20,589
    assert params == 20_589 if name.startswith(("cnn3d", "stack")) else abs(params / 20_589 - 1) < 0.05
    with torch.no_grad():
        assert model.eval()(x).shape == (4, 29)
    errors = symmetry_errors(model, x[:1])  # one volume: 47 forwards of the largest models
    assert claim_holds(registry.get_variant(name).claims, errors), (name, errors)
    if registry.get_variant(name).claims == "O":  # rotations only: chiral pairs stay apart
        # regular fields permute exactly; e3nn's and escnn-so3's float32 Fourier products round
        exact = 1e-5 if registry.get_variant(name).family != "e3nn" and name != "escnn-so3" else TOLERANCE
        assert errors["rot90"] < exact and errors["mirror"] > 1e-4
    assert learns(model, [(x[:1], y[:1]), (x[1:2], y[1:2])]), name
    if name == "escnn-o":  # escnn's layers change their state dict on train(): a resume rebuilds
        checkpoint_round_trip(model, lambda: registry.get("escnn-o", task=data.task), x, y, tmp_path / "o.pt")


def test_escnn_oh_at_100k_parameters_is_within_five_percent():
    """tests/test_budgets.py's check, here where escnn-oh's bases are sampled anyway."""
    from tests.test_budgets import ELSEWHERE, test_100k_budget_within_five_percent

    assert ELSEWHERE == {"escnn-oh"}
    test_100k_budget_within_five_percent("escnn-oh")


def test_a_volume_grid_that_does_not_halve_to_the_read_out_is_refused():
    from suite.task import Task

    with pytest.raises(UsageError, match="18×18×18 is not: resize or pad the volumes to 16 or 20"):
        registry.get("stack-o", task=Task((18, 18, 18), 1, 29, "O"))


def test_volumes_are_measured_under_every_rotation_of_the_cube():
    from suite.data.rotations import rotate_volumes
    from suite.measure.conformance import TOLERANCE
    from suite.measure.volumes import measure_volumes, random_rotations

    data = polycube_data(1, 1, seed=2)
    data = type(data)(data.train_x, data.train_y, data.test_x[:4], data.test_y[:4], "t", "polycubes",
                      data.classes, group="O")  # fmt: skip
    torch.manual_seed(0)
    rows, confusions, correct = measure_volumes(registry.get("gcnn-o", task=data.task), data, 4)
    acc = {r["angle"]: r["value"] for r in rows if r["metric"] == "acc_o"}
    assert sorted(acc) == list(range(24)) and len(set(acc.values())) == 1  # invariant: the same at each
    scalars = {r["metric"]: r["value"] for r in rows if r["angle"] == ""}
    assert scalars["acc_o_mean"] == scalars["acc_o_min"] == acc[0] and scalars["invariance_err"] < TOLERANCE
    assert {"acc_random", "acc_balanced"} <= set(scalars)
    assert len([c for c in correct if c["metric"] == "acc_o"]) == 24
    turned = rotate_volumes(data.test_x[:1].float(), random_rotations(1))  # trilinear: mass kept roughly
    assert turned.shape == (1, 1, GRID, GRID, GRID) and turned.sum() > 0.5 * data.test_x[:1].float().sum()


def test_training_augmentation_turns_each_volume_by_its_drawn_rotation():
    from suite.data.groups import CUBE
    from suite.data.rotations import apply_augmentation, draw_augmentation

    x = torch.rand(30, 1, 4, 4, 4)
    draws = draw_augmentation("o", 30, torch.Generator().manual_seed(0))
    out = apply_augmentation(x, "o", draws)
    for i in range(30):
        assert torch.equal(out[i : i + 1], CUBE.elements[int(draws[i])].act(x[i : i + 1]))


def test_the_group_cnn_over_the_cube_has_a_plain_3d_twin_with_its_expanded_shapes():
    from suite.measure.twins import plain_twin

    torch.manual_seed(0)
    model = registry.get("gcnn-o").eval()
    twin = plain_twin(model)
    x = torch.rand(2, 1, GRID, GRID, GRID)
    convs = [m for m in twin.modules() if isinstance(m, torch.nn.Conv3d)]
    assert [tuple(c.weight.shape) for c in convs] == [tuple(m.expanded()[0].shape) for m in model.features
                                                       if hasattr(m, "expanded")]  # fmt: skip
    with torch.no_grad():
        assert twin(x).shape == model(x).shape == (2, 29)


def test_so3_augmentation_draws_rotations_and_turns_volumes_trilinearly():
    """``so3`` draws rotations of space (orthonormal, determinant +1) and applies them; a quarter
    turn drawn that way moves voxel centres onto voxel centres, so it equals the exact turn."""
    from suite.data.rotations import apply_augmentation, draw_augmentation, quaternion_matrices

    draws = draw_augmentation("so3", 64, torch.Generator().manual_seed(0))
    matrices = quaternion_matrices(draws)
    assert torch.allclose(matrices @ matrices.transpose(1, 2), torch.eye(3).expand(64, 3, 3), atol=1e-5)
    assert torch.allclose(torch.linalg.det(matrices), torch.ones(64), atol=1e-5)
    volume = polycube_data(1, 1, seed=5).train_x[:1].float()
    identity = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    assert torch.allclose(apply_augmentation(volume, "so3", identity), volume, atol=1e-3)
    half = math.sqrt(0.5)  # 90° about one axis: (cos 45°, sin 45° along it)
    turned = apply_augmentation(volume, "so3", torch.tensor([[half, half, 0.0, 0.0]]))
    exact = [torch.rot90(volume, k, dims) for dims in ((2, 3), (3, 4), (2, 4)) for k in (1, 3)]
    assert min((turned - e).abs().max().item() for e in exact) < 1e-2
    assert (turned - volume).abs().max().item() > 10  # it did turn


def chiral_pentacube() -> torch.Tensor:
    """A rendered pentacube that no rotation turns into its mirror image, (1, 1, 16, 16, 16)."""
    shapes = polycubes()
    mirrored = [canonical(tuple(map(tuple, (np.array(s) * [-1, 1, 1]).tolist()))) for s in shapes]
    chiral = next(i for i, (s, m) in enumerate(zip(shapes, mirrored, strict=True)) if s != m)
    data = polycube_data(1, 1, seed=0)
    return data.train_x[data.train_y == chiral][:1].float() / 255


def test_e3nn_so3_keeps_a_chiral_pentacube_apart_from_its_mirror_image_and_its_turns_together():
    """Its read-out takes pseudoscalars (0o), which change sign under a mirror: the logits of a chiral
    piece and its mirror image differ, while those of its 24 turns agree. Zero the head's weights on
    the 0o features and the model reads scalars (0e) only: the same for a volume and its mirror."""
    from models.volumetric._e3nn3d import e3nn3d_params
    from suite.measure.conformance import dead_parameters

    x = chiral_pentacube()
    turns = torch.cat([e.act(x) for e in get_group("O").elements])
    torch.manual_seed(0)
    model = registry.get("e3nn-so3").eval()
    with torch.no_grad():
        logits = model(torch.cat([turns, x.flip(-1)]))
        assert (logits[:24] - logits[0]).abs().max() < 1e-4  # O-invariant (to float32 rounding: ~1e-5)
        assert (logits[24] - logits[0]).abs().max() > 1e-3  # apart (≈6e-3 at initialisation)
        model.head.weight[:, model.widths[-1] :] = 0.0  # the columns reading the 0o features
        scalars_only = model(torch.cat([x, x.flip(-1)]))
        assert (scalars_only[0] - scalars_only[1]).abs().max() < 1e-4
    torch.manual_seed(0)
    model = registry.get("e3nn-so3")
    assert e3nn3d_params(model.widths) == registry.count_params(model) == 20_273  # the fit's count
    batch = torch.cat([turns[:4], torch.rand(4, 1, GRID, GRID, GRID)])
    assert dead_parameters(model, batch, torch.arange(8)) == 0  # every weight learns, on volumes


def test_the_cube_s_full_group_is_its_48_exact_symmetries_and_is_measured_on_mirrored_volumes():
    from suite.data.groups import FULL_CUBE
    from suite.measure.volumes import measure_volumes

    probe = torch.arange(27.0).view(1, 1, 3, 3, 3)
    images = {tuple(e.act(probe).flatten().tolist()) for e in FULL_CUBE.elements}
    assert len(images) == 48 and len(FULL_CUBE.mirrors) == 24 and get_group("oh") is FULL_CUBE
    data = polycube_data(1, 1, seed=2)
    data = type(data)(data.train_x, data.train_y, data.test_x[:2], data.test_y[:2], "t", "polycubes",
                      data.classes, group="Oh")  # fmt: skip
    torch.manual_seed(0)
    rows, _, correct = measure_volumes(registry.get("gcnn-o", task=data.task), data, 2)
    mirrored = [r["value"] for r in rows if r["metric"] == "acc_o_mirror"]
    scalars = {r["metric"]: r["value"] for r in rows if r["angle"] == ""}
    assert len(mirrored) == 24 and len(set(mirrored)) == 1  # a rotation of a mirror image: one mirror
    assert scalars["acc_o_mirror_mean"] == scalars["acc_o_mirror_min"] == mirrored[0]
    assert len([c for c in correct if c["metric"] == "acc_o_mirror"]) == 24
    assert scalars["invariance_err"] > 1e-4  # gcnn-o is invariant to rotations, not to mirror images


def chiral_pair() -> tuple[torch.Tensor, torch.Tensor]:
    """A chiral pentacube in a 16³ volume (blocks of 2³ voxels) and its mirror image."""
    shapes = polycubes()
    shape = next(s for s in shapes if canonical(tuple(map(tuple, (np.array(s) * [-1, 1, 1]).tolist()))) != s)
    volume = voxels(shape, size=GRID // 2).repeat_interleave(2, -3).repeat_interleave(2, -2)
    volume = volume.repeat_interleave(2, -1)
    return volume, volume.flip(-1)


def test_escnn_oh_cannot_tell_a_chiral_pentacube_from_its_mirror_image_the_o_models_can():
    from suite.data.groups import CUBE

    piece, mirror = chiral_pair()
    for name in ("escnn-oh", "escnn-o", "gcnn-o", "stack-o"):
        torch.manual_seed(0)
        model = registry.get(name).eval()
        with torch.no_grad():
            logits, mirrored = model(piece), model(mirror)
            turned = model(CUBE.elements[5].act(mirror))  # the mirror image turned: still a mirror image
        rotation_error = (turned - mirrored).abs().max().item()
        assert rotation_error < 1e-4, name  # all four are invariant to rotations
        gap = (logits - mirrored).abs().max().item()  # untrained: small logits, small gaps
        if name == "escnn-oh":
            assert gap < 1e-4, gap
        else:  # a change the claim check would call broken, and far beyond the float error
            assert gap > 1e-4 and gap > 10 * rotation_error, (name, gap, rotation_error)


def test_escnn_over_the_cube_expands_its_filters_as_escnn_does_and_exports_to_conv3d():
    """models/planar/_escnn_fused.py's one-matmul expansion on R3Conv: escnn's own logits (1e-5
    relative), in train and eval mode; ``export()`` gives plain Conv3d computing the same."""
    from models.planar._escnn_fused import FusedR3Conv
    from suite.measure.twins import plain_twin

    x = torch.rand(2, 1, GRID, GRID, GRID, generator=torch.Generator().manual_seed(0))
    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8").split())
    readme_widths = {"escnn-o": "5-7-8", "escnn-oh": "2-5-7"}  # as the 3-D track's prose quotes them
    for name in ("escnn-o", "escnn-oh"):
        torch.manual_seed(0)
        model = registry.get(name)
        count = sum(p.numel() for p in model.parameters())
        assert f"{readme_widths[name]}, {count:,} parameters" in readme, (name, count)
        fused = [m for m in model.modules() if isinstance(m, FusedR3Conv)]
        assert len(fused) == 3 and all(m._block_shape is not None for m in fused)
        outputs = {}
        for path in ("fused", "escnn"):
            if path == "escnn":
                for m in fused:
                    m._block_shape = None  # escnn's own BlocksBasisExpansion
            with torch.no_grad():
                outputs[path] = [model.train()(x), model.eval()(x)]
        for mine, theirs in zip(outputs["fused"], outputs["escnn"], strict=True):
            assert torch.allclose(mine, theirs, rtol=1e-5, atol=1e-6), name
        exported = model.export()
        assert sum(isinstance(m, torch.nn.Conv3d) for m in exported.modules()) == 3
        with torch.no_grad():
            assert torch.allclose(exported(x), outputs["escnn"][1], rtol=1e-5, atol=1e-6)
            assert plain_twin(model)(x).shape == (2, 29)


def test_a_run_on_volumes_checks_the_3d_claims_exact_invariance_and_the_stack_s_24x():
    """summary.md's claims on volumes: an O model's mean over the 24 rotations minus upright (an
    equivalence test), and stack-o's FLOPs against the plain 3-D CNN's (about 24×)."""
    from suite.report.claims import CLAIMS, stack_ratio, turned_equals_upright
    from suite.report.evidence import Evidence

    statements = {c.statement: c for c in CLAIMS}
    assert any("24×" in s for s in statements) and any("cube as upright" in s for s in statements)

    class Volumes:  # the parts of a run's results the two decisions read
        throughput = pd.DataFrame({"variant": ["cnn3d", "stack-o"], "flops": [5.34e6, 128.19e6]})

        @staticmethod
        def infer_throughput(variant):
            return {"cnn3d": 2400.0, "stack-o": 110.0}[variant]

    text, verdict = stack_ratio(24)(Volumes(), {"plain": ["cnn3d"], "stack": ["stack-o"]}, None)
    assert "about 24× means 21–27" in text and verdict == "holds"

    class Scores(Evidence):  # three seeds of 100 volumes, every rotation right where upright is
        def __init__(self):
            pass

        def scores(self, variant, measure, point=None, seeds=None):
            rng = np.random.default_rng(0)
            return rng.integers(0, 2, (3, 100)).astype(float)

    text, verdict = turned_equals_upright(None, {"equivariant": ["gcnn-o"]}, Scores())
    assert "`gcnn-o` 0.00 [0.00, 0.00] (3 seeds)" in text and verdict == "holds"


def test_a_default_run_on_volumes_says_which_variants_it_leaves_out_and_why():
    from suite.report.tables import left_out_section
    from suite.runs.config import RunConfig, make_config

    config = make_config(None, "quick", "polycubes")
    assert set(config.variants) == {"cnn3d", "cnn3d-aug", "stack-o", "gcnn-o", "escnn-o"}
    assert set(config.left_out) == {"cnn3d-aug-so3", "escnn-oh", "escnn-so3", "e3nn-so3"}
    assert "4× gcnn-o" in config.left_out["e3nn-so3"] and "mirror pairs" in config.left_out["escnn-oh"]
    assert RunConfig.from_dict(config.to_dict()).left_out == config.left_out  # kept in the manifest
    lines = left_out_section(config.to_dict())
    assert lines[0].startswith("Not in this run") and any(
        line.startswith("- `e3nn-so3`: too slow") for line in lines
    )
    assert make_config("cnn3d,gcnn-o", "quick", "polycubes").left_out == {}  # chosen: nothing to explain
    assert left_out_section({}) == []  # runs from before the field


def test_the_main_table_of_a_run_under_oh_shows_the_mirrored_rotations(monkeypatch):
    from suite.report import tables
    from suite.report.results import RunResults

    measured = {"acc_o_mean": 91.0, "acc_o_min": 90.5, "acc_o_mirror_mean": 47.25, "acc_o_mirror_min": 40.0}
    rows = [("gcnn-o", metric, value) for metric, value in measured.items()]
    run = RunResults.__new__(RunResults)
    run.metrics = pd.DataFrame(rows, columns=["variant", "metric", "value"])  # fmt: skip
    monkeypatch.setattr(tables, "cell", lambda evidence, variant, measure: f"<{measure}>")
    columns = tables.group_columns(run, None, "gcnn-o", "o_mean")
    assert columns == {
        "O mean": "<o_mean>", "O min (seed mean)": "90.50",
        "Oh mirror mean (seed mean)": "47.25", "Oh mirror min (seed mean)": "40.00",
    }  # fmt: skip
    run.metrics = run.metrics[~run.metrics.metric.str.startswith("acc_o_mirror")]  # a run under O
    assert list(tables.group_columns(run, None, "gcnn-o", "o_mean")) == ["O mean", "O min (seed mean)"]
