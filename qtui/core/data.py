"""Data sets for the benchmarks: the embedded synthetic set, the user's images and tensors.

Provides `Dataset` (the interface the LoadGen QSL and calibration use) and its kinds:
`SyntheticDataset` (structured images from `qtui.core.synthetic`, no labels), `ImageNetFolder`
(the MLPerf layout: `<root>/val_map.txt` plus the JPEGs), `ImagesFolder` (a folder of the user's
pictures, searched recursively, no labels), `ClassFolders` (one subfolder per class, torchvision
`ImageFolder` style, labels from the sorted folder names or a mapping file) and `TensorFile`
(already-preprocessed inputs in a `.npy`/`.npz` file). Image samples are preprocessed by a
`Preprocess` (resize, centre crop, normalisation, layout; ImageNet's by default) and cached on
disk under `cache_dir()/data/<key>/`, keyed by the images' content and the preprocessing.

`open_dataset` picks the kind (auto-detected from the folder, or named), checks every file of
the set before any work (`DatasetError` naming the first bad file; a few undecodable images are
skipped, more are refused) and digests the set's content (`Dataset.digest`): the data's identity
in artifact keys and results, which never hold the user's full path. `calibration_indices`
picks the calibration images.
"""

from __future__ import annotations

import hashlib
import io
import json
import operator
import os
import re
import tempfile
import warnings
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from qtui.core.files import atomic_write_text
from qtui.core.paths import cache_dir
from qtui.core.synthetic import normalise_u8, synthetic_image_u8
from qtui.core.text import one_line

RESIZE = 256
CROP = 224
NUM_CLASSES = 1000
DEFAULT_SYNTHETIC_COUNT = 512
VAL_MAP = "val_map.txt"
# Bump whenever `preprocess_image` changes its output: it is part of the cache key.
PREPROCESS_VERSION = "resize256-crop224-imagenet-norm-v1"
SAMPLE_SHAPE = (3, CROP, CROP)

#: The data set kinds `dataset.kind` names ("auto": decided from `dataset.source`).
KINDS = ("auto", "synthetic", "imagenet", "images", "classes", "tensors")
#: Picture files a folder is searched for (case-insensitive).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff", ".ppm", ".pgm")
TENSOR_SUFFIXES = (".npy", ".npz")
#: Larger pictures are refused as decompression bombs (PIL's own warning comes at 89 MP).
MAX_IMAGE_PIXELS = 100_000_000
#: A picture file larger than this is refused before it is read.
MAX_IMAGE_BYTES = 256 * 1024 * 1024
#: Undecodable pictures skipped (each named in a warning) before a set is refused: at most this
#: many, and at most MAX_BAD_SHARE of the pictures looked at.
MAX_BAD_IMAGES = 5
MAX_BAD_SHARE = 0.01
NORMALIZATIONS = ("imagenet", "none", "custom")
LAYOUTS = ("NCHW", "NHWC")

_LAYOUT_HELP = (
    "the MLPerf ImageNet layout is <folder>/val_map.txt with lines like "
    "'ILSVRC2012_val_00000001.JPEG 65' and the JPEG files in <folder>/"
)
_INT_RE = re.compile(r"[+-]?[0-9]+")
_WNID_RE = re.compile(r"n[0-9]{8}")
_SUFFIXES_TEXT = ", ".join(s.lstrip(".") for s in IMAGE_SUFFIXES)


class DatasetError(Exception):
    """A problem with the user's data set; the message names the file (and line) at fault."""


def _show(path: Path | str) -> str:
    """A path or file name for a one-line message (control characters removed)."""
    return one_line(str(path))


