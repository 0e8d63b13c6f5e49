"""escnn's steerable CNN on the rotation group C4 (regular fields, group pooling)."""

from __future__ import annotations

from models._escnn import EscnnCNN, build_escnn, gspaces
from suite.registry import register


@register(
    "escnn-c4",
    description="escnn R2Conv on rot2dOnR2(N=4) regular fields, group pooling",
    family="escnn",
    claims="C4",
    core=True,
)
def escnn_c4(budget: int | None = None) -> EscnnCNN:
    return build_escnn(lambda: gspaces.rot2dOnR2(N=4), budget)
