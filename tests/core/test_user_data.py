"""The user's own data (qtui.core.data): a plain folder of pictures, class-per-folder layouts,
.npy/.npz tensors, auto-detection and `dataset.kind`, the `[input]` preprocessing, bad input
refused naming the file, and the data's identity (digest) that artifact keys and results use."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from qtui.core import data
from qtui.core.data import (
    ClassFolders,
    DatasetError,
    ImagesFolder,
    Preprocess,
    SyntheticDataset,
    TensorFile,
    detect_kind,
    open_dataset,
    preprocess_from_spec,
    preprocess_image,
)
from qtui.core.profile import DatasetSpec, InputSpec, ProfileError, RunProfile, apply_overrides
from qtui.core.profile_data import calibration_dataset, open_profile_dataset
from qtui.core.synthetic import normalise_u8, synthetic_image_u8


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("QTUI_CACHE_DIR", str(cache))
    return cache


def _picture(path: Path, seed: int, size: tuple[int, int] = (96, 80), fmt: str | None = None) -> Path:
    rng = np.random.default_rng(seed)
    w, h = size
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)).save(path, format=fmt)
    return path


def make_pictures(root: Path, n: int = 6) -> Path:
    """`n` pictures, JPEG/PNG/BMP/WebP mixed, some in a subfolder (a plain folder is recursive)."""
    names = ["a.jpg", "b.PNG", "c.jpeg", "d.bmp", "e.webp", "sub/f.jpg", "sub/deeper/g.png", "h.jpg"]
    for i, name in enumerate(names[:n]):
        _picture(root / name, i)
    return root


def make_classes(root: Path, classes: tuple[str, ...] = ("cat", "dog", "fish"), per: int = 3) -> Path:
    for c, name in enumerate(classes):
        for k in range(per):
            _picture(root / name / f"{k}.jpg", 10 * c + k)
    return root


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


# --- plain folder ---------------------------------------------------------------------------------


def test_plain_folder_is_recursive_sorted_and_unlabelled(tmp_path: Path) -> None:
    root = make_pictures(tmp_path / "my photos", 7)
    (root / "notes.txt").write_text("not a picture")
    (root / ".hidden.jpg").write_bytes(b"junk")  # hidden files are not pictures
    ds = open_dataset(str(root), None)
    assert isinstance(ds, ImagesFolder) and ds.kind == "images" and not ds.has_labels
    assert ds.count == 7 and ds.label == "my photos"
    assert [ds.image_path(i).relative_to(root).as_posix() for i in range(7)] == [
        "a.jpg", "b.PNG", "c.jpeg", "d.bmp", "e.webp", "sub/deeper/g.png", "sub/f.jpg"
    ]
    x = ds.get(0)
    assert x.shape == (3, 224, 224) and x.dtype == np.float32
    with Image.open(root / "a.jpg") as img:
        np.testing.assert_array_equal(x, preprocess_image(img))
    assert "'my photos'" in ds.provenance and str(tmp_path) not in ds.provenance
    with pytest.raises(DatasetError, match="no labels"):
        ds.labels([0])
    assert open_dataset(str(root), 3).count == 3


def test_empty_folder_and_folder_without_pictures(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"empty: no pictures in this folder or below \(jpg, jpeg, png"):
        open_dataset(str(tmp_path / "empty"), None)
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "readme.txt").write_text("hello")
    with pytest.raises(DatasetError, match="no pictures"):
        open_dataset(str(tmp_path / "text"), None, kind="images")
    (tmp_path / "arrays").mkdir()
    np.save(tmp_path / "arrays" / "x.npy", np.zeros((1, 3, 224, 224), np.float32))
    with pytest.raises(DatasetError, match="give the .npy/.npz file itself"):
        open_dataset(str(tmp_path / "arrays"), None)


def test_missing_source_and_single_picture(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="nowhere: no such file or folder"):
        open_dataset(str(tmp_path / "nowhere"), None)
    pic = _picture(tmp_path / "one.jpg", 0)
    with pytest.raises(DatasetError, match="a single picture; give the folder"):
        open_dataset(str(pic), None)


# --- bad pictures ---------------------------------------------------------------------------------


def test_one_bad_picture_in_a_small_set_is_refused_by_name(tmp_path: Path, cache_in_tmp: Path) -> None:
    root = make_pictures(tmp_path / "pics", 6)
    _truncate(root / "c.jpeg")
    with pytest.raises(DatasetError) as info:
        open_dataset(str(root), None)
    msg = str(info.value)
    assert msg.startswith(str(root / "c.jpeg")) and "truncated" in msg and "1 of 6 pictures" in msg
    assert not (cache_in_tmp / "data").exists()  # nothing written for a refused set


def test_a_few_bad_pictures_in_a_large_set_are_skipped_and_named(tmp_path: Path) -> None:
    root = tmp_path / "many"
    for i in range(200):
        _picture(root / f"{i:03d}.png", i, size=(8, 8))
    (root / "042.png").write_bytes(b"\x89PNG this is no png")
    _truncate(root / "107.png")
    ds = open_dataset(str(root), None)
    assert ds.count == 198
    assert [name for name, _ in ds.skipped] == ["042.png", "107.png"]
    assert "cannot decode" in ds.skipped[0][1]
    assert all(ds.image_path(i).name not in ("042.png", "107.png") for i in range(ds.count))
    # a third bad one is more than 1 % of 200: refused, naming the first
    (root / "150.png").write_bytes(b"")
    with pytest.raises(DatasetError, match=r"042.png: .*3 of 200 pictures"):
        open_dataset(str(root), None)


def test_count_takes_the_first_good_pictures(tmp_path: Path) -> None:
    root = tmp_path / "many"
    for i in range(160):
        _picture(root / f"{i:03d}.png", i, size=(8, 8))
    (root / "001.png").write_bytes(b"junk")
    ds = open_dataset(str(root), 150)
    assert ds.count == 150 and ds.image_path(1).name == "002.png" and len(ds.skipped) == 1
    # the share counts against the pictures looked at: 1 bad of the first 11 is too many
    with pytest.raises(DatasetError, match="001.png: .*1 of 11 pictures"):
        open_dataset(str(root), 10)


def test_decompression_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_pictures(tmp_path / "pics", 3)
    _picture(root / "huge.png", 9, size=(400, 300))
    monkeypatch.setattr(data, "MAX_IMAGE_PIXELS", 100_000)
    with pytest.raises(DatasetError, match=r"huge.png: 400×300 pixels is more than qtui's limit"):
        open_dataset(str(root), None)


def test_checked_pictures_are_not_decoded_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_pictures(tmp_path / "pics", 5)
    first = open_dataset(str(root), None)

    def no_check(path: Path) -> tuple[str | None, str]:
        raise AssertionError(f"{path} checked again")

    monkeypatch.setattr(data, "_check_picture", no_check)
    assert open_dataset(str(root), None).digest == first.digest
    _picture(root / "a.jpg", 99)  # changed: checked again
    monkeypatch.undo()
    assert open_dataset(str(root), None).digest != first.digest


# --- class folders --------------------------------------------------------------------------------


def test_class_folders_sorted_like_torchvision(tmp_path: Path) -> None:
    root = make_classes(tmp_path / "pets", ("dog", "cat", "fish"))
    ds = open_dataset(str(root), None, kind="classes")
    assert isinstance(ds, ClassFolders) and ds.has_labels and ds.count == 9
    assert ds.labels(range(9)).tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]  # cat, dog, fish
    assert ds.image_path(3).parent.name == "dog"
    assert "3 classes" in ds.provenance and "sorted order" in ds.provenance


def test_class_folder_names_ambiguous_without_kind(tmp_path: Path) -> None:
    root = make_classes(tmp_path / "pets")
    with pytest.raises(DatasetError, match="set dataset.kind = 'classes' .* or 'images'"):
        detect_kind(str(root))
    assert open_dataset(str(root), None, kind="images").count == 9  # every picture, no labels


def test_top_pictures_make_a_plain_folder(tmp_path: Path) -> None:
    """Pictures at the top: a plain folder, its subfolders searched too (a class layout has
    none at the top); `dataset.kind = 'classes'` still reads the subfolders as classes."""
    root = make_classes(tmp_path / "mixed")
    _picture(root / "loose.jpg", 1)
    assert detect_kind(str(root)) == "images" and open_dataset(str(root), None).count == 10
    assert open_dataset(str(root), None, kind="classes").count == 9


def test_train_val_split_points_at_val(tmp_path: Path) -> None:
    make_classes(tmp_path / "imagenette" / "train" / "x", ("n01440764", "n02102040"))
    make_classes(tmp_path / "imagenette" / "val", ("n01440764", "n02102040"))
    with pytest.raises(DatasetError, match=r"point dataset.source at .*imagenette/val"):
        open_dataset(str(tmp_path / "imagenette"), None)


def test_imagenette_wnids_need_a_classes_file(tmp_path: Path) -> None:
    root = make_classes(tmp_path / "val", ("n01440764", "n02102040", "n02979186"), per=2)
    assert detect_kind(str(root)) == "classes"
    with pytest.raises(DatasetError, match="only 3 of the 1000 classes.*dataset.classes"):
        open_dataset(str(root), None)
    mapping = tmp_path / "imagenet-classes.txt"
    mapping.write_text("# wnid index\nn01440764 0\nn02102040 217\nn02979186 482\nn09999999 999\n")
    ds = open_dataset(str(root), None, classes=str(mapping))
    assert ds.labels(range(6)).tolist() == [0, 0, 217, 217, 482, 482]
    assert "classes file 'imagenet-classes.txt'" in ds.provenance
    assert open_dataset(str(root), None, classes="sorted").labels([5]).tolist() == [2]


def test_classes_file_errors(tmp_path: Path) -> None:
    root = make_classes(tmp_path / "pets")
    mapping = tmp_path / "classes.txt"
    mapping.write_text("cat 3\ndog 5\n")
    with pytest.raises(DatasetError, match=r"classes.txt: class folder 'fish' of .* is not listed"):
        open_dataset(str(root), None, kind="classes", classes=str(mapping))
    mapping.write_text("cat 3\ndog 1000\n")
    with pytest.raises(DatasetError, match=r"classes.txt:2: class index 1000 out of range 0..999"):
        open_dataset(str(root), None, kind="classes", classes=str(mapping))
    with pytest.raises(DatasetError, match="cannot read the classes file"):
        open_dataset(str(root), None, kind="classes", classes=str(tmp_path / "none.txt"))


def test_one_class_and_an_empty_class_are_refused(tmp_path: Path) -> None:
    one = make_classes(tmp_path / "one", ("cat",))
    with pytest.raises(DatasetError, match="1 class folder \\('cat'\\): top-1 needs at least two classes"):
        open_dataset(str(one), None, kind="classes")
    root = make_classes(tmp_path / "pets")
    (root / "empty").mkdir()
    with pytest.raises(DatasetError, match="empty: class folder with no pictures"):
        open_dataset(str(root), None, kind="classes")


# --- tensors --------------------------------------------------------------------------------------


def test_npy_tensors(tmp_path: Path) -> None:
    x = np.random.default_rng(0).standard_normal((5, 3, 224, 224), dtype=np.float32)
    np.save(tmp_path / "inputs.npy", x)
    ds = open_dataset(str(tmp_path / "inputs.npy"), None)
    assert isinstance(ds, TensorFile) and ds.kind == "tensors" and ds.count == 5 and not ds.has_labels
    np.testing.assert_array_equal(ds.get_batch([4, 1]), x[[4, 1]])
    assert ds.get(2).flags.c_contiguous and "'inputs.npy'" in ds.provenance
    assert open_dataset(str(tmp_path / "inputs.npy"), 2).count == 2


def test_npz_with_labels(tmp_path: Path) -> None:
    x = np.zeros((4, 3, 224, 224), np.float32)
    np.savez(tmp_path / "set.npz", images=x, labels=np.array([1, 2, 3, 999]))
    ds = open_dataset(str(tmp_path / "set.npz"), None)
    assert ds.has_labels and ds.labels([3, 0]).tolist() == [999, 1]
    np.savez(tmp_path / "two.npz", a=x, b=x)
    with pytest.raises(DatasetError, match=r"two.npz: cannot tell which array is the input \(arrays: a, b\)"):
        open_dataset(str(tmp_path / "two.npz"), None)
    np.savez(tmp_path / "named.npz", input=x, other=x)
    assert open_dataset(str(tmp_path / "named.npz"), None).count == 4
    np.savez(tmp_path / "badlabels.npz", input=x, labels=np.array([0, 1, 2, 1000]))
    with pytest.raises(DatasetError, match=r"labels\[3\] = 1000 is out of range"):
        open_dataset(str(tmp_path / "badlabels.npz"), None)
    np.savez(tmp_path / "fewlabels.npz", input=x, labels=np.array([0, 1]))
    with pytest.raises(DatasetError, match="'labels' must be 4 integer class indices"):
        open_dataset(str(tmp_path / "fewlabels.npz"), None)


@pytest.mark.parametrize(
    ("array", "fragment"),
    [
        (np.zeros((2, 224, 224, 3), np.float32), r"shape \(2, 224, 224, 3\), the model takes N×3×224×224 \(channels last"),
        (np.zeros((3, 224, 224), np.float32), r"without the batch dimension"),
        (np.zeros((2, 3, 32, 32), np.float32), r"shape \(2, 3, 32, 32\)"),
        (np.zeros((2, 3, 224, 224), np.float64), r"is float64, the model takes float32"),
        (np.zeros((2, 3, 224, 224), np.uint8), r"is uint8, the model takes float32"),
        (np.zeros((0, 3, 224, 224), np.float32), r"holds no samples"),
        (np.full((2, 3, 224, 224), np.nan, np.float32), r"sample 0 holds NaN"),
    ],
)
def test_npy_wrong_shape_or_dtype(tmp_path: Path, array: np.ndarray, fragment: str) -> None:
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(DatasetError, match=fragment) as info:
        open_dataset(str(tmp_path / "bad.npy"), None)
    assert str(info.value).startswith(str(tmp_path / "bad.npy"))


def test_npy_object_array_and_garbage_are_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DatasetError, match="obj.npy: cannot read"):
        open_dataset(str(tmp_path / "obj.npy"), None)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match="junk.npz: cannot read"):
        open_dataset(str(tmp_path / "junk.npz"), None)


# --- kind override --------------------------------------------------------------------------------


def test_kind_override_must_fit_the_source(tmp_path: Path) -> None:
    root = make_pictures(tmp_path / "pics", 3)
    with pytest.raises(DatasetError, match="needs a .npy or .npz file"):
        open_dataset(str(root), None, kind="tensors")
    with pytest.raises(DatasetError, match="val_map.txt: file not found"):
        open_dataset(str(root), None, kind="imagenet")
    with pytest.raises(DatasetError, match="needs a folder or file"):
        open_dataset("synthetic", None, kind="images")


# --- identity -------------------------------------------------------------------------------------


def test_digest_follows_content_not_path(tmp_path: Path) -> None:
    a = make_pictures(tmp_path / "a", 4)
    b = make_pictures(tmp_path / "b", 4)  # the same pictures elsewhere
    da, db = open_dataset(str(a), None), open_dataset(str(b), None)
    assert da.digest == db.digest and da.identity == db.identity and len(da.digest) == 16
    _picture(b / "a.jpg", 50)
    changed = open_dataset(str(b), None)
    assert changed.digest != da.digest and changed.identity != da.identity  # the artifact key's part
    assert open_dataset(str(a), 3).identity != da.identity
    other = open_dataset(str(a), None, preprocess=Preprocess(normalize="none"))
    assert other.digest == da.digest and other.identity != da.identity  # preprocessing keys it
    labelled = open_dataset(str(make_classes(tmp_path / "c")), None, kind="classes")
    assert open_dataset(str(tmp_path / "c"), None, kind="images").identity != labelled.identity


def test_synthetic_identity_is_unchanged() -> None:
    """Artifacts calibrated on the synthetic set keep their cache keys."""
    assert SyntheticDataset(256, 0).identity == "synthetic:seed=0:n=256"
    assert SyntheticDataset(256, 0, Preprocess(normalize="none")).identity != "synthetic:seed=0:n=256"


# --- preprocessing --------------------------------------------------------------------------------


def test_preprocess_default_is_imagenet() -> None:
    img = Image.fromarray(synthetic_image_u8(0, 3)).resize((300, 260))
    np.testing.assert_array_equal(Preprocess().image(img), preprocess_image(img))
    np.testing.assert_array_equal(Preprocess().synthetic(0, 3), normalise_u8(synthetic_image_u8(0, 3)))
    assert Preprocess().identity == data.PREPROCESS_VERSION


def test_preprocess_none_custom_layout_and_sizes() -> None:
    u8 = synthetic_image_u8(1, 2)
    img = Image.fromarray(u8)
    raw = Preprocess(resize=224, normalize="none").image(img)
    np.testing.assert_array_equal(raw, u8.astype(np.float32).transpose(2, 0, 1))
    custom = Preprocess(resize=224, normalize="custom", mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    np.testing.assert_allclose(custom.image(img), (u8.astype(np.float32) / 255 - 0.5).transpose(2, 0, 1) / 0.5, atol=1e-6)
    nhwc = Preprocess(layout="NHWC")
    assert nhwc.sample_shape == (224, 224, 3)
    np.testing.assert_array_equal(nhwc.image(img), Preprocess().image(img).transpose(1, 2, 0))
    small = Preprocess(resize=160, crop=128)
    assert small.image(img).shape == (3, 128, 128) and small.synthetic(0, 0).shape == (3, 128, 128)
    assert "resize 160, centre crop 128, ImageNet mean/std, NCHW" == small.describe()
    raw_pre = Preprocess(normalize="none")
    assert len({p.identity for p in (Preprocess(), raw_pre, custom, nhwc, small)}) == 5
    assert raw_pre.describe().endswith("no normalisation (0-255 values), NCHW")


def test_input_table_in_profiles() -> None:
    base = RunProfile()
    p = apply_overrides(base, ["input.normalize=custom", "input.mean=[127.5]", "input.std=127.5", "input.scale=1"])
    pre = preprocess_from_spec(p.input)
    assert pre.mean == (127.5,) * 3 and pre.std == (127.5,) * 3 and pre.scale == 1.0
    assert preprocess_from_spec(None) == Preprocess()
    with pytest.raises(ProfileError, match="'input.mean' is used only with input.normalize = 'custom'") as info:
        apply_overrides(base, ["input.mean=[0.5, 0.5, 0.5]"])
    assert info.value.key == "input.mean"
    with pytest.raises(ProfileError, match="'input.std'.* must be > 0"):
        apply_overrides(base, ["input.normalize=custom", "input.std=[1, 0, 1]"])
    with pytest.raises(ProfileError, match="must be 1 or 3 finite numbers"):
        apply_overrides(base, ["input.normalize=custom", "input.mean=[1, 2]"])
    with pytest.raises(ProfileError, match="is not one of NCHW, NHWC"):
        apply_overrides(base, ["input.layout=NWHC"])
    with pytest.raises(ProfileError, match="built-in model mobilenet_v2 takes 224×224 NCHW") as info:
        apply_overrides(base, ["input.layout=NHWC"])
    assert info.value.key == "input.layout"
    with pytest.raises(ProfileError, match="'input.crop': 192, but the built-in model"):
        apply_overrides(base, ["input.crop=192", "input.resize=220"])
    with pytest.raises(ProfileError, match="'input.crop': 224 is larger than 'input.resize' \\(200\\)"):
        apply_overrides(base, ["input.resize=200"])
    with pytest.raises(ProfileError, match="'dataset.kind'.* needs a folder or file"):
        apply_overrides(base, ["dataset.kind=classes"])
    with pytest.raises(ProfileError, match="is not one of data, synthetic"):
        apply_overrides(base, ["dataset.calibration=noise"])


def test_profile_dataset_and_calibration_set(tmp_path: Path) -> None:
    root = make_classes(tmp_path / "pets")
    p = RunProfile(
        precision="int8_static",
        dataset=DatasetSpec(source=str(root), kind="classes", count=0, calibration_count=4),
        input=InputSpec(normalize="none"),
    )
    ds = open_profile_dataset(p)
    assert ds.kind == "classes" and ds.preprocess.normalize == "none" and ds.count == 9
    assert calibration_dataset(p, ds) is ds
    from dataclasses import replace

    q = replace(p, dataset=replace(p.dataset, calibration="synthetic"))
    calib = calibration_dataset(q, ds)
    assert calib.kind == "synthetic" and calib.count == 4 and calib.preprocess == ds.preprocess


def test_file_names_reach_messages_without_control_characters(tmp_path: Path) -> None:
    """A picture's name comes from the user's disk: a message naming it carries no terminal
    escape sequence (it goes to the terminal, and into results)."""
    root = make_pictures(tmp_path / "pics", 3)
    evil = root / "\x1b[2J\x1b]0;owned\x07bad.jpg"
    evil.write_bytes(b"not a picture")
    with pytest.raises(DatasetError) as info:
        open_dataset(str(root), None)
    msg = str(info.value)
    assert "bad.jpg" in msg and "\x1b" not in msg and "\x07" not in msg


def test_speedup_needs_the_same_data_and_result_fields_load(tmp_path: Path) -> None:
    """An FP32 run measured on other pictures (another digest) is no baseline; the data fields a
    run records are part of the result format."""
    from qtui.core.matching import fp32_baseline
    from qtui.core.results import load_result, save_result
    from tests.ui.conftest import fake_result

    fp32 = fake_result("a", "2026-01-02T10:00:00+00:00", "fp32", p90=20.0)
    int8 = fake_result("b", "2026-01-02T10:05:00+00:00", "int8_static", p90=9.0)
    for r, digest in ((fp32, "1111111111111111"), (int8, "1111111111111111")):
        r.provenance.update({"data_kind": "images", "data_count": 6, "data_digest": digest, "data_name": "pics",
                             "preprocess": Preprocess().describe(), "calibration_data": "data"})
    assert fp32_baseline(int8, [fp32, int8]) is fp32
    int8.provenance["data_digest"] = "2222222222222222"
    assert fp32_baseline(int8, [fp32, int8]) is None
    save_result(int8, tmp_path / "b")
    assert load_result(tmp_path / "b" / "result.json").provenance["data_count"] == 6
    int8.provenance["data_count"] = "six"
    save_result(int8, tmp_path / "c")
    from qtui.core.results import ResultError

    with pytest.raises(ResultError, match="'provenance.data_count' must be an integer"):
        load_result(tmp_path / "c" / "result.json")
