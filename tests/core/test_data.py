"""Tests for qtui.core.data: preprocessing, the ImageNet folder (layout, cache, errors), the
synthetic set, open_dataset and calibration_indices."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from qtui.core import data
from qtui.core.data import (
    DatasetError,
    ImageNetFolder,
    SyntheticDataset,
    calibration_indices,
    open_dataset,
    preprocess_image,
)
from qtui.core.synthetic import IMAGENET_MEAN, IMAGENET_STD, normalise_u8, synthetic_image_u8

SOLID = (200, 100, 50)
BORDER = (20, 40, 60)
CENTRE = (230, 210, 10)
LABELS = [65, 0, 999, 1, 500, 7]


def _solid(size: tuple[int, int], rgb: tuple[int, int, int]) -> Image.Image:
    return Image.new("RGB", size, rgb)


def _framed(width: int = 400, height: int = 300) -> Image.Image:
    """BORDER everywhere except the rectangle x∈[100,300), y∈[50,250), which is CENTRE."""
    arr = np.empty((height, width, 3), dtype=np.uint8)
    arr[:] = BORDER
    arr[50:250, 100:300] = CENTRE
    return Image.fromarray(arr)


def _noise(size: tuple[int, int], seed: int, mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(seed)
    w, h = size
    shape = (h, w, 3) if mode == "RGB" else (h, w)
    return Image.fromarray(rng.integers(0, 256, size=shape, dtype=np.uint8), mode=mode)


def _write_map(root: Path, lines: list[str]) -> Path:
    path = root / "val_map.txt"
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("QTUI_CACHE_DIR", str(cache))
    return cache


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A 6-image MLPerf-layout folder: PNGs in disguise, odd sizes, grayscale, tiny, palette."""
    root = tmp_path / "imagenet"
    root.mkdir()
    names = [f"ILSVRC2012_val_{i:08d}.JPEG" for i in range(1, 7)]
    _solid((320, 240), SOLID).save(root / names[0], format="PNG")  # PNG named .JPEG
    _framed().save(root / names[1], format="PNG")
    _noise((250, 500), 1, mode="L").save(root / names[2], format="JPEG")  # grayscale
    _noise((200, 600), 2).save(root / names[3], format="JPEG", quality=90)  # tall
    _noise((50, 40), 3).save(root / names[4], format="JPEG")  # tiny: upscaled
    _noise((300, 260), 4).convert("P").save(root / names[5], format="PNG")  # palette
    _write_map(root, [f"{n} {lab}" for n, lab in zip(names, LABELS, strict=True)] + [""])
    return root


def _reference(img: Image.Image) -> np.ndarray:
    """Independent torchvision Resize(256)+CenterCrop(224)+ToTensor+Normalize, in float64."""
    img = img.convert("RGB")
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(256 * long / short)
    new_w, new_h = (256, new_long) if w <= h else (new_long, 256)
    img = img.resize((new_w, new_h), Image.BILINEAR)
    top, left = int(round((new_h - 224) / 2.0)), int(round((new_w - 224) / 2.0))
    arr = np.asarray(img, dtype=np.float64)[top : top + 224, left : left + 224] / 255.0
    arr = (arr - IMAGENET_MEAN.astype(np.float64)) / IMAGENET_STD.astype(np.float64)
    return arr.transpose(2, 0, 1)


# --- preprocessing -------------------------------------------------------------------------


def test_preprocess_solid_colour_exact() -> None:
    out = preprocess_image(_solid((333, 271), SOLID))
    assert out.shape == (3, 224, 224) and out.dtype == np.float32 and out.flags.c_contiguous
    for c, value in enumerate(SOLID):
        expected = (value / 255.0 - [0.485, 0.456, 0.406][c]) / [0.229, 0.224, 0.225][c]
        np.testing.assert_allclose(out[c], expected, atol=1e-6)


def test_preprocess_crops_the_centre() -> None:
    out = preprocess_image(_framed(400, 300))
    # undo the normalisation to get back to 0..255 and classify each pixel of the middle row/col
    u8 = np.rint((out.transpose(1, 2, 0) * IMAGENET_STD + IMAGENET_MEAN) * 255)
    is_centre = np.abs(u8 - CENTRE).sum(axis=-1) < 30
    assert is_centre[112, 112] and not is_centre[0, 0] and not is_centre[-1, -1]
    row, col = is_centre[112], is_centre[:, 112]
    left, right = int(np.argmax(row)), int(np.argmax(row[::-1]))
    top, bottom = int(np.argmax(col)), int(np.argmax(col[::-1]))
    # resize 400x300 -> 341x256, crop at (58, 16): each border strip is ~26-27 px wide
    for strip in (left, right, top, bottom):
        assert 24 <= strip <= 30, (left, right, top, bottom)


