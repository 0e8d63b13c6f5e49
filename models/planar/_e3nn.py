"""The e3nn-o2 model (imported only when built: e3nn takes seconds to import), and the voxel
convolution and block that e3nn-so3 (``models.volumetric._e3nn3d``) builds in 3-D.

e3nn's voxel convolution (``e3nn.nn.models.v2104.voxel_convolution``) restricted to the image plane:
kernels are spherical harmonics times a learned radial profile, sampled on a flat k×k grid. Each layer
is O(3)-equivariant on the plane, so the scalar read-out is invariant to every quarter turn and, the
mirror of a plane being a half turn in space, to every mirror flip on the grid: D4, exactly."""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

from models._budget import fit_widths
from models._eval_cache import EvalCached
from models.planar._layers import matched_budget
from suite.task import TUTORIAL, Task

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=UserWarning)
    from e3nn import o3
    from e3nn.math import soft_one_hot_linspace
    from e3nn.nn import BatchNorm, Gate

SH = o3.Irreps.spherical_harmonics(2)  # 0e + 1o + 2e: the filters' angular part
READOUT_RADIAL_BASIS = 4  # smooth radial functions over the 9 shells of the 7×7 read-out
# (scalars, vectors 1o, tensors 2e) in each of the three feature layers, then the read-out scalars.
BASE_WIDTHS = (8, 4, 2, 12)
TUTORIAL_WIDTHS = (19, 10, 5, 29)  # fit_widths(BASE_WIDTHS, e3nn_params, 13_978): 13,940 parameters