# -- preprocessing ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Preprocess:
    """How a picture becomes a model input: short side resized to `resize` (PIL bilinear), a
    centre crop of `crop`×`crop`, then per channel `(pixel × scale − mean) / std`, laid out
    `layout` (CHW or HWC per sample). `normalize`: "imagenet" (÷255, ImageNet mean/std),
    "none" (the 0-255 pixel values as float32) or "custom" (`mean`, `std`, `scale`)."""

    resize: int = RESIZE
    crop: int = CROP
    normalize: str = "imagenet"
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    scale: float = 1.0 / 255.0
    layout: str = "NCHW"

    @property
    def is_default(self) -> bool:
        return self == Preprocess()

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        return (3, self.crop, self.crop) if self.layout == "NCHW" else (self.crop, self.crop, 3)

    @property
    def identity(self) -> str:
        """What the cache keys hold: `PREPROCESS_VERSION` for the default."""
        if self.is_default:
            return PREPROCESS_VERSION
        norm = self.normalize
        if norm == "custom":
            norm = f"custom(scale={self.scale!r},mean={list(self.mean)!r},std={list(self.std)!r})"
        return f"resize{self.resize}-crop{self.crop}-{norm}-{self.layout}-v1"

    def describe(self) -> str:
        """One line for results and logs: "resize 256, centre crop 224, ImageNet mean/std, NCHW"."""
        norm = {
            "imagenet": "ImageNet mean/std",
            "none": "no normalisation (0-255 values)",
        }.get(self.normalize) or (
            f"× {self.scale:g}, mean {', '.join(f'{m:g}' for m in self.mean)}, "
            f"std {', '.join(f'{s:g}' for s in self.std)}"
        )
        return f"resize {self.resize}, centre crop {self.crop}, {norm}, {self.layout}"

    def from_u8(self, hwc: np.ndarray) -> np.ndarray:
        """An HWC uint8 RGB crop → the model's float32 sample (C-contiguous)."""
        if self.normalize == "imagenet":
            chw = normalise_u8(hwc)
            return chw if self.layout == "NCHW" else np.ascontiguousarray(chw.transpose(1, 2, 0))
        x = hwc.astype(np.float32)
        if self.normalize == "custom":
            mean = np.asarray(self.mean, dtype=np.float32)
            std = np.asarray(self.std, dtype=np.float32)
            x = (x * np.float32(self.scale) - mean) / std
        return np.ascontiguousarray(x.transpose(2, 0, 1) if self.layout == "NCHW" else x)

    def image(self, img: Image.Image) -> np.ndarray:
        """Resize, centre-crop and normalise a decoded picture (torchvision's arithmetic)."""
        rgb = img.convert("RGB")
        w, h = rgb.size
        if w <= 0 or h <= 0:
            raise ValueError(f"image has no pixels ({w}x{h})")
        if w <= h:
            new_w, new_h = self.resize, int(self.resize * h / w)
        else:
            new_w, new_h = int(self.resize * w / h), self.resize
        resized = rgb.resize((new_w, new_h), Image.Resampling.BILINEAR)
        top = int(round((new_h - self.crop) / 2.0))
        left = int(round((new_w - self.crop) / 2.0))
        cropped = resized.crop((left, top, left + self.crop, top + self.crop))
        return self.from_u8(np.asarray(cropped, dtype=np.uint8))

    def synthetic(self, seed: int, index: int) -> np.ndarray:
        """Synthetic image `index` (made at 224×224) for this preprocessing: only normalised
        at the default crop, resized and cropped like a picture otherwise."""
        u8 = synthetic_image_u8(seed, index)
        if self.crop == CROP:
            return self.from_u8(u8)
        return self.image(Image.fromarray(u8))


def preprocess_from_spec(spec: Any) -> Preprocess:
    """The `Preprocess` of a profile's `[input]` table (None: the default)."""
    if spec is None:
        return Preprocess()
    norm = spec.normalize
    if norm == "custom":

        def rgb(values: Any, default: float) -> tuple[float, float, float]:
            v = [float(x) for x in values] if values else [default]
            return (v[0], v[0], v[0]) if len(v) == 1 else (v[0], v[1], v[2])

        return Preprocess(
            spec.resize, spec.crop, norm, rgb(spec.mean, 0.0), rgb(spec.std, 1.0),
            spec.scale if spec.scale is not None else 1.0 / 255.0, spec.layout,
        )
    return Preprocess(resize=spec.resize, crop=spec.crop, normalize=norm, layout=spec.layout)


def preprocess_image(img: Image.Image) -> np.ndarray:
    """MLPerf/torchvision ImageNet preprocessing of a decoded image.

    Equivalent to `Compose([Resize(256), CenterCrop(224), ToTensor(), Normalize(mean, std)])`
    applied to `img.convert("RGB")`: short side to 256 with PIL bilinear, long side truncated as
    torchvision does, centre crop 224 with torchvision's rounding, /255, ImageNet mean/std.
    Returns CHW float32 (3, 224, 224), C-contiguous.
    """
    return Preprocess().image(img)


def _check_index(index: int, count: int) -> int:
    i = operator.index(index)
    if not 0 <= i < count:
        raise IndexError(f"sample index {i} out of range 0..{count - 1}")
    return i


