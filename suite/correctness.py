"""Which evaluation images a unit got right, as compact text: one bit per image, base64.

A unit stores these for every condition it measures (each test angle, the random angle, each
epoch of a validation curve), so any two variants can later be compared *paired*, on the same
images and seeds (``suite.report.evidence``). Plain NumPy: reports decode it without torch.
"""

from __future__ import annotations

import base64

import numpy as np

CORRECT_FIELDS = ("variant", "seed", "epoch", "metric", "angle", "images", "bits")


def encode(correct: np.ndarray) -> str:
    """A boolean vector → base64 of its packed bits (10,000 images: 1,668 characters)."""
    flat = np.asarray(correct, dtype=bool).ravel()
    return base64.b64encode(np.packbits(flat).tobytes()).decode("ascii")


def decode(text: str, images: int) -> np.ndarray:
    """The boolean vector of :func:`encode`; ``images`` says how many bits are meaningful."""
    raw = np.frombuffer(base64.b64decode(text, validate=True), dtype=np.uint8)
    if len(raw) != (images + 7) // 8:
        raise ValueError(f"{len(raw)} bytes cannot hold exactly {images} images")
    return np.unpackbits(raw)[:images].astype(bool)
