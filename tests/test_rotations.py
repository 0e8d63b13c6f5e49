import pytest
import torch

from suite.data.rotations import apply_augmentation, draw_augmentation, rot90, rot90_per_sample, rotate


def test_bilinear_rotation_agrees_with_rot90_at_quarter_turns():
    x = torch.rand(4, 1, 28, 28)
    for k in range(4):
        assert torch.allclose(rotate(x, 90 * k), rot90(x, k), atol=1e-5)


def test_per_sample_quarter_turns_match_rot90():
    x = torch.rand(6, 2, 28, 28)
    k = torch.tensor([0, 1, 2, 3, 3, 1])
    out = rot90_per_sample(x, k)
    for i in range(6):
        assert torch.equal(out[i], rot90(x[i], int(k[i])))


def augment(x: torch.Tensor, policy: str, seed: int) -> torch.Tensor:
    return apply_augmentation(
        x, policy, draw_augmentation(policy, len(x), torch.Generator().manual_seed(seed))
    )


def test_augmentation_is_reproducible_and_mixes_angles():
    x = torch.rand(256, 1, 28, 28)
    a = augment(x, "c4", 1)
    assert torch.equal(a, augment(x, "c4", 1))
    unchanged = sum(torch.equal(a[i], x[i]) for i in range(256))
    assert 30 < unchanged < 100  # about a quarter keep k = 0
    assert torch.equal(augment(x, "none", 1), x)


@pytest.mark.parametrize("policy", ["c4", "so2"])
def test_one_draw_per_epoch_equals_one_draw_per_batch(policy):
    """The training loop draws an epoch's turns at once; the numbers must be those of per-batch draws."""
    whole = draw_augmentation(policy, 1_000, torch.Generator().manual_seed(3))
    generator = torch.Generator().manual_seed(3)
    batched = torch.cat(
        [draw_augmentation(policy, min(64, 1_000 - s), generator) for s in range(0, 1_000, 64)]
    )
    assert torch.equal(whole, batched)