# -- the interface ---------------------------------------------------------------------------------
class Dataset(ABC):
    """A fixed, indexable set of preprocessed float32 samples of shape `sample_shape`.

    `kind` is one of KINDS; `digest` identifies the set's content (16 hex digits) and
    `identity` is what artifact keys hold; `label` names the set without the user's full path
    (the folder or file name)."""

    name: str
    kind: str
    provenance: str
    count: int
    has_labels: bool
    digest: str
    label: str = ""
    preprocess: Preprocess = Preprocess()
    #: the samples' numpy type or its name (a user model's input may take another than float32,
    #: or a record of several inputs: `qtui.core.model_input`)
    dtype: Any = "float32"
    #: pictures skipped because they do not decode: (file name, reason); the first is named
    skipped: tuple[tuple[str, str], ...] = ()

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return self.preprocess.sample_shape

    @property
    def identity(self) -> str:
        return f"{self.kind}:{self.digest}:{self.preprocess.identity}:{self.count}"

    @abstractmethod
    def get(self, index: int) -> np.ndarray:
        """Sample `index` as a float32 array of `sample_shape`; IndexError if out of range."""

    def labels(self, indices: Sequence[int]) -> np.ndarray:
        """Ground-truth class ids (int64) of `indices`; DatasetError if the set has none."""
        raise DatasetError(f"{self.provenance}: this data set has no labels")

    def get_batch(self, indices: Sequence[int]) -> np.ndarray:
        """Samples `indices` stacked into a C-contiguous (N, *sample_shape) array of `dtype`."""
        out = np.empty((len(indices), *self.sample_shape), dtype=np.dtype(self.dtype))
        for k, index in enumerate(indices):
            out[k] = self.get(index)
        return out

    def __len__(self) -> int:
        return self.count

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.provenance}>"


class SyntheticDataset(Dataset):
    """The embedded structured synthetic images of `qtui.core.synthetic`; no labels, no cache."""

    def __init__(self, count: int = DEFAULT_SYNTHETIC_COUNT, seed: int = 0, preprocess: Preprocess | None = None) -> None:
        if count < 1:
            raise DatasetError(f"synthetic data set: count must be at least 1, got {count}")
        self.name = self.kind = "synthetic"
        self.count = int(count)
        self.seed = int(seed)
        self.has_labels = False
        self.preprocess = preprocess or Preprocess()
        self.label = "synthetic"
        self.provenance = (
            f"synthetic structured images (seed {self.seed}, {self.count} images) — no labels"
        )
        self.digest = hashlib.sha256(f"synthetic:seed={self.seed}:n={self.count}".encode()).hexdigest()[:16]

    @property
    def identity(self) -> str:
        # the key that artifacts calibrated on the synthetic set always had
        base = f"synthetic:seed={self.seed}:n={self.count}"
        return base if self.preprocess.is_default else f"{base}:{self.preprocess.identity}"

    def get(self, index: int) -> np.ndarray:
        i = _check_index(index, self.count)
        return self.preprocess.synthetic(self.seed, i)


# -- picture files ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Entry:
    filename: str  # relative to the root, POSIX separators
    label: int  # -1: no label
    line: int = 0  # 1-based line number in val_map.txt (0: not from a list)


def _parse_val_map(path: Path) -> list[_Entry]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DatasetError(f"{_show(path)}: file not found; {_LAYOUT_HELP}") from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{_show(path)}: not a UTF-8 text file ({exc.reason})") from None
    except OSError as exc:
        raise DatasetError(f"{_show(path)}: cannot read: {exc.strerror or exc}") from None
    entries: list[_Entry] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        fields = raw.split()
        if not fields:
            continue
        where = f"{_show(path)}:{lineno}"
        if len(fields) != 2:
            raise DatasetError(
                f"{where}: expected '<image file> <label>', got {len(fields)} field(s): "
                f"{one_line(repr(raw.strip()))}"
            )
        filename, label_text = fields
        if not _INT_RE.fullmatch(label_text):
            raise DatasetError(f"{where}: label {one_line(repr(label_text))} is not an integer")
        label = int(label_text)
        if not 0 <= label < NUM_CLASSES:
            raise DatasetError(f"{where}: label {label} out of range 0..{NUM_CLASSES - 1}")
        entries.append(_Entry(filename, label, lineno))
    if not entries:
        raise DatasetError(f"{_show(path)}: no entries; {_LAYOUT_HELP}")
    return entries


def _decode(path: Path, entry: _Entry, map_path: Path | None, preprocess: Preprocess) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                _refuse_bomb(img)
                img.load()
                return preprocess.image(img)
    except FileNotFoundError:
        where = f" (listed at {_show(map_path)}:{entry.line})" if map_path is not None else ""
        raise DatasetError(f"{_show(path)}: image not found{where}") from None
    except Image.UnidentifiedImageError:
        raise DatasetError(f"{_show(path)}: cannot decode image (unknown format or corrupt)") from None
    except Image.DecompressionBombError as exc:
        raise DatasetError(f"{_show(path)}: cannot decode image ({exc})") from None
    except (OSError, ValueError, SyntaxError) as exc:
        # OSError covers truncated files; PIL raises ValueError/SyntaxError on some bad headers.
        raise DatasetError(f"{_show(path)}: corrupt or unreadable image ({exc})") from None


def _refuse_bomb(img: Image.Image) -> None:
    w, h = img.size
    if w * h > MAX_IMAGE_PIXELS:
        raise Image.DecompressionBombError(
            f"{w}×{h} pixels is more than qtui's limit of {MAX_IMAGE_PIXELS // 1_000_000} MP "
            f"(a decompression bomb, or a picture to scale down first)"
        )