class VoxelConvolution(EvalCached):
    """e3nn's voxel ``Convolution`` on a k×k (``dims=2``: a one-voxel-thick volume, the z axis left out
    by construction) or k×k×k grid (``dims=3``: the volume itself).

    Each kernel entry is ``FullyConnectedTensorProduct.right`` of the spherical harmonics of the tap's
    offset from the kernel's centre, weighted by ``soft_one_hot_linspace`` radial functions. Changes
    from e3nn's class, each to leave no parameter that cannot learn:

    * the radial basis spans the radii the grid actually has, from the nearest tap to the corner
      (``cutoff=False``): with e3nn's ``cutoff=True`` over [0, k/2] several functions vanish on every
      tap of a 3×3 kernel and their weights never get a gradient. By default one function per
      distinct radius (shell).
    * the centre tap (radius 0, where only l = 0 harmonics survive) is the self-connection ``o3.Linear``,
      folded into the kernel, so "valid" padding needs no special case and one convolution does it
      all. An even k has no centre tap (its taps sit at half-integer offsets) and no self-connection.

    Weights are e3nn's unit normals; the neighbour sum is divided by √(taps) (fan-in), not by taps.
    """

    def __init__(
        self,
        irreps_in,
        irreps_out,
        size: int,
        num_radial_basis: int | None = None,
        padding=None,
        dims: int = 2,
    ):
        super().__init__()
        self.irreps_in = o3.Irreps(irreps_in)
        self.irreps_out = o3.Irreps(irreps_out)
        self.size, self.padding, self.dims = size, size // 2 if padding is None else padding, dims
        r = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
        axes = torch.meshgrid(*[r] * dims, indexing="ij")
        lattice = torch.stack([*axes, *[torch.zeros_like(axes[0])] * (3 - dims)], dim=-1)  # (k,…, 3)
        radius = lattice.norm(dim=-1)
        shells = radius[radius > 0].unique()  # the distinct non-zero radii
        number = len(shells) if num_radial_basis is None else num_radial_basis
        emb = soft_one_hot_linspace(
            radius, start=shells[0].item(), end=shells[-1].item(), number=number,
            basis="smooth_finite", cutoff=False,
        )  # fmt: skip
        emb = emb * (radius > 0)[..., None]  # the centre tap is the self-connection's
        if not (emb.flatten(0, -2).amax(0) > 0).all():
            raise ValueError(f"radial basis of {number} on a {size}^{dims} grid: a function vanishes")
        self.register_buffer("emb", emb / int((radius > 0).sum()) ** 0.5)  # (k,…, basis), fan-in scaled
        self.register_buffer("sh", o3.spherical_harmonics(SH, lattice, True, normalization="component"))
        self.sc = o3.Linear(self.irreps_in, self.irreps_out) if size % 2 else None  # drawn first, as ever
        self.tp = o3.FullyConnectedTensorProduct(
            self.irreps_in, SH, self.irreps_out,
            shared_weights=False, compile_left_right=False, compile_right=True,
        )  # fmt: skip
        self.weight = nn.Parameter(torch.randn(number, self.tp.weight_numel))
        if self.sc is not None:
            centre = torch.zeros(*[size] * dims, 1, 1)
            centre[(size // 2,) * dims] = 1.0
            self.register_buffer("centre", centre, persistent=False)
            self.register_buffer("eye", torch.eye(self.irreps_in.dim), persistent=False)

    def kernel(self) -> torch.Tensor:
        """(out, in, k,…): the tensor-product kernel with the self-connection at the centre."""
        kernel = self.tp.right(self.sh, self.emb @ self.weight)  # (k,…, in, out); zero at the centre
        if self.sc is not None:
            kernel = kernel + self.centre * self.sc(self.eye)  # the self-connection's (in, out) matrix
        return kernel.movedim((-1, -2), (0, 1))

    def current_kernel(self) -> torch.Tensor:
        """The kernel; cached, as the group convolutions' filter banks are, only for forwards that
        record no gradients, in eval mode, while the weights stay the same (e3nn's ``right`` takes
        ~0.1 s for a 3³ kernel: more than the convolution of a few volumes; ``models._eval_cache``)."""
        return self.cached(self.kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = F.conv2d if self.dims == 2 else F.conv3d
        return conv(x, self.current_kernel(), padding=self.padding)


PlanarConvolution = VoxelConvolution  # on the image plane: dims=2, the default


def _gate(scalars: int, vectors: int, tensors: int) -> Gate:
    gated = o3.Irreps(f"{vectors}x1o + {tensors}x2e").simplify()
    return Gate(
        f"{scalars}x0e", [F.silu],
        f"{vectors + tensors}x0e", [torch.sigmoid],
        gated,
    )  # fmt: skip


class EquivariantBlock(nn.Module):
    """conv3×3 → e3nn BatchNorm (per irrep: scalars centred, every irrep scaled by its mean norm) → Gate,
    on images (``dims=2``) or volumes (``dims=3``: conv3×3×3)."""

    def __init__(self, irreps_in, gate: Gate, dims: int = 2):
        super().__init__()
        self.gate = gate
        self.conv = VoxelConvolution(irreps_in, self.gate.irreps_in, 3, dims=dims)
        self.norm = BatchNorm(self.gate.irreps_in)
        self.irreps_out = self.gate.irreps_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = self.conv(x).movedim(1, -1)  # BatchNorm and Gate act on the last axis
        return self.gate(self.norm(v)).movedim(-1, 1)


class E3nnPlanarCNN(nn.Module):
    """block → avg-pool → block → avg-pool → block → conv7×7 (valid, scalars) → BatchNorm → SiLU → dense.

    The blocks carry irreps 0e, 1o, 2e on 28×28, 14×14 and 7×7 maps. Average pooling, unlike max
    pooling, commutes with rotating vector features; with even sizes (28 → 14 → 7) it maps the pixel
    grid onto itself. The 7×7 read-out sees the whole 7×7 map through equivariant kernels (where a
    feature lies relative to the centre, and how it points), with a few smooth radial functions.
    On the plane a 1o keeps 2 live components (its z stays 0) and a 2e 3 (m = 0, ±2): the others are
    exact zeros that the convolutions still carry, a cost of working in 3-D irreps.
    """

    def __init__(
        self, widths: tuple[int, int, int, int] = BASE_WIDTHS, num_classes: int = 10, in_channels: int = 1
    ):
        super().__init__()
        *hidden, final = self.widths = tuple(widths)
        self.block1 = EquivariantBlock(f"{in_channels}x0e", _gate(*hidden))
        self.block2 = EquivariantBlock(self.block1.irreps_out, _gate(*hidden))
        self.block3 = EquivariantBlock(self.block2.irreps_out, _gate(*hidden))
        self.readout = PlanarConvolution(self.block3.irreps_out, f"{final}x0e", 7, READOUT_RADIAL_BASIS, 0)
        self.norm = BatchNorm(f"{final}x0e")
        self.head = nn.Linear(final, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = F.avg_pool2d(self.block1(x), 2)
        v = F.avg_pool2d(self.block2(v), 2)
        v = self.readout(self.block3(v)).flatten(2).mean(-1)  # (B, final): invariant scalars (1×1 at 28)
        return self.head(F.silu(self.norm(v)))


def e3nn_params(widths: tuple[int, ...], num_classes: int = 10, in_channels: int = 1) -> int:
    """Parameters of a model built on the CPU. Not on the meta device (``count_on_meta``): e3nn's
    Gate normalises its activations by sampling with a ``torch.Generator`` on the current device at
    construction, which meta refuses ("META device type not an accelerator")."""
    model = E3nnPlanarCNN(widths, num_classes, in_channels)  # type: ignore[arg-type]
    return sum(p.numel() for p in model.parameters())


def build_e3nn(budget: int | None = None, task: Task = TUTORIAL) -> E3nnPlanarCNN:
    """Tutorial widths (fitted once, checked by the tests), or widths fitted to ``budget``
    (matched per task)."""
    matched = matched_budget(budget, task)
    if matched is None:
        return E3nnPlanarCNN(TUTORIAL_WIDTHS)
    if budget is None:  # another task: the tutorial widths where they land within 2% (a fit builds
        model = E3nnPlanarCNN(TUTORIAL_WIDTHS, task.classes, task.channels)  # ~20 models: seconds)
        if abs(sum(p.numel() for p in model.parameters()) / matched - 1) < 0.02:
            return model
    widths = fit_widths(BASE_WIDTHS, lambda w: e3nn_params(w, task.classes, task.channels), matched)
    return E3nnPlanarCNN(widths, task.classes, task.channels)  # type: ignore[arg-type]
