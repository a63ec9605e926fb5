"""Deterministic structured synthetic images: the embedded default data set.

White noise sends almost every input of a randomly initialised CNN to the same class, so the
images here are structured: oriented gratings, colour blobs at several scales, checkerboards and
smooth gradients, with random colours, phases and scales. Image `i` of seed `s` depends only on
`(s, i)`, so any subset is cheap to make and always identical.
"""

from __future__ import annotations

import numpy as np

SIZE = 224
KINDS = ("grating", "blobs", "checker", "gradient")


def _rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed & 0xFFFFFFFF, index]))


def _grating(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    theta = rng.uniform(0, np.pi)
    freq = rng.uniform(2, 24) / SIZE
    phase = rng.uniform(0, 2 * np.pi)
    wave = np.sin(2 * np.pi * freq * (xx * np.cos(theta) + yy * np.sin(theta)) + phase)
    c1, c2 = rng.uniform(0, 255, size=(2, 3))
    t = (wave + 1) / 2
    return t[..., None] * c1 + (1 - t[..., None]) * c2


def _blobs(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    img = np.broadcast_to(rng.uniform(0, 255, size=3), (SIZE, SIZE, 3)).copy()
    for _ in range(int(rng.integers(2, 9))):
        cy, cx = rng.uniform(0, SIZE, size=2)
        radius = rng.uniform(6, 80)
        mask = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2))
        img = img * (1 - mask[..., None]) + mask[..., None] * rng.uniform(0, 255, size=3)
    return img


def _checker(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    cell = rng.uniform(6, 56)
    angle = rng.uniform(0, np.pi / 2)
    u = xx * np.cos(angle) + yy * np.sin(angle)
    v = -xx * np.sin(angle) + yy * np.cos(angle)
    board = (np.floor(u / cell) + np.floor(v / cell)) % 2
    c1, c2 = rng.uniform(0, 255, size=(2, 3))
    return board[..., None] * c1 + (1 - board[..., None]) * c2


def _gradient(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    theta = rng.uniform(0, 2 * np.pi)
    t = (xx * np.cos(theta) + yy * np.sin(theta)) / SIZE
    t = (t - t.min()) / (t.max() - t.min() + 1e-9)
    c1, c2 = rng.uniform(0, 255, size=(2, 3))
    ring = 0.5 + 0.5 * np.cos(2 * np.pi * rng.uniform(1, 6) * t)
    return (t * ring)[..., None] * c1 + (1 - t * ring)[..., None] * c2


_MAKERS = {"grating": _grating, "blobs": _blobs, "checker": _checker, "gradient": _gradient}


def synthetic_image_u8(seed: int, index: int) -> np.ndarray:
    """Image `index` of the synthetic set `seed`: HWC uint8, 224×224×3."""
    rng = _rng(seed, index)
    kind = KINDS[index % len(KINDS)]
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    img = _MAKERS[kind](rng, yy, xx)
    img = img + rng.normal(0, rng.uniform(0, 12), size=img.shape)  # mild sensor noise
    return np.clip(img, 0, 255).astype(np.uint8)


IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def normalise_u8(img: np.ndarray) -> np.ndarray:
    """HWC uint8 → CHW float32 normalised with the ImageNet mean and std."""
    x = img.astype(np.float32) / 255.0
    x = (x - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def synthetic_images(count: int, seed: int, start: int = 0) -> np.ndarray:
    """`count` preprocessed synthetic images (N×3×224×224 float32), indices `start..start+count`."""
    out = np.empty((count, 3, SIZE, SIZE), dtype=np.float32)
    for k in range(count):
        out[k] = normalise_u8(synthetic_image_u8(seed, start + k))
    return out