def _check_picture(path: Path) -> tuple[str | None, str]:
    """(sha256 of the file, "") when `path` decodes, else (None, why not). Decodes the whole
    file (at reduced size for JPEG: a truncated or corrupt one still fails)."""
    try:
        size = path.stat().st_size
        if size > MAX_IMAGE_BYTES:
            return None, f"{size:_} bytes is larger than qtui's limit for a picture ({MAX_IMAGE_BYTES:_})"
        raw = path.read_bytes()
    except OSError as exc:
        return None, f"cannot read: {exc.strerror or exc}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as img:
                _refuse_bomb(img)
                img.draft("RGB", (CROP, CROP))
                img.load()
                if img.size[0] <= 0 or img.size[1] <= 0:
                    return None, "the picture has no pixels"
    except Image.UnidentifiedImageError:
        return None, "cannot decode (not a picture PIL reads, or corrupt)"
    except Image.DecompressionBombError as exc:
        return None, str(exc)
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        return None, f"corrupt or truncated ({one_line(exc)})"
    return hashlib.sha256(raw).hexdigest(), ""


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


Progress = Callable[[float], None]


class _PictureSet(Dataset):
    """Pictures listed as `_Entry`s under `root`, preprocessed lazily and cached on disk as
    `cache_dir()/data/<cache_key>/<index>.npy`. `check` decodes the set's pictures once, skips
    or refuses the bad ones and digests their content (remembered per file size and mtime in
    `cache_dir()/data/checked-<root>.json`, so a second run reads no picture twice)."""

    root: Path
    map_path: Path | None = None
    _entries: list[_Entry]
    _labels: np.ndarray
    _cache_root: Path | None = None
    cache_key: str = ""
    total: int = 0

    def _set_entries(self, entries: list[_Entry]) -> None:
        self._entries = entries
        self.count = len(entries)
        self._labels = np.fromiter((e.label for e in entries), dtype=np.int64, count=len(entries))
        self._cache_root = None

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
        if not self.has_labels:
            return super().labels(indices)
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
            if arr is not None and arr.shape == self.sample_shape and arr.dtype == np.float32:
                return np.ascontiguousarray(arr)
        entry = self._entries[i]
        arr = _decode(self.root / entry.filename, entry, self.map_path, self.preprocess)
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

    def _memo_path(self) -> Path:
        key = hashlib.sha256(f"{self.kind}\0{self.root}".encode()).hexdigest()[:16]
        return cache_dir() / "data" / f"checked-{key}.json"

    def check(self, count: int | None, progress: Progress | None = None) -> None:
        """Keep the first `count` (all if None) pictures that decode; DatasetError naming the
        first bad one when more than a few are bad (MAX_BAD_IMAGES, MAX_BAD_SHARE) or none is
        left. Sets `digest`, `skipped`, `cache_key` and the set's provenance."""
        memo_path: Path | None = None
        memo: dict[str, Any] = {}
        try:
            memo_path = self._memo_path()
            loaded = json.loads(memo_path.read_text(encoding="utf-8")) if memo_path.is_file() else {}
            memo = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError):
            pass
        fresh: dict[str, list[Any]] = {}
        kept: list[_Entry] = []
        bad: list[tuple[str, str]] = []
        digest = hashlib.sha256()
        wanted = len(self._entries) if count is None else min(count, len(self._entries))
        for entry in self._entries:
            if len(kept) >= wanted:
                break
            path = self.root / entry.filename
            try:
                st = path.stat()
                stamp = [st.st_size, st.st_mtime_ns]
            except OSError:
                stamp = [-1, -1]
            known = memo.get(entry.filename)
            if isinstance(known, list) and len(known) == 4 and known[:2] == stamp and stamp[0] >= 0:
                sha, why = known[2], known[3]
            elif stamp[0] < 0:
                where = f" (listed at {_show(self.map_path)}:{entry.line})" if self.map_path and entry.line else ""
                sha, why = None, f"not found{where}"
            else:
                sha, why = _check_picture(path)
            if sha:
                fresh[entry.filename] = [*stamp, sha, ""]
                kept.append(entry)
                digest.update(f"{entry.filename}\t{entry.label}\t{sha}\n".encode())
            else:
                bad.append((entry.filename, str(why)))
            if progress is not None and (len(kept) + len(bad)) % 32 == 0:  # events, not one a file
                progress(min(1.0, (len(kept) + len(bad)) / max(wanted, 1)))
        looked = len(kept) + len(bad)
        if bad and (len(bad) > MAX_BAD_IMAGES or len(bad) > MAX_BAD_SHARE * looked or not kept):
            first, why = bad[0]
            raise DatasetError(
                f"{_show(self.root / first)}: {why}; {len(bad)} of {looked} pictures in "
                f"{_show(self.root)} do not decode (qtui skips at most {MAX_BAD_IMAGES}, and at most "
                f"{MAX_BAD_SHARE:.0%} of a set): remove or replace them"
            )
        if not kept:
            raise DatasetError(f"{_show(self.root)}: no pictures to use")
        self.skipped = tuple(bad)
        self.total = len(self._entries)
        self._set_entries(kept)
        self.digest = digest.hexdigest()[:16]
        self.cache_key = hashlib.sha256(
            f"{self.kind}\0{self.digest}\0{self.preprocess.identity}".encode()
        ).hexdigest()[:16]
        self._describe()
        if memo_path is not None and any(memo.get(k) != v for k, v in fresh.items()):
            try:
                atomic_write_text(memo_path, json.dumps({**memo, **fresh}))
            except OSError:
                pass  # a memo only

    def _describe(self) -> None:
        """Set `provenance` from the checked set."""


