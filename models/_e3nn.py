"""The e3nn-o2 model (imported only when built: e3nn takes seconds to import).

e3nn's voxel convolution on the image as a one-voxel-thick volume: E(3)-equivariant layers,
restricted to the plane, give exact invariance to quarter turns and mirror flips on the grid."""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

from models._budget import fit_widths

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=UserWarning)
    from e3nn import o3
    from e3nn.nn import Gate
    from e3nn.nn.models.v2104.voxel_convolution import Convolution

FLAT = (1.0, 1.0, 100.0)  # voxel steps: the z step exceeds every radius, so kernels are 1 voxel deep
RADIAL_BASIS = 6
# (scalars, vectors 1o, tensors 2e) per hidden layer, then final scalars: most parameters sit in
# the 7×7 layer, which computes a single output pixel, so the budget costs little compute there.
BASE_WIDTHS = (3, 2, 1, 24)
TUTORIAL_WIDTHS = (10, 6, 3, 76)  # fit_widths(BASE_WIDTHS, e3nn_params, 13_978): 14,078 parameters


def _gate(scalars: int, vectors: int, tensors: int) -> Gate:
    gated = o3.Irreps(f"{vectors}x1o + {tensors}x2e").simplify()
    return Gate(
        f"{scalars}x0e", [F.silu],
        f"{vectors + tensors}x0e", [torch.sigmoid],
        gated,
    )  # fmt: skip


class E3nnPlanarCNN(nn.Module):
    """conv3×3 → gate → avg-pool → conv3×3 → gate → avg-pool → conv7×7 → SiLU → dense.

    Average pooling, unlike max pooling, commutes with rotating vector features; with even sizes
    (28 → 14 → 7) it maps the pixel grid onto itself.
    """

    def __init__(self, widths: tuple[int, int, int, int] = BASE_WIDTHS, num_classes: int = 10):
        super().__init__()
        scalars, vectors, tensors, final = self.widths = tuple(widths)
        sh = o3.Irreps.spherical_harmonics(2)
        gate1 = _gate(scalars, vectors, tensors)
        gate2 = _gate(scalars, vectors, tensors)
        self.conv1 = Convolution("1x0e", gate1.irreps_in, sh, 3.0, RADIAL_BASIS, steps=FLAT)
        self.gate1 = gate1
        self.conv2 = Convolution(gate1.irreps_out, gate2.irreps_in, sh, 3.0, RADIAL_BASIS, steps=FLAT)
        self.gate2 = gate2
        self.conv3 = Convolution(gate2.irreps_out, f"{final}x0e", sh, 7.0, RADIAL_BASIS, steps=FLAT,
                                 padding=(0, 0, 0))  # fmt: skip
        self.head = nn.Linear(final, num_classes)

    @staticmethod
    def _gated(gate: Gate, x: torch.Tensor) -> torch.Tensor:
        """Apply an e3nn Gate (channels last) to a (B, C, X, Y, Z) volume."""
        return gate(x.movedim(1, -1)).movedim(-1, 1)

    @staticmethod
    def _pool(x: torch.Tensor) -> torch.Tensor:
        """2×2 average pooling in the plane (avg_pool2d on the depth-1 volume: same values,
        several times faster than avg_pool3d on CPU)."""
        return F.avg_pool2d(x.squeeze(-1), 2).unsqueeze(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = x.unsqueeze(-1)  # (B, 1, 28, 28) → (B, 1, 28, 28, 1): a one-voxel-thick volume
        v = self._pool(self._gated(self.gate1, self.conv1(v)))
        v = self._pool(self._gated(self.gate2, self.conv2(v)))
        # The voxel convolution adds its self-connection on the input grid (it assumes "same"
        # padding), so a valid 7×7 conv comes back broadcast over 7×7; its centre pixel is exactly
        # the valid convolution plus the self-connection at the centre, which rotations fix.
        v = self.conv3(v)
        centre = v.shape[2] // 2
        v = F.silu(v[:, :, centre, centre, 0])  # (B, final): invariant scalars
        return self.head(v)


def e3nn_params(widths: tuple[int, ...]) -> int:
    """Parameters of a model built on the CPU. Not on the meta device (``count_on_meta``): e3nn's
    Gate normalises its activations by sampling with a ``torch.Generator`` on the current device at
    construction, which meta refuses ("META device type not an accelerator")."""
    return sum(p.numel() for p in E3nnPlanarCNN(widths).parameters())  # type: ignore[arg-type]


def build_e3nn(budget: int | None = None) -> E3nnPlanarCNN:
    """Tutorial widths (fitted once, checked by the tests), or widths fitted to ``budget``."""
    if budget is None:
        return E3nnPlanarCNN(TUTORIAL_WIDTHS)
    return E3nnPlanarCNN(fit_widths(BASE_WIDTHS, e3nn_params, budget))  # type: ignore[arg-type]