@pytest.mark.parametrize(
    ("size", "mode"),
    [
        ((400, 300), "RGB"),
        ((250, 500), "L"),
        ((50, 40), "RGB"),
        ((256, 999), "RGB"),
        ((257, 256), "RGB"),
    ],
)
def test_preprocess_matches_independent_reference(size: tuple[int, int], mode: str) -> None:
    img = _noise(size, 7, mode=mode)
    np.testing.assert_allclose(preprocess_image(img), _reference(img), atol=1e-5)


def test_preprocess_grayscale_gives_three_equal_channels() -> None:
    gray = _noise((250, 500), 1, mode="L")
    out = preprocess_image(gray)
    assert out.shape == (3, 224, 224)
    # undo each channel's own normalisation: the three channels are then the same picture ...
    unnorm = out.transpose(1, 2, 0) * IMAGENET_STD + IMAGENET_MEAN
    np.testing.assert_allclose(unnorm[..., 0], unnorm[..., 1], atol=1e-6)
    np.testing.assert_allclose(unnorm[..., 1], unnorm[..., 2], atol=1e-6)
    # ... and that picture is the grey image itself, resized 250x500 -> 256x512 and centre-cropped
    # (not a blank or constant channel, which would also be "equal")
    crop = np.asarray(gray.resize((256, 512), Image.BILINEAR), dtype=np.float64)[144:368, 16:240]
    np.testing.assert_allclose(unnorm[..., 0], crop / 255.0, atol=1e-5)
    assert unnorm[..., 0].std() > 0.1


# --- ImageNetFolder ------------------------------------------------------------------------


def test_folder_shapes_labels_and_provenance(folder: Path) -> None:
    ds = ImageNetFolder(folder)
    assert ds.name == "imagenet" and ds.count == 6 and len(ds) == 6 and ds.has_labels
    # the folder's name, never the user's full path
    assert "'imagenet'" in ds.provenance and str(folder.parent) not in ds.provenance
    assert "6 images" in ds.provenance
    assert "val_map.txt" in ds.provenance
    for i in range(ds.count):
        x = ds.get(i)
        assert x.shape == (3, 224, 224) and x.dtype == np.float32
    batch = ds.get_batch([5, 0, 2])
    assert batch.shape == (3, 3, 224, 224) and batch.dtype == np.float32
    assert batch.flags.c_contiguous
    np.testing.assert_array_equal(batch[1], ds.get(0))
    assert ds.get_batch([]).shape == (0, 3, 224, 224)
    labels = ds.labels([0, 2, 5])
    assert labels.dtype == np.int64 and labels.tolist() == [65, 999, 7]
    assert ds.labels(range(6)).tolist() == LABELS


def test_folder_values_match_reference(folder: Path) -> None:
    ds = ImageNetFolder(folder)
    for i in (0, 1, 2, 5):
        with Image.open(ds.image_path(i)) as img:
            np.testing.assert_allclose(ds.get(i), _reference(img), atol=1e-5)
    x = ds.get(0)  # the solid PNG-in-disguise
    for c, value in enumerate(SOLID):
        expected = (value / 255.0 - IMAGENET_MEAN[c]) / IMAGENET_STD[c]
        np.testing.assert_allclose(x[c], expected, atol=1e-5)


def test_folder_count_caps_and_index_errors(folder: Path) -> None:
    ds = ImageNetFolder(folder, count=3)
    assert ds.count == 3 and "first 3 of 6 images" in ds.provenance
    assert ds.labels([0, 1, 2]).tolist() == LABELS[:3]
    with pytest.raises(IndexError):
        ds.get(3)
    with pytest.raises(IndexError):
        ds.get(-1)
    with pytest.raises(IndexError):
        ds.labels([3])
    assert ImageNetFolder(folder, count=1000).count == 6


