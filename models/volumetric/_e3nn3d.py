"""The e3nn-so3 model (imported only when built: e3nn takes seconds to import).

e3nn's voxel convolution (``e3nn.nn.models.v2104.voxel_convolution``) in its native 3-D, with the
convolution, block (BatchNorm, Gate) and fitting of ``models.planar._e3nn`` and the gates chosen as
e3nn's own ``gate_points_2101`` network chooses them: hidden irreps 0e, 0o, 1o, 1e, 2e, 2o, each kept
only where a tensor-product path from the layer's input reaches it.

Why the read-out takes pseudoscalars: every layer is O(3)-equivariant, mirrors included. A mirror
image turns each 0e feature into itself and each 0o feature into minus itself; a head reading 0e
features only would therefore give a volume and its mirror image the same logits, and could never
tell a chiral pentacube from its mirror twin (another class). The head reads the 0e features and the
0o features (through an odd tanh, so their sign survives): the logits are invariant to rotations,
exactly on the grid, and change under a mirror. They are not mirror-invariant, and must not be.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

from models._budget import fit_widths
from models.planar._e3nn import SH, EquivariantBlock, VoxelConvolution
from models.volumetric._layers3d import CNN3D_WIDTHS, cnn3d_params
from suite.task import Task

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=UserWarning)
    from e3nn import o3
    from e3nn.nn import Activation, BatchNorm, Gate
    from e3nn.nn.models.gate_points_2101 import tp_path_exists

ACTIVATIONS = {1: F.silu, -1: torch.tanh}  # even scalars, odd (pseudo)scalars: e3nn's choice
# (scalars, vectors, tensors) per parity in the two feature layers, then the read-out's 0e and 0o each
BASE_WIDTHS = (18, 3, 1, 18)  # scalar-heavy: a path's weights do not grow with l, its channels do


def hidden_irreps(scalars: int, vectors: int, tensors: int) -> o3.Irreps:
    return o3.Irreps(
        f"{scalars}x0e + {scalars}x0o + {vectors}x1o + {vectors}x1e + {tensors}x2e + {tensors}x2o"
    )


def reached(irreps_in, hidden: o3.Irreps) -> tuple[o3.Irreps, o3.Irreps]:
    """(scalars, gated): the ``hidden`` irreps that a convolution of ``irreps_in`` with the harmonics
    reaches (an unreachable irrep would be zeros whose norm weights never learn)."""
    kept = [(mul, ir) for mul, ir in hidden if tp_path_exists(irreps_in, SH, ir)]
    return o3.Irreps([(m, ir) for m, ir in kept if ir.l == 0]), o3.Irreps(
        [(m, ir) for m, ir in kept if ir.l > 0]
    )


def parity_gate(irreps_in, hidden: o3.Irreps) -> Gate:
    """The Gate onto what a convolution of ``irreps_in`` reaches of ``hidden``, gated by 0e."""
    scalars, gated = reached(irreps_in, hidden)
    return Gate(
        scalars, [ACTIVATIONS[ir.p] for _, ir in scalars],
        f"{gated.num_irreps}x0e", [torch.sigmoid],
        gated,
    )  # fmt: skip


def parity_block(irreps_in, hidden: o3.Irreps) -> EquivariantBlock:
    """conv3³ → BatchNorm → Gate onto what the convolution reaches of ``hidden``."""
    return EquivariantBlock(irreps_in, parity_gate(irreps_in, hidden), dims=3)


class E3nnCubeCNN(nn.Module):
    """block → avg-pool → block → avg-pool → conv4³ (valid, to 0e and 0o) → BatchNorm → silu/tanh → dense.

    The tutorial's 3-D layout (16³ → 8³ → 4³ → 1), as the plain 3-D CNN: 3³ blocks on the 16³ and
    8³ grids, then a read-out convolution whose 4³ kernel, centred on the 4³ map, sees all of it
    (harmonics at half-integer offsets, 4 radial shells). Harmonics sampled on the cubic grid turn
    exactly with the grid's quarter turns; average pooling by 2 of an even, centred grid maps 2³
    cells onto 2³ cells and commutes with turning vector and tensor features: rotations of the cube
    leave the logits unchanged to rounding. The first block reaches 0e, 1o, 2e only (a 0e input
    with the harmonics 0e, 1o, 2e); the second adds 1e and 2o; the read-out's 0o come from 1e·1o
    and 2o·2e products, which is where handedness is seen.
    """

    def __init__(self, widths: tuple[int, ...] = BASE_WIDTHS, num_classes: int = 29, in_channels: int = 1):
        super().__init__()
        *hidden, final = self.widths = tuple(widths)
        irreps = hidden_irreps(*hidden)
        self.block1 = parity_block(f"{in_channels}x0e", irreps)
        self.block2 = parity_block(self.block1.irreps_out, irreps)
        scalars = o3.Irreps(f"{final}x0e + {final}x0o")
        self.readout = VoxelConvolution(self.block2.irreps_out, scalars, 4, padding=0, dims=3)
        self.norm = BatchNorm(scalars)  # 0e centred and scaled, 0o scaled only: their sign is kept
        self.act = Activation(scalars, [ACTIVATIONS[ir.p] for _, ir in scalars])
        self.head = nn.Linear(scalars.dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = F.avg_pool3d(self.block1(x), 2)
        v = F.avg_pool3d(self.block2(v), 2)
        v = self.readout(v).flatten(2).mean(-1)  # (B, 2·final): scalars and pseudoscalars (1³ at 16³)
        return self.head(self.act(self.norm(v)))


def e3nn3d_params(widths: tuple[int, ...], num_classes: int = 29, in_channels: int = 1) -> int:
    """Parameters of ``E3nnCubeCNN(widths, …)``, counted from its irreps without building it (e3nn's
    Gate cannot be built on the meta device, and a build on the CPU takes about a second): per
    convolution the tensor product's uvw weights per radial function and, for odd kernels, the
    self-connection; BatchNorm's weight per irrep and bias per 0e; the dense head."""

    def conv(irreps_in: o3.Irreps, irreps_out: o3.Irreps, size: int) -> int:
        tp = sum(
            m1 * m2 * mo for m1, i1 in irreps_in for m2, i2 in SH for mo, io in irreps_out if io in i1 * i2
        )
        sc = sum(mi * mo for mi, ii in irreps_in for mo, io in irreps_out if ii == io) if size % 2 else 0
        return shells(size) * tp + sc

    def norm(irreps: o3.Irreps) -> int:
        return irreps.num_irreps + sum(mul for mul, ir in irreps if ir.is_scalar())

    *hidden, final = widths
    irreps, total = o3.Irreps(f"{in_channels}x0e"), 0
    for _ in range(2):
        scalars, gated = reached(irreps, hidden_irreps(*hidden))
        gate_in = scalars + o3.Irreps(f"{gated.num_irreps}x0e") + gated
        total += conv(irreps, gate_in, 3) + norm(gate_in)
        irreps = scalars + gated
    readout = o3.Irreps(f"{final}x0e + {final}x0o")
    return total + conv(irreps, readout, 4) + norm(readout) + (readout.dim + 1) * num_classes


def shells(size: int) -> int:
    """Distinct non-zero distances from the centre of a size³ kernel: its radial functions."""
    r = [(2 * i - size + 1) ** 2 for i in range(size)]  # (2·offset)², offsets centred
    return len({a + b + c for a in r for b in r for c in r} - {0})


def build_e3nn3d(budget: int | None, task: Task) -> E3nnCubeCNN:
    """Widths fitted to the plain 3-D CNN's parameter count on the task (20,273 parameters at
    (36, 6, 2, 36) for polycubes), or to ``budget``: counted, not built, the fit takes milliseconds."""
    target = budget or cnn3d_params(CNN3D_WIDTHS, task.classes, task.channels)
    widths = fit_widths(BASE_WIDTHS, lambda w: e3nn3d_params(w, task.classes, task.channels), target)
    return E3nnCubeCNN(widths, task.classes, task.channels)
