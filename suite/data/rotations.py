"""Rotations of image and volume batches on their own device: exact quarter turns, bilinear angles,
the cube's rotations and trilinear rotations of space."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from suite.task import apply_turns, cube_rotations

CUBE = cube_rotations()  # the cube's 24 rotations as quarter turns (index 0: the identity)


def rot90(x: torch.Tensor, k: int) -> torch.Tensor:
    """Rotate ``(..., H, W)`` by ``k`` quarter turns counter-clockwise, exactly (no interpolation)."""
    return torch.rot90(x, k % 4, dims=(-2, -1))


def _quarter_turn_indices(height: int, width: int, device: torch.device) -> torch.Tensor:
    """Flat pixel indices ``(4, H*W)``: row k gathers an image rotated by k quarter turns."""
    grid = torch.arange(height * width, device=device).view(height, width)
    return torch.stack([rot90(grid, k).reshape(-1) for k in range(4)])


def rot90_per_sample(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Rotate each image ``x[i]`` (``(B, C, H, W)``, square) by ``k[i]`` quarter turns in one gather."""
    batch, channels, height, width = x.shape
    if height != width:
        raise ValueError("per-sample quarter turns need square images")
    index = _quarter_turn_indices(height, width, x.device)[k.to(x.device) % 4]  # (B, H*W)
    index = index.unsqueeze(1).expand(batch, channels, height * width)
    return x.reshape(batch, channels, -1).gather(2, index).view_as(x)


def cube_turn_per_sample(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Turn each volume ``x[i]`` (``(B, C, D, H, W)``) by the cube's rotation ``k[i]`` (an index
    into ``CUBE``), exactly: the volumes are turned in 24 groups, one per rotation drawn."""
    k = k.to(x.device)
    out = torch.empty_like(x)
    for index, turns in enumerate(CUBE):
        chosen = (k == index).nonzero().flatten()
        if len(chosen):
            out[chosen] = apply_turns(x[chosen], turns)
    return out


def rotate(x: torch.Tensor, degrees: float | torch.Tensor) -> torch.Tensor:
    """Rotate ``(B, C, H, W)`` counter-clockwise about the centre, bilinear, zeros outside.

    ``degrees`` is one angle or one per image. Same sense as :func:`rot90`, so rotating by 90
    here agrees with ``rot90(x, 1)`` up to float rounding.
    """
    batch = x.shape[0]
    angle = torch.as_tensor(degrees, dtype=torch.float32, device=x.device) * (math.pi / 180.0)
    angle = angle.expand(batch) if angle.dim() == 0 else angle
    cos, sin = torch.cos(angle), torch.sin(angle)
    zero = torch.zeros_like(cos)
    # affine_grid maps output coordinates (x right, y down) to input coordinates.
    theta = torch.stack([torch.stack([cos, -sin, zero], -1), torch.stack([sin, cos, zero], -1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def rotate_exact_or_bilinear(x: torch.Tensor, degrees: float) -> torch.Tensor:
    """Exact ``rot90`` at multiples of 90°, bilinear otherwise."""
    if float(degrees) % 90 == 0:
        return rot90(x, int(round(float(degrees) / 90)))
    return rotate(x, degrees)


def quaternion_matrices(q: torch.Tensor) -> torch.Tensor:
    """``(N, 3, 3)`` rotation matrices of ``(N, 4)`` quaternions (w, x, y, z), normalised here:
    Gaussian 4-vectors give rotations uniform on SO(3)."""
    w, x, y, z = (q / q.norm(dim=1, keepdim=True)).unbind(dim=1)
    rows = (
        (1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)),
        (2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)),
        (2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)),
    )
    return torch.stack([torch.stack(row, dim=1) for row in rows], dim=1)


def rotate_volumes(x: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """Turn each volume ``x[i]`` (``(B, C, D, H, W)``) about its centre by ``matrices[i]``,
    trilinear, zeros outside."""
    theta = torch.cat([matrices.to(x), torch.zeros(len(x), 3, 1, device=x.device, dtype=x.dtype)], dim=2)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def draw_augmentation(policy: str, count: int, generator: torch.Generator) -> torch.Tensor | None:
    """The random part of ``policy`` for ``count`` images, drawn on the CPU from ``generator`` so
    that it does not depend on the device: an independent quarter turn per image (``c4``), a
    uniform angle in [0°, 360°) per image (``so2``, applied bilinearly), a rotation of the cube per
    volume (``o``), a uniformly random rotation of space per volume (``so3``: a Gaussian quaternion,
    applied trilinearly), or None (``none``).

    Drawing a whole epoch at once gives the same numbers as drawing batch by batch, and lets the
    training loop move them to the device once instead of once per step (a host synchronisation).
    """
    if policy == "none":
        return None
    if policy == "c4":
        return torch.randint(0, 4, (count,), generator=generator)
    if policy == "so2":
        return torch.rand(count, generator=generator) * 360.0
    if policy == "o":
        return torch.randint(0, len(CUBE), (count,), generator=generator)
    if policy == "so3":
        return torch.randn(count, 4, generator=generator)
    raise ValueError(f"unknown augmentation policy {policy!r}; expected none, c4, so2, o or so3")


def apply_augmentation(x: torch.Tensor, policy: str, draws: torch.Tensor | None) -> torch.Tensor:
    """Rotate the batch ``x`` by its ``draws`` (from :func:`draw_augmentation`), on x's device."""
    if policy == "none":
        return x
    if policy == "c4":
        return rot90_per_sample(x, draws)
    if policy == "so2":
        return rotate(x, draws)
    if policy == "o":
        return cube_turn_per_sample(x, draws)
    if policy == "so3":
        return rotate_volumes(x, quaternion_matrices(draws))
    raise ValueError(f"unknown augmentation policy {policy!r}; expected none, c4, so2, o or so3")
