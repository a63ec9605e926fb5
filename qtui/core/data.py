"""Data sets for the benchmarks: the embedded synthetic set and an ImageNet validation folder.

Provides `Dataset` (the interface the LoadGen QSL and calibration use), `SyntheticDataset`
(structured images from `qtui.core.synthetic`, no labels), `ImageNetFolder` (the MLPerf layout:
`<root>/val_map.txt` plus the JPEGs, preprocessed arrays cached on disk under
`cache_dir()/data/<key>/`), `preprocess_image` (torchvision-style ImageNet preprocessing),
`open_dataset` (pick one from a CLI/profile string), `calibration_indices` and `DatasetError`,
whose message always names the file (and line) at fault.
"""

from __future__ import annotations

import hashlib
import operator
import os
import re
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from qtui.core.paths import cache_dir
from qtui.core.synthetic import normalise_u8, synthetic_image_u8

RESIZE = 256
CROP = 224
NUM_CLASSES = 1000
DEFAULT_SYNTHETIC_COUNT = 512
VAL_MAP = "val_map.txt"
# Bump whenever `preprocess_image` changes its output: it is part of the cache key.
PREPROCESS_VERSION = "resize256-crop224-imagenet-norm-v1"
SAMPLE_SHAPE = (3, CROP, CROP)

_LAYOUT_HELP = (
    "the MLPerf ImageNet layout is <folder>/val_map.txt with lines like "
    "'ILSVRC2012_val_00000001.JPEG 65' and the JPEG files in <folder>/"
)
_INT_RE = re.compile(r"[+-]?[0-9]+")


class DatasetError(Exception):
    """A problem with the user's data set; the message names the file (and line) at fault."""


def preprocess_image(img: Image.Image) -> np.ndarray:
    """MLPerf/torchvision ImageNet preprocessing of a decoded image.

    Equivalent to `Compose([Resize(256), CenterCrop(224), ToTensor(), Normalize(mean, std)])`
    applied to `img.convert("RGB")`: short side to 256 with PIL bilinear, long side truncated as
    torchvision does, centre crop 224 with torchvision's rounding, /255, ImageNet mean/std.
    Returns CHW float32 (3, 224, 224), C-contiguous.
    """
    rgb = img.convert("RGB")
    w, h = rgb.size
    if w <= 0 or h <= 0:
        raise ValueError(f"image has no pixels ({w}x{h})")
    if w <= h:
        new_w, new_h = RESIZE, int(RESIZE * h / w)
    else:
        new_w, new_h = int(RESIZE * w / h), RESIZE
    resized = rgb.resize((new_w, new_h), Image.Resampling.BILINEAR)
    top = int(round((new_h - CROP) / 2.0))
    left = int(round((new_w - CROP) / 2.0))
    cropped = resized.crop((left, top, left + CROP, top + CROP))
    return normalise_u8(np.asarray(cropped, dtype=np.uint8))


def _check_index(index: int, count: int) -> int:
    i = operator.index(index)
    if not 0 <= i < count:
        raise IndexError(f"sample index {i} out of range 0..{count - 1}")
    return i


class Dataset(ABC):
    """A fixed, indexable set of preprocessed (3, 224, 224) float32 images."""

    name: str
    provenance: str
    count: int
    has_labels: bool

    @abstractmethod
    def get(self, index: int) -> np.ndarray:
        """Sample `index` as a (3, 224, 224) float32 array; IndexError if out of range."""

    def labels(self, indices: Sequence[int]) -> np.ndarray:
        """Ground-truth class ids (int64) of `indices`; DatasetError if the set has none."""
        raise DatasetError(f"{self.provenance}: this data set has no labels")

    def get_batch(self, indices: Sequence[int]) -> np.ndarray:
        """Samples `indices` stacked into a C-contiguous (N, 3, 224, 224) float32 array."""
        out = np.empty((len(indices), *SAMPLE_SHAPE), dtype=np.float32)
        for k, index in enumerate(indices):
            out[k] = self.get(index)
        return out

    def __len__(self) -> int:
        return self.count

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.provenance}>"


class SyntheticDataset(Dataset):
    """The embedded structured synthetic images of `qtui.core.synthetic`; no labels, no cache."""

    def __init__(self, count: int = DEFAULT_SYNTHETIC_COUNT, seed: int = 0) -> None:
        if count < 1:
            raise DatasetError(f"synthetic data set: count must be at least 1, got {count}")
        self.name = "synthetic"
        self.count = int(count)
        self.seed = int(seed)
        self.has_labels = False
        self.provenance = (
            f"synthetic structured images (seed {self.seed}, {self.count} images) — no labels"
        )

    def get(self, index: int) -> np.ndarray:
        i = _check_index(index, self.count)
        return normalise_u8(synthetic_image_u8(self.seed, i))


@dataclass(frozen=True)
class _Entry:
    filename: str
    label: int
    line: int  # 1-based line number in val_map.txt


def _parse_val_map(path: Path) -> list[_Entry]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found; {_LAYOUT_HELP}") from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not a UTF-8 text file ({exc.reason})") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read: {exc.strerror or exc}") from None
    entries: list[_Entry] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        fields = raw.split()
        if not fields:
            continue
        where = f"{path}:{lineno}"
        if len(fields) != 2:
            raise DatasetError(
                f"{where}: expected '<image file> <label>', got {len(fields)} field(s): "
                f"{raw.strip()!r}"
            )
        filename, label_text = fields
        if not _INT_RE.fullmatch(label_text):
            raise DatasetError(f"{where}: label {label_text!r} is not an integer")
        label = int(label_text)
        if not 0 <= label < NUM_CLASSES:
            raise DatasetError(f"{where}: label {label} out of range 0..{NUM_CLASSES - 1}")
        entries.append(_Entry(filename, label, lineno))
    if not entries:
        raise DatasetError(f"{path}: no entries; {_LAYOUT_HELP}")
    return entries


