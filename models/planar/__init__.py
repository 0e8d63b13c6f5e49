"""Variants for 2-D tasks (images ``(B, C, H, W)``): one file per variant or family."""
