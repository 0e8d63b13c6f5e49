"""escnn beyond C4: eight rotations (C8) and the dihedral group D4 (quarter turns and mirrors)."""

from __future__ import annotations

from models._escnn import EscnnCNN, build_escnn, gspaces
from suite.registry import register


@register(
    "escnn-c8",
    description="escnn on rot2dOnR2(N=8): exact for 90° turns on the pixel grid, C8 approximately",
    family="escnn",
    claims="C4",
)
def escnn_c8(budget: int | None = None) -> EscnnCNN:
    return build_escnn(lambda: gspaces.rot2dOnR2(N=8), budget)


@register(
    "escnn-d4",
    description="escnn on flipRot2dOnR2(N=4): quarter turns and mirror flips (D4)",
    family="escnn",
    claims="D4",
)
def escnn_d4(budget: int | None = None) -> EscnnCNN:
    return build_escnn(lambda: gspaces.flipRot2dOnR2(N=4), budget)
