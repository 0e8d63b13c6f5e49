"""Variants for 3-D tasks (volumes ``(B, C, D, H, W)``): one file per variant or family."""