def _decode(path: Path, entry: _Entry, map_path: Path) -> np.ndarray:
    try:
        with Image.open(path) as img:
            img.load()
            return preprocess_image(img)
    except FileNotFoundError:
        raise DatasetError(f"{path}: image not found (listed at {map_path}:{entry.line})") from None
    except Image.UnidentifiedImageError:
        raise DatasetError(f"{path}: cannot decode image (unknown format or corrupt)") from None
    except Image.DecompressionBombError as exc:
        raise DatasetError(f"{path}: cannot decode image ({exc})") from None
    except (OSError, ValueError, SyntaxError) as exc:
        # OSError covers truncated files; PIL raises ValueError/SyntaxError on some bad headers.
        raise DatasetError(f"{path}: corrupt or unreadable image ({exc})") from None


def _atomic_save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, array, allow_pickle=False)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class ImageNetFolder(Dataset):
    """An ImageNet validation folder in the MLPerf layout, preprocessed lazily and cached on disk.

    `val_map.txt` is parsed (and validated) at construction; images are only opened by
    `get`/`get_batch`/`verify`. Preprocessed samples are kept as `.npy` files under
    `cache_dir()/data/<cache_key>/<index>.npy`, so only the first run pays for JPEG decoding.
    """

    def __init__(self, root: str | os.PathLike[str], count: int | None = None) -> None:
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            raise DatasetError(
                f"{self.root}: not a folder; give 'synthetic' or an ImageNet validation folder "
                f"({_LAYOUT_HELP})"
            )
        if count is not None and count < 1:
            raise DatasetError(f"{self.root}: count must be at least 1, got {count}")
        self.map_path = self.root / VAL_MAP
        entries = _parse_val_map(self.map_path)
        self.total = len(entries)
        self._entries = entries if count is None else entries[:count]
        self.name = "imagenet"
        self.count = len(self._entries)
        self.has_labels = True
        self._labels = np.fromiter((e.label for e in self._entries), dtype=np.int64)
        shown = (
            f"{self.count} images"
            if self.count == self.total
            else f"first {self.count} of {self.total} images"
        )
        self.provenance = f"ImageNet validation folder {self.root} ({shown}, {VAL_MAP})"
        st = self.map_path.stat()
        key_src = "\0".join(
            [str(self.root), str(st.st_size), str(st.st_mtime_ns), PREPROCESS_VERSION]
        )
        self.cache_key = hashlib.sha256(key_src.encode()).hexdigest()[:16]
        self._cache_root: Path | None = None

    @property
    def cache_root(self) -> Path:
        """`cache_dir()/data/<cache_key>`; resolved on first use."""
        if self._cache_root is None:
            self._cache_root = cache_dir() / "data" / self.cache_key
        return self._cache_root

    def cache_path(self, index: int) -> Path:
        """Where sample `index`'s preprocessed array is (or will be) cached."""
        return self.cache_root / f"{_check_index(index, self.count)}.npy"

    def image_path(self, index: int) -> Path:
        """The image file of sample `index`."""
        return self.root / self._entries[_check_index(index, self.count)].filename

    def labels(self, indices: Sequence[int]) -> np.ndarray:
        idx = [_check_index(i, self.count) for i in indices]
        return self._labels[np.asarray(idx, dtype=np.intp)].copy()

    def get(self, index: int) -> np.ndarray:
        i = _check_index(index, self.count)
        try:
            cached: Path | None = self.cache_path(i)
        except OSError:
            cached = None  # cache dir cannot be created: work without a cache
        if cached is not None and cached.is_file():
            try:
                arr = np.load(cached, allow_pickle=False)
            except (OSError, ValueError, EOFError):
                arr = None  # damaged cache entry: rebuild it below
            if arr is not None and arr.shape == SAMPLE_SHAPE and arr.dtype == np.float32:
                return np.ascontiguousarray(arr)
        entry = self._entries[i]
        arr = _decode(self.root / entry.filename, entry, self.map_path)
        if cached is not None:
            try:
                _atomic_save(cached, arr)
            except OSError:
                pass  # the cache is an optimisation; a read-only or full cache dir is not an error
        return arr

    def verify(self, indices: Sequence[int] | None = None) -> None:
        """Load (and cache) `indices`, all samples if None; DatasetError on the first bad one."""
        for i in range(self.count) if indices is None else indices:
            self.get(i)


def open_dataset(kind_or_path: str, count: int | None, seed: int = 0) -> Dataset:
    """`"synthetic"` → `SyntheticDataset(count or 512, seed)`; anything else is an ImageNet folder."""
    if kind_or_path.strip() == "synthetic":
        return SyntheticDataset(DEFAULT_SYNTHETIC_COUNT if count is None else count, seed)
    return ImageNetFolder(kind_or_path, count)


def calibration_indices(dataset: Dataset, count: int, seed: int = 0) -> list[int]:
    """A deterministic, sorted choice of `count` distinct indices (all if `count >= dataset.count`)."""
    if count < 0:
        raise ValueError(f"calibration count must be non-negative, got {count}")
    if count >= dataset.count:
        return list(range(dataset.count))
    rng = np.random.default_rng(np.random.SeedSequence([seed & 0xFFFFFFFF, dataset.count]))
    chosen = rng.choice(dataset.count, size=count, replace=False)
    return sorted(int(i) for i in chosen)
