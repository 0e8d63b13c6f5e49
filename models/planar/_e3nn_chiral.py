"""The e3nn-so2 model (imported only when built: e3nn takes seconds to import): e3nn's planar
voxel convolutions in the tutorial's layout, read out through scalars and a 2-D pseudoscalar, so
that it claims the plane's rotations and not its mirrors.

Why a pseudoscalar, and which one. Every e3nn layer is O(3)-equivariant. On the plane, a mirror of
the image (x → −x) is a reflection of space; its scalars (0e) cannot change, so a read-out of 0e
only is mirror-invariant: ``e3nn-o2`` pays for a symmetry digits do not have (a 2 and its mirror
image are told apart by handedness alone). Odd scalars (0o) cannot carry handedness on a flat
input: the plane's own reflection z → −z leaves the input unchanged and negates them, so they vanish.
The component of an even vector (1e, a pseudovector such as the cross product of two in-plane 1o
vectors) along the plane's normal survives z → −z, is unchanged by rotations in the plane and
changes sign under an in-plane mirror: a 2-D pseudoscalar. The head reads the 0e scalars (SiLU)
and those normal components (an odd tanh, so their sign survives). Rotations of the grid by
quarter turns leave the logits unchanged to rounding; other angles approximately (SO(2)).
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

from models._budget import TUTORIAL_PARAMS, fit_widths
from models.planar._e3nn import SH, EquivariantBlock, PlanarConvolution, _gate
from models.planar._layers import matched_budget
from suite.task import TUTORIAL, Task

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=UserWarning)
    from e3nn import o3
    from e3nn.nn import BatchNorm

NORMAL = 2  # e3nn orders a 1e's components (x, y, z); the plane's convolutions sample z = 0
# (scalars, vectors 1o, tensors 2e) in both feature layers, then the read-out's 0e and 1e each. The
# parameters lean to the read-out, where they cost few FLOPs (one 7×7 position); the feature maps
# stay narrow, where e3nn's BatchNorm and Gate (slices, products, concatenations per irrep) cost more
# than the convolutions. At (8, 4, 2, 12) and 4 radial functions in the read-out, as e3nn-o2 has:
# 30.6 MFLOPs per image; at (8, 2, 1, 48) and one radial function per shell: 4.7.
BASE_WIDTHS = (8, 2, 1, 48)
READOUT_SIZE = 7


class E3nnChiralPlanarCNN(nn.Module):
    """block → avg-pool → block → avg-pool → conv7×7 (valid, to 0e and 1e) → BatchNorm → dense.

    The tutorial layout (conv3×3 at 28×28 and 14×14, a 7×7 read-out over the whole 7×7 map): one
    feature block fewer than ``e3nn-o2``, whose third block at 7×7 the read-out makes redundant.
    """

    def __init__(
        self, widths: tuple[int, int, int, int] = BASE_WIDTHS, num_classes: int = 10, in_channels: int = 1
    ):
        super().__init__()
        *hidden, final = self.widths = tuple(widths)
        self.final = final
        self.block1 = EquivariantBlock(f"{in_channels}x0e", _gate(*hidden))
        self.block2 = EquivariantBlock(self.block1.irreps_out, _gate(*hidden))
        readout = o3.Irreps(f"{final}x0e + {final}x1e")
        self.readout = PlanarConvolution(self.block2.irreps_out, readout, READOUT_SIZE, padding=0)
        self.norm = BatchNorm(readout)  # 0e centred and scaled, 1e scaled by its mean norm: signs kept
        self.head = nn.Linear(2 * final, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = F.avg_pool2d(self.block1(x), 2)
        v = F.avg_pool2d(self.block2(v), 2)
        v = self.norm(self.readout(v).flatten(2).mean(-1))  # (B, final·4) at 1×1 (28×28 input)
        scalars = v[:, : self.final]
        pseudoscalars = v[:, self.final :].unflatten(1, (self.final, 3))[..., NORMAL]
        return self.head(torch.cat([F.silu(scalars), torch.tanh(pseudoscalars)], dim=1))


def chiral_params(widths: tuple[int, ...], num_classes: int = 10, in_channels: int = 1) -> int:
    """Parameters of ``E3nnChiralPlanarCNN(widths, …)``, counted from its irreps without building it
    (e3nn's Gate cannot be built on the meta device; a build takes a second): per convolution the
    tensor product's weights per radial function (one per shell) and the self-connection; BatchNorm's
    weight per irrep and bias per 0e; the dense head. The tests check it against built models."""

    def conv(irreps_in: o3.Irreps, irreps_out: o3.Irreps, size: int) -> int:
        tp = sum(
            m1 * m2 * mo for m1, i1 in irreps_in for m2, i2 in SH for mo, io in irreps_out if io in i1 * i2
        )
        sc = sum(mi * mo for mi, ii in irreps_in for mo, io in irreps_out if ii == io)
        return planar_shells(size) * tp + sc

    def norm(irreps: o3.Irreps) -> int:
        return irreps.num_irreps + sum(mul for mul, ir in irreps if ir.is_scalar())

    scalars, vectors, tensors, final = widths
    gated = o3.Irreps(f"{vectors}x1o + {tensors}x2e").simplify()
    gate_in = o3.Irreps(f"{scalars}x0e + {vectors + tensors}x0e") + gated
    hidden = o3.Irreps(f"{scalars}x0e") + gated
    readout = o3.Irreps(f"{final}x0e + {final}x1e")
    return (
        conv(o3.Irreps(f"{in_channels}x0e"), gate_in, 3) + norm(gate_in)
        + conv(hidden, gate_in, 3) + norm(gate_in)
        + conv(hidden, readout, READOUT_SIZE) + norm(readout)
        + (2 * final + 1) * num_classes
    )  # fmt: skip


def planar_shells(size: int) -> int:
    """Distinct non-zero distances from the centre of a size×size kernel (odd size)."""
    r = [(i - size // 2) ** 2 for i in range(size)]
    return len({a + b for a in r for b in r} - {0})


def build_e3nn_chiral(budget: int | None = None, task: Task = TUTORIAL) -> E3nnChiralPlanarCNN:
    """Widths fitted to ``budget``, or to the tutorial CNN's count matched on the task (13,978 on
    digits: (11, 3, 1, 64), 14,016 parameters); counted, not built, the fit takes milliseconds."""
    target = matched_budget(budget, task) or TUTORIAL_PARAMS
    widths = fit_widths(BASE_WIDTHS, lambda w: chiral_params(w, task.classes, task.channels), target)
    return E3nnChiralPlanarCNN(widths, task.classes, task.channels)  # type: ignore[arg-type]