class ImageNetFolder(_PictureSet):
    """An ImageNet validation folder in the MLPerf layout, preprocessed lazily and cached on disk.

    `val_map.txt` is parsed (and validated) at construction; images are only opened by
    `get`/`get_batch`/`verify`/`check`. Preprocessed samples are kept as `.npy` files under
    `cache_dir()/data/<cache_key>/<index>.npy`, so only the first run pays for JPEG decoding.
    """

    def __init__(
        self, root: str | os.PathLike[str], count: int | None = None, preprocess: Preprocess | None = None
    ) -> None:
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            raise DatasetError(
                f"{_show(self.root)}: not a folder; give 'synthetic' or an ImageNet validation folder "
                f"({_LAYOUT_HELP})"
            )
        if count is not None and count < 1:
            raise DatasetError(f"{_show(self.root)}: count must be at least 1, got {count}")
        self.preprocess = preprocess or Preprocess()
        self.map_path = self.root / VAL_MAP
        entries = _parse_val_map(self.map_path)
        self.total = len(entries)
        self._all = entries
        self.name = self.kind = "imagenet"
        self.has_labels = True
        self.label = self.root.name
        self._set_entries(entries if count is None else entries[:count])
        st = self.map_path.stat()
        key_src = "\0".join(
            [str(self.root), str(st.st_size), str(st.st_mtime_ns), self.preprocess.identity]
        )
        self.cache_key = hashlib.sha256(key_src.encode()).hexdigest()[:16]
        self.digest = self.cache_key  # until `check` digests the pictures themselves
        self._describe()

    def check(self, count: int | None, progress: Progress | None = None) -> None:
        self._set_entries(self._all)
        super().check(count, progress)

    def _describe(self) -> None:
        shown = (
            f"{self.count} images"
            if self.count == self.total
            else f"first {self.count} of {self.total} images"
        )
        self.provenance = f"ImageNet validation folder '{_show(self.label)}' ({shown}, {VAL_MAP})"


def _is_picture(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES) and not name.startswith(".")


def _pictures_under(folder: Path, root: Path) -> list[str]:
    """Every picture under `folder` (recursively, hidden files and folders left out), as paths
    relative to `root`, sorted."""
    found: list[str] = []
    for here, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        rel = Path(here).relative_to(root)
        found.extend((rel / f).as_posix() for f in files if _is_picture(f))
    return sorted(found)


class ImagesFolder(_PictureSet):
    """The user's own pictures: every picture file under the folder, recursively (hidden files
    and folders left out), in sorted path order; no labels (fidelity against FP32 only)."""

    def __init__(self, root: Path, preprocess: Preprocess | None = None) -> None:
        self.root = root
        self.name = self.kind = "images"
        self.has_labels = False
        self.label = root.name
        self.preprocess = preprocess or Preprocess()
        found = _pictures_under(root, root)
        if not found:
            raise DatasetError(f"{_show(root)}: no pictures in this folder or below ({_SUFFIXES_TEXT})")
        self.total = len(found)
        self._set_entries([_Entry(f, -1) for f in found])
        self.digest = ""

    def _describe(self) -> None:
        shown = f"{self.count} pictures" if self.count == self.total else f"first {self.count} of {self.total} pictures"
        self.provenance = f"your pictures in '{_show(self.label)}' ({shown}) — no labels"