def test_cache_is_written_and_used(
    folder: Path, cache_in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = ImageNetFolder(folder)
    assert ds.cache_root == cache_in_tmp / "data" / ds.cache_key and len(ds.cache_key) == 16
    first = ds.get_batch(range(6))
    for i in range(6):
        assert ds.cache_path(i).is_file()
        assert ds.cache_path(i).name == f"{i}.npy"
    assert not list(ds.cache_root.glob("*.tmp"))  # temp files were renamed away

    def no_decoding(*args: object, **kwargs: object) -> Image.Image:
        raise AssertionError("image decoded although it is cached")

    monkeypatch.setattr(Image, "open", no_decoding)
    again = ImageNetFolder(folder)  # a new run: same key, reads the cache
    assert again.cache_key == ds.cache_key
    np.testing.assert_array_equal(again.get_batch(range(6)), first)


def test_damaged_cache_entry_is_rebuilt(folder: Path) -> None:
    ds = ImageNetFolder(folder)
    good = ds.get(1)
    ds.cache_path(1).write_bytes(b"not an npy file")
    np.testing.assert_array_equal(ds.get(1), good)
    np.testing.assert_array_equal(np.load(ds.cache_path(1)), good)


def test_cache_key_changes_with_val_map(folder: Path) -> None:
    key = ImageNetFolder(folder).cache_key
    assert ImageNetFolder(folder).cache_key == key  # stable
    map_path = folder / "val_map.txt"
    st = map_path.stat()
    os.utime(map_path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    touched = ImageNetFolder(folder).cache_key
    assert touched != key
    lines = map_path.read_text().splitlines()
    lines[0] = lines[0].replace(" 65", " 66")
    map_path.write_text("\n".join(lines) + "\n")
    os.utime(map_path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # same mtime again
    assert ImageNetFolder(folder).cache_key == touched  # same size and mtime: same key
    map_path.write_text("\n".join(lines[:5]) + "\n")  # different size
    assert ImageNetFolder(folder).cache_key not in (key, touched)


def test_cache_key_includes_preprocess_version(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = ImageNetFolder(folder).cache_key
    monkeypatch.setattr(data, "PREPROCESS_VERSION", "something-else")
    assert ImageNetFolder(folder).cache_key != key


def test_verify(folder: Path) -> None:
    ds = ImageNetFolder(folder)
    ds.verify([0, 1])
    ds.verify()
    assert all(ds.cache_path(i).is_file() for i in range(6))
    (folder / "ILSVRC2012_val_00000004.JPEG").unlink()
    ds.cache_path(3).unlink()
    with pytest.raises(DatasetError, match="ILSVRC2012_val_00000004.JPEG"):
        ImageNetFolder(folder).verify()


# --- ImageNetFolder errors -----------------------------------------------------------------


def test_missing_val_map(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as info:
        ImageNetFolder(tmp_path)
    msg = str(info.value)
    assert (
        str(tmp_path.resolve() / "val_map.txt") in msg and "ILSVRC2012_val_00000001.JPEG 65" in msg
    )


def test_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not a folder"):
        ImageNetFolder(tmp_path / "nope")
    with pytest.raises(DatasetError, match="nope"):
        open_dataset(str(tmp_path / "nope"), None)


@pytest.mark.parametrize(
    ("bad_line", "fragment"),
    [
        ("img3.JPEG 3 extra", "got 3 field"),
        ("img3.JPEG", "got 1 field"),
        ("img3.JPEG cat", "not an integer"),
        ("img3.JPEG 1.5", "not an integer"),
        ("img3.JPEG 1000", "out of range"),
        ("img3.JPEG -1", "out of range"),
    ],
)
def test_bad_val_map_line(tmp_path: Path, bad_line: str, fragment: str) -> None:
    map_path = _write_map(tmp_path, ["img1.JPEG 1", "", bad_line])
    with pytest.raises(DatasetError) as info:
        ImageNetFolder(tmp_path)
    msg = str(info.value)
    assert f"{map_path.resolve()}:3:" in msg and "val_map.txt:3:" in msg and fragment in msg


def test_empty_val_map(tmp_path: Path) -> None:
    _write_map(tmp_path, ["", "   "])
    with pytest.raises(DatasetError, match="no entries") as info:
        ImageNetFolder(tmp_path)
    assert "val_map.txt" in str(info.value)


def test_crlf_and_bom_accepted(tmp_path: Path) -> None:
    _solid((10, 10), SOLID).save(tmp_path / "a.JPEG", format="PNG")
    (tmp_path / "val_map.txt").write_bytes(b"\xef\xbb\xbfa.JPEG 5\r\n\r\na.JPEG 6\r\n")
    assert ImageNetFolder(tmp_path).labels([0, 1]).tolist() == [5, 6]


def test_missing_image(folder: Path) -> None:
    (folder / "ILSVRC2012_val_00000003.JPEG").unlink()
    ds = ImageNetFolder(folder)  # lazy: construction succeeds
    ds.get(0)
    with pytest.raises(DatasetError) as info:
        ds.get(2)
    msg = str(info.value)
    assert "ILSVRC2012_val_00000003.JPEG" in msg and "not found" in msg
    assert "val_map.txt:3" in msg


@pytest.mark.parametrize("kind", ["garbage", "empty", "truncated"])
def test_corrupt_image(folder: Path, kind: str) -> None:
    target = folder / "ILSVRC2012_val_00000004.JPEG"
    if kind == "garbage":
        target.write_bytes(b"\xff\xd8 this is not really a jpeg" * 10)
    elif kind == "empty":
        target.write_bytes(b"")
    else:
        target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    ds = ImageNetFolder(folder)
    with pytest.raises(DatasetError) as info:
        ds.get(3)
    assert str(target) in str(info.value)
    assert not ds.cache_path(3).exists()


# --- synthetic -----------------------------------------------------------------------------


def test_synthetic_dataset() -> None:
    ds = SyntheticDataset(5, seed=3)
    assert ds.name == "synthetic" and ds.count == 5 and not ds.has_labels
    assert ds.provenance == "synthetic structured images (seed 3, 5 images) — no labels"
    x = ds.get(2)
    assert x.shape == (3, 224, 224) and x.dtype == np.float32
    np.testing.assert_array_equal(x, normalise_u8(synthetic_image_u8(3, 2)))
    assert x.tobytes() == SyntheticDataset(5, seed=3).get(2).tobytes()
    assert x.tobytes() != SyntheticDataset(5, seed=4).get(2).tobytes()
    assert x.tobytes() != ds.get(1).tobytes()
    batch = ds.get_batch([4, 2])
    assert batch.shape == (2, 3, 224, 224) and batch.flags.c_contiguous
    np.testing.assert_array_equal(batch[1], x)
    with pytest.raises(IndexError):
        ds.get(5)
    with pytest.raises(IndexError):
        ds.get(-1)
    with pytest.raises(DatasetError, match="no labels"):
        ds.labels([0])
    with pytest.raises(DatasetError):
        SyntheticDataset(0)


# --- open_dataset / calibration_indices ----------------------------------------------------


def test_open_dataset_dispatch(folder: Path) -> None:
    syn = open_dataset("synthetic", None)
    assert isinstance(syn, SyntheticDataset) and syn.count == 512 and syn.seed == 0
    syn = open_dataset("synthetic", 10, seed=7)
    assert isinstance(syn, SyntheticDataset) and syn.count == 10 and syn.seed == 7
    inet = open_dataset(str(folder), 4)
    assert isinstance(inet, ImageNetFolder) and inet.count == 4 and inet.root == folder.resolve()
    assert open_dataset(str(folder), None).count == 6


def test_calibration_indices() -> None:
    ds = SyntheticDataset(100)
    a = calibration_indices(ds, 10, seed=1)
    assert a == calibration_indices(ds, 10, seed=1)
    assert a == sorted(a) and len(set(a)) == 10 and all(0 <= i < 100 for i in a)
    assert all(isinstance(i, int) for i in a)
    assert a != calibration_indices(ds, 10, seed=2)
    assert calibration_indices(ds, 100) == list(range(100))
    assert calibration_indices(ds, 500) == list(range(100))
    assert calibration_indices(ds, 0) == []
    with pytest.raises(ValueError):
        calibration_indices(ds, -1)


def test_unusable_cache_dir_is_not_fatal(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("QTUI_CACHE_DIR", str(blocker / "cache"))  # cannot be created
    ds = ImageNetFolder(folder)
    x = ds.get(0)
    assert x.shape == (3, 224, 224)
    np.testing.assert_array_equal(ds.get(0), x)