def _read_classes_file(path: Path, num_classes: int) -> dict[str, int]:
    """A class mapping file: one `<folder name> <class index>` a line, `#` comments."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise DatasetError(f"{_show(path)}: cannot read the classes file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{_show(path)}: not a UTF-8 text file ({exc.reason})") from None
    out: dict[str, int] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        fields = raw.split("#", 1)[0].split()
        if not fields:
            continue
        where = f"{_show(path)}:{lineno}"
        if len(fields) != 2 or not _INT_RE.fullmatch(fields[1]):
            raise DatasetError(f"{where}: expected '<class folder> <class index>', got {one_line(repr(raw.strip()))}")
        index = int(fields[1])
        if not 0 <= index < num_classes:
            raise DatasetError(f"{where}: class index {index} out of range 0..{num_classes - 1}")
        if fields[0] in out:
            raise DatasetError(f"{where}: class folder {one_line(repr(fields[0]))} is listed twice")
        out[fields[0]] = index
    if not out:
        raise DatasetError(f"{_show(path)}: no '<class folder> <class index>' lines")
    return out


class ClassFolders(_PictureSet):
    """One subfolder per class (ImageNet's train/val folders, Imagenette, torchvision's
    `ImageFolder`): the pictures under each class folder (recursively) carry its label. Labels:
    the class folders' sorted order (0..N-1, as torchvision's ImageFolder gives them) or a
    mapping file (`dataset.classes`)."""

    def __init__(
        self, root: Path, classes: str = "auto", preprocess: Preprocess | None = None,
        num_classes: int = NUM_CLASSES,
    ) -> None:
        self.root = root
        self.name = self.kind = "classes"
        self.has_labels = True
        self.label = root.name
        self.preprocess = preprocess or Preprocess()
        folders = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
        with_pictures = {d: _pictures_under(root / d, root) for d in folders}
        empty = [d for d, pics in with_pictures.items() if not pics]
        if empty:
            raise DatasetError(
                f"{_show(root / empty[0])}: class folder with no pictures ({_SUFFIXES_TEXT}); "
                "remove it or put its pictures in it"
            )
        if len(folders) < 2:
            only = f" ('{_show(folders[0])}')" if folders else ""
            raise DatasetError(
                f"{_show(root)}: {len(folders)} class folder{only}: top-1 needs at least two classes; "
                "for pictures without labels set dataset.kind = 'images'"
            )
        if classes not in ("auto", "sorted"):
            mapping_path = Path(classes).expanduser()
            mapping = _read_classes_file(mapping_path, num_classes)
            missing = [d for d in folders if d not in mapping]
            if missing:
                raise DatasetError(
                    f"{_show(mapping_path)}: class folder {one_line(repr(missing[0]))} of {_show(root)} "
                    f"is not listed ({len(missing)} of {len(folders)} are not); add a line "
                    f"'{_show(missing[0])} <class index>'"
                )
            index = {d: mapping[d] for d in folders}
            self.classes_source = f"classes file '{_show(mapping_path.name)}'"
        else:
            if len(folders) > num_classes:
                raise DatasetError(
                    f"{_show(root)}: {len(folders)} class folders but the model has {num_classes} classes"
                )
            if classes == "auto" and len(folders) < num_classes and all(_WNID_RE.fullmatch(d) for d in folders):
                raise DatasetError(
                    f"{_show(root)}: the class folders are ImageNet WordNet ids ({folders[0]}, …) but only "
                    f"{len(folders)} of the {num_classes} classes, so their sorted order is not their "
                    "ImageNet index; give dataset.classes = a file of '<folder> <ImageNet index>' lines "
                    "(e.g. 'n01440764 0'), or dataset.classes = 'sorted' if the model was trained on "
                    "these classes in sorted order"
                )
            index = {d: i for i, d in enumerate(folders)}
            self.classes_source = "class folders in sorted order"
        self.class_count = len(folders)
        entries = [_Entry(f, index[d]) for d in folders for f in with_pictures[d]]
        self.total = len(entries)
        self._set_entries(entries)
        self.digest = ""

    def _describe(self) -> None:
        shown = f"{self.count} pictures" if self.count == self.total else f"first {self.count} of {self.total} pictures"
        self.provenance = (
            f"class folders in '{_show(self.label)}' ({shown}, {self.class_count} classes; labels: "
            f"{self.classes_source})"
        )


# -- tensors ---------------------------------------------------------------------------------------
class TensorFile(Dataset):
    """Already-preprocessed inputs in a `.npy` file (N, *input shape), memory-mapped, or a `.npz`
    file holding the inputs (the array named after the model's input, or `input`, or its only
    array besides `labels`) and optionally `labels` (N class indices, for top-1). The `[input]`
    preprocessing is not applied: the tensors go to the model as they are, of type `dtype`."""

    def __init__(
        self, path: Path, sample_shape: tuple[int, ...], count: int | None = None,
        num_classes: int = NUM_CLASSES, *, dtype: str = "float32", input_name: str = "input",
    ) -> None:
        self.root = path
        self.name = self.kind = "tensors"
        self.label = path.name
        self._shape = tuple(sample_shape)
        self.preprocess = Preprocess()
        self.dtype = dtype
        labels: np.ndarray | None = None
        where = _show(path)
        try:
            if path.suffix.lower() == ".npy":
                arr = np.load(path, mmap_mode="r", allow_pickle=False)
                what = "the array"
            else:
                with np.load(path, allow_pickle=False) as npz:
                    names = list(npz.files)
                    inputs = (
                        [input_name] if input_name in names else ["input"] if "input" in names
                        else [n for n in names if n != "labels"]
                    )
                    if len(inputs) != 1:
                        listed = ", ".join(one_line(n) for n in names) or "none"
                        raise DatasetError(
                            f"{where}: cannot tell which array is the input (arrays: {listed}); "
                            f"name it {one_line(repr(input_name))} (and the class indices, if any, 'labels')"
                        )
                    what = f"array '{one_line(inputs[0])}'"
                    arr = npz[inputs[0]]
                    if "labels" in names:
                        labels = npz["labels"]
        except DatasetError:
            raise
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise DatasetError(f"{where}: cannot read ({one_line(exc)})") from None
        if not isinstance(arr, np.ndarray) or arr.dtype != np.dtype(dtype):
            raise DatasetError(
                f"{where}: {what} is {getattr(arr, 'dtype', type(arr).__name__)}, the model takes {dtype}: "
                f"save it with x.astype(np.{dtype})"
            )
        want = "×".join(str(d) for d in self._shape)
        if arr.ndim != len(self._shape) + 1 or tuple(arr.shape[1:]) != self._shape:
            hint = ""
            if arr.ndim == 4 and tuple(arr.shape[1:]) == (*self._shape[1:], self._shape[0]):
                hint = " (channels last: np.transpose(x, (0, 3, 1, 2)) makes it channels first)"
            elif arr.ndim == len(self._shape):
                hint = " (one sample without the batch dimension: x[None])"
            raise DatasetError(
                f"{where}: {what} has shape {tuple(arr.shape)}, the model takes N×{want}{hint}"
            )
        if arr.shape[0] == 0:
            raise DatasetError(f"{where}: {what} holds no samples")
        n = arr.shape[0] if count is None else min(count, arr.shape[0])
        if labels is not None:
            if labels.ndim != 1 or labels.shape[0] != arr.shape[0] or labels.dtype.kind not in "iu":
                raise DatasetError(
                    f"{where}: 'labels' must be {arr.shape[0]} integer class indices (one per sample), "
                    f"not {labels.dtype} of shape {tuple(labels.shape)}"
                )
            out_of_range = np.flatnonzero((labels < 0) | (labels >= num_classes))
            if out_of_range.size:
                i = int(out_of_range[0])
                raise DatasetError(
                    f"{where}: labels[{i}] = {int(labels[i])} is out of range 0..{num_classes - 1}"
                )
            self._labels = labels[:n].astype(np.int64)
        self._arr = arr
        self.count = int(n)
        self.total = int(arr.shape[0])
        self.has_labels = labels is not None
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr[:n])):
            bad = int(np.flatnonzero(~np.isfinite(arr[:n]).reshape(n, -1).all(axis=1))[0])
            raise DatasetError(f"{where}: sample {bad} holds NaN or infinite values")
        self.digest = _file_digest(path)
        shown = f"{self.count} samples" if self.count == self.total else f"first {self.count} of {self.total} samples"
        self.provenance = (
            f"tensors in '{_show(path.name)}' ({shown} of {want}"
            + (", with labels" if self.has_labels else ", no labels")
            + ")"
        )

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return self._shape

    @property
    def identity(self) -> str:
        return f"tensors:{self.digest}:{self.count}"

    def get(self, index: int) -> np.ndarray:
        i = _check_index(index, self.count)
        return np.ascontiguousarray(self._arr[i], dtype=np.dtype(self.dtype))

    def labels(self, indices: Sequence[int]) -> np.ndarray:
        if not self.has_labels:
            return super().labels(indices)
        idx = [_check_index(i, self.count) for i in indices]
        return self._labels[np.asarray(idx, dtype=np.intp)].copy()


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


# -- opening ---------------------------------------------------------------------------------------
def detect_kind(source: str) -> str:
    """The kind of data `source` holds (see KINDS); DatasetError when it holds none, or when
    it could be two kinds (the message names both and `dataset.kind`)."""
    if source.strip() == "synthetic":
        return "synthetic"
    path = Path(source).expanduser()
    where = _show(path)
    if not path.exists():
        raise DatasetError(f"{where}: no such file or folder (dataset.source)")
    if path.is_file():
        if path.suffix.lower() in TENSOR_SUFFIXES:
            return "tensors"
        if _is_picture(path.name):
            raise DatasetError(f"{where}: a single picture; give the folder that holds your pictures")
        raise DatasetError(
            f"{where}: not a data set: give a folder of pictures, a class-per-folder layout, "
            "an ImageNet folder with val_map.txt, or a .npy/.npz file"
        )
    if not path.is_dir():
        raise DatasetError(f"{where}: neither a file nor a folder")
    if (path / VAL_MAP).is_file():
        return "imagenet"
    try:
        children = sorted(p for p in path.iterdir() if not p.name.startswith("."))
    except OSError as exc:
        raise DatasetError(f"{where}: cannot list the folder: {exc.strerror or exc}") from None
    top = [p for p in children if p.is_file() and _is_picture(p.name)]
    subs = [p for p in children if p.is_dir() and _pictures_under(p, path)]
    if top:  # pictures at the top: a plain folder (its subfolders' pictures too)
        return "images"
    if subs:
        names = [p.name for p in subs]
        if all(_WNID_RE.fullmatch(n) for n in names):
            return "classes"
        split = [n for n in ("val", "validation", "train") if n in names]
        if split:
            raise DatasetError(
                f"{where}: holds '{split[0]}/' (a train/val split): point dataset.source at "
                f"{_show(path / split[0])}"
            )
        raise DatasetError(
            f"{where}: only subfolders with pictures ({', '.join(_show(n) for n in names[:3])}"
            f"{', …' if len(names) > 3 else ''}): set dataset.kind = 'classes' (a subfolder per class, "
            "for top-1) or 'images' (every picture, no labels)"
        )
    if any(p.is_file() and p.suffix.lower() in TENSOR_SUFFIXES for p in children):
        raise DatasetError(f"{where}: holds .npy/.npz files but no pictures: give the .npy/.npz file itself")
    raise DatasetError(f"{where}: no pictures in this folder or below ({_SUFFIXES_TEXT})")


def open_dataset(
    kind_or_path: str,
    count: int | None,
    seed: int = 0,
    *,
    kind: str = "auto",
    classes: str = "auto",
    preprocess: Preprocess | None = None,
    progress: Progress | None = None,
    tensor_input: tuple[str, str, tuple[int, ...]] | None = None,
) -> Dataset:
    """The data set `kind_or_path` names: `"synthetic"` → `SyntheticDataset(count or 512, seed)`;
    a path → the `kind` (detected when "auto"), its pictures checked (`_PictureSet.check`).
    `count` caps the set (None: all). `tensor_input` (name, dtype, shape): a user model's input
    that is not an image, which a .npy/.npz file feeds (see `qtui.core.model_input`)."""
    pre = preprocess or Preprocess()
    source = kind_or_path.strip()
    if kind == "auto":
        kind = detect_kind(source)
    if (kind == "synthetic") != (source == "synthetic"):
        raise DatasetError(
            "dataset.kind = 'synthetic' goes with dataset.source = 'synthetic'"
            if kind == "synthetic"
            else f"dataset.kind = '{kind}' needs a folder or file in dataset.source, not 'synthetic'"
        )
    if kind == "synthetic":
        return SyntheticDataset(DEFAULT_SYNTHETIC_COUNT if count is None else count, seed, pre)
    path = Path(source).expanduser()
    if kind == "tensors":
        if not path.is_file() or path.suffix.lower() not in TENSOR_SUFFIXES:
            raise DatasetError(f"{_show(path)}: dataset.kind = 'tensors' needs a .npy or .npz file")
        if tensor_input is not None:
            name, dtype, shape = tensor_input
            return TensorFile(path.resolve(), shape, count, dtype=dtype, input_name=name)
        return TensorFile(path.resolve(), pre.sample_shape, count)
    if not path.is_dir():
        raise DatasetError(f"{_show(path)}: dataset.kind = '{kind}' needs a folder")
    root = path.resolve()
    dataset: _PictureSet
    if kind == "imagenet":
        dataset = ImageNetFolder(root, None, pre)
    elif kind == "images":
        dataset = ImagesFolder(root, pre)
    elif kind == "classes":
        dataset = ClassFolders(root, classes, pre)
    else:
        raise DatasetError(f"dataset.kind: {one_line(repr(kind))} is not one of {', '.join(KINDS)}")
    dataset.check(count, progress)
    return dataset


def calibration_indices(dataset: Dataset, count: int, seed: int = 0) -> list[int]:
    """A deterministic, sorted choice of `count` distinct indices (all if `count >= dataset.count`)."""
    if count < 0:
        raise ValueError(f"calibration count must be non-negative, got {count}")
    if count >= dataset.count:
        return list(range(dataset.count))
    rng = np.random.default_rng(np.random.SeedSequence([seed & 0xFFFFFFFF, dataset.count]))
    chosen = rng.choice(dataset.count, size=count, replace=False)
    return sorted(int(i) for i in chosen)


__all__ = [
    "KINDS", "ClassFolders", "Dataset", "DatasetError", "ImageNetFolder", "ImagesFolder",
    "Preprocess", "SyntheticDataset", "TensorFile", "calibration_indices",
    "detect_kind", "open_dataset", "preprocess_from_spec",
    "preprocess_image",
]
