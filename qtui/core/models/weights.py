"""Model weights for the benchmark: seeded random, torchvision's ImageNet checkpoints, or a file.

`load_model(name, weights, seed, path)` returns a `LoadedModel`: the float32 module in eval mode,
a sha256 digest of its state dict and an honest provenance line.

* `random` — `torch.manual_seed(seed)` and torchvision's default initialisation, then the
  BatchNorm running statistics are recalibrated on synthetic structured images (a data seed
  distinct from the default test set), so activations keep a realistic range for FP16/INT8.
  The result is cached under `<cache>/weights/` and is bit-identical for a given seed on a
  given machine: the recalibration runs with a fixed torch thread count.
* `torchvision` — the official IMAGENET1K_V1 checkpoints, through torch's hub cache.
* anything else (or `path=`) — a local `.pth` state dict, loaded with `weights_only=True`.

Every failure a user can cause raises `WeightsError` with a message that says what to do.
This module does not import torch (or numpy) at import time.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import tempfile
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qtui.core import model_table as _model_table
from qtui.core.files import NotRegularFile, open_regular

from .architectures import MODEL_NAMES, MODEL_TITLES, architecture

if TYPE_CHECKING:
    import torch

# Bump when the architectures, the initialisation or the recalibration recipe change, so stale
# cached random weights are not reused.
RANDOM_WEIGHTS_VERSION = 1
CALIBRATION_IMAGES = 256
CALIBRATION_BATCH = 32
# Calibration images come from synthetic seed `seed + CALIBRATION_SEED_OFFSET`, never from the
# synthetic test set (dataset seed, 0 by default).
CALIBRATION_SEED_OFFSET = 1_000_003
# Intra-op threads for the recalibration forward passes: oneDNN picks kernels by thread count,
# so a fixed count keeps the statistics bit-identical whatever torch's default is. The passes
# run in channels-last layout, which is ~1.7x faster than NCHW on one thread.
RECALIBRATION_THREADS = 1

TORCHVISION_WEIGHTS = "IMAGENET1K_V1"
#: The checkpoints, from the model table; each file name carries its sha256 prefix, which
#: torch.hub's `check_hash` verifies.
TORCHVISION_URLS: dict[str, str] = {m.id: m.checkpoint_url for m in _model_table.TABLE}

# The profile key users set to choose weights (named in error messages).
PROFILE_KEY = "weights.source"

_NUM_BATCHES_TRACKED = "num_batches_tracked"
_LIST_LIMIT = 5  # keys shown per category in a mismatch message

ProgressFn = Callable[[str, float], None]


class WeightsError(Exception):
    """User-facing error; message says what to do."""


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to export or run, with where its weights came from."""

    name: str
    module: torch.nn.Module  # eval mode, float32
    digest: str  # sha256 of the state dict's canonical bytes (see `state_dict_digest`)
    source: str  # "random" | "torchvision" | "file"
    provenance: str  # one line for humans and result files
    trained: bool  # False for random weights: accuracy is meaningless, fidelity is not


def load_model(
    name: str,
    weights: str = "random",
    seed: int = 0,
    path: str | None = None,
    on_progress: ProgressFn | None = None,
) -> LoadedModel:
    """Build model `name` with the requested weights (see the module docstring).

    `weights` is "random", "torchvision" or a path to a state dict file; `path=` gives the file
    explicitly (then `weights` may be left at its default or be "file"). `on_progress(stage,
    fraction)` is called as work proceeds. Raises `WeightsError` for anything the user can fix.
    """
    if name not in MODEL_NAMES:
        raise WeightsError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    report: ProgressFn = on_progress or (lambda stage, fraction: None)
    if path is not None:
        if weights not in ("random", "file", path):
            raise WeightsError(
                f"weights {weights!r} and path {path!r} both given; pass one source only"
            )
        return _load_file(name, path, report)
    if weights == "random":
        return _load_random(name, int(seed), report)
    if weights == "torchvision":
        return _load_torchvision(name, report)
    return _load_file(name, weights, report)


# ----------------------------------------------------------------------------------------------
# Digest


def state_dict_digest(state_dict: Mapping[str, torch.Tensor]) -> str:
    """sha256 hex over the state dict's canonical bytes.

    For each entry, in order: the key, dtype, shape and byte length (NUL-separated), then the
    raw little-endian bytes of the contiguous tensor. Same weights → same digest, whatever the
    storage layout or whether they were computed fresh or read back from disk.
    """
    import torch

    h = hashlib.sha256(b"qtui-state-dict-v1\0")
    for key, value in state_dict.items():
        t = value.detach().to("cpu").contiguous()
        dtype = str(t.dtype).removeprefix("torch.")
        shape = ",".join(str(d) for d in t.shape)
        h.update(f"{key}\0{dtype}\0{shape}\0{t.numel() * t.element_size()}\0".encode())
        if t.numel() == 0:
            continue
        try:
            h.update(t.numpy().data)
        except (TypeError, RuntimeError):  # dtypes numpy lacks (bfloat16, …): hash the raw bytes
            h.update(t.reshape(-1).view(torch.uint8).numpy().data)
    return h.hexdigest()


def _file_sha256(path: Path) -> str:
    """The file's sha256; a FIFO or a device is refused (NotRegularFile) before it is opened."""
    h = hashlib.sha256()
    with open_regular(path) as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


# ----------------------------------------------------------------------------------------------
# Building modules and installing state dicts


def _title(name: str) -> str:
    return MODEL_TITLES.get(name, name)


def _empty_module(name: str) -> torch.nn.Module:
    """The architecture on the meta device: no memory, no (slow, RNG-consuming) initialisation."""
    import torch

    with torch.device("meta"):
        return architecture(name)()


def expected_shapes(name: str) -> OrderedDict[str, tuple[int, ...]]:
    """Every state-dict key of model `name`, in module order, with its shape."""
    return OrderedDict((key, tuple(t.shape)) for key, t in _empty_module(name).state_dict().items())


def _install(name: str, state_dict: Mapping[str, torch.Tensor]) -> torch.nn.Module:
    """A module holding exactly `state_dict` (already conformed), float32, eval mode."""
    module = _empty_module(name)
    module.load_state_dict(state_dict, strict=True, assign=True)
    return module.float().eval()


def _unwrap(raw: Any, where: str) -> Mapping[str, Any]:
    """The state dict inside what torch.load returned: bare, or under "state_dict"/"model"."""
    import torch

    if isinstance(raw, Mapping):
        for wrapper in ("state_dict", "model"):
            inner = raw.get(wrapper)
            if isinstance(inner, Mapping):
                return inner
        if raw and all(isinstance(v, torch.Tensor) for v in raw.values()):
            return raw
    kind = type(raw).__name__
    keys = (
        f" with keys {', '.join(map(str, list(raw)[:_LIST_LIMIT]))}"
        if isinstance(raw, Mapping)
        else ""
    )
    raise WeightsError(
        f"{where} holds a {kind}{keys}, not a state dict; save one with "
        "torch.save(model.state_dict(), path) (a dict with a 'state_dict' or 'model' entry "
        "also works)"
    )


def _first(items: list[str]) -> str:
    shown = ", ".join(items[:_LIST_LIMIT])
    return shown + (f", … ({len(items) - _LIST_LIMIT} more)" if len(items) > _LIST_LIMIT else "")


def conform_state_dict(name: str, raw: Any, where: str) -> OrderedDict[str, torch.Tensor]:
    """Validate and normalise a loaded checkpoint for model `name`.

    Unwraps "state_dict"/"model", strips a DataParallel "module." prefix, renames DenseNet's
    legacy keys, fills missing BatchNorm `num_batches_tracked` counters with 0 (as torch does
    for old checkpoints) and casts floating tensors to float32. Returns the entries in module
    order. Raises `WeightsError` naming the first missing/unexpected keys and shape mismatches.
    """
    import torch

    from .densenet import remap_legacy_keys

    state = _unwrap(raw, where)
    renamed: OrderedDict[str, Any] = OrderedDict()
    for key, value in state.items():
        key = str(key)
        renamed[key.removeprefix("module.")] = value
    renamed = remap_legacy_keys(renamed)

    expected = expected_shapes(name)
    missing = [k for k in expected if k not in renamed and not k.endswith(_NUM_BATCHES_TRACKED)]
    unexpected = [k for k in renamed if k not in expected]
    mismatched: list[str] = []
    for key, shape in expected.items():
        value = renamed.get(key)
        if value is None:
            continue
        if not isinstance(value, torch.Tensor):
            mismatched.append(f"{key}: a {type(value).__name__}, not a tensor")
        elif tuple(value.shape) != shape:
            mismatched.append(f"{key}: {tuple(value.shape)} in the checkpoint, model has {shape}")
    if missing or unexpected or mismatched:
        problems = []
        if missing:
            problems.append(f"{len(missing)} missing keys ({_first(missing)})")
        if unexpected:
            problems.append(f"{len(unexpected)} unexpected keys ({_first(unexpected)})")
        if mismatched:
            problems.append(f"{len(mismatched)} shape mismatches ({_first(mismatched)})")
        raise WeightsError(
            f"{where} does not fit {_title(name)}: {'; '.join(problems)}. It must be a state "
            f"dict of torchvision's {name} architecture with 1000 classes."
        )

    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    for key in expected:
        value = renamed.get(key)
        if value is None:  # a num_batches_tracked counter the checkpoint predates
            out[key] = torch.tensor(0, dtype=torch.long)
        elif key.endswith(_NUM_BATCHES_TRACKED):
            out[key] = value.detach().to(torch.long)
        elif value.is_floating_point():
            out[key] = value.detach().to(torch.float32)
        else:
            raise WeightsError(f"{where}: {key} has dtype {value.dtype}, expected floating point")
    return out


# ----------------------------------------------------------------------------------------------
# random


def recalibrate_batchnorm(
    module: torch.nn.Module,
    data_seed: int,
    images: int | None = None,
    batch: int | None = None,
    on_progress: ProgressFn | None = None,
) -> int:
    """Recompute every BatchNorm's running statistics on synthetic images of seed `data_seed`.

    Running stats are reset and accumulated as a cumulative average (momentum None) over
    `images` images (default `CALIBRATION_IMAGES`) in batches of `batch` (default
    `CALIBRATION_BATCH`), with only the BatchNorm layers in train mode (no dropout), under
    no_grad, in channels-last layout and with `RECALIBRATION_THREADS` threads. The module is
    left in eval mode, NCHW-contiguous, with its momenta restored. Returns the number of
    BatchNorm layers (0: nothing to do).
    """
    import torch

    from ..synthetic import synthetic_images

    bns = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns:
        module.eval()
        return 0
    images = CALIBRATION_IMAGES if images is None else images
    batch = CALIBRATION_BATCH if batch is None else batch
    report: ProgressFn = on_progress or (lambda stage, fraction: None)
    momenta = [bn.momentum for bn in bns]
    threads = torch.get_num_threads()
    batches = math.ceil(images / batch)
    try:
        torch.set_num_threads(RECALIBRATION_THREADS)
        module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # accepted at run time, missing from the stubs
        module.eval()
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None
            bn.train()
        report("recalibrating BatchNorm", 0.0)
        with torch.no_grad():
            for i in range(batches):
                start = i * batch
                x = torch.from_numpy(synthetic_images(min(batch, images - start), data_seed, start))
                module(x.contiguous(memory_format=torch.channels_last))
                report("recalibrating BatchNorm", (i + 1) / batches)
    finally:
        torch.set_num_threads(threads)
        module.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]
        for bn, momentum in zip(bns, momenta, strict=True):
            bn.momentum = momentum
        module.eval()
    return len(bns)


def random_cache_path(name: str, seed: int) -> Path:
    """Where the recalibrated random weights of (`name`, `seed`) are cached."""
    from ..paths import cache_dir

    return cache_dir() / "weights" / f"{name}-random-seed{seed}-v{RANDOM_WEIGHTS_VERSION}.pt"


def _save_atomic(state_dict: Mapping[str, torch.Tensor], target: Path) -> None:
    """torch.save to a temp file beside `target`, then os.replace; caching is best effort."""
    import torch

    tmp: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "wb") as fh:
            torch.save(OrderedDict(state_dict), fh)
        os.replace(tmp, target)
        tmp = None
    except OSError:
        pass  # read-only or full cache: the weights are still correct, just not cached
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _random_provenance(name: str, seed: int, recalibrated: bool) -> str:
    if recalibrated:
        stats = (
            f"BatchNorm statistics recalibrated on {CALIBRATION_IMAGES} synthetic images "
            f"(synthetic seed {seed + CALIBRATION_SEED_OFFSET})"
        )
    else:
        stats = f"{_title(name)} has no BatchNorm, so no statistics were recalibrated"
    return (
        f"seeded random weights (seed {seed}, torchvision's default initialisation), {stats} — "
        "not trained: accuracy is meaningless, fidelity vs FP32 is what counts"
    )


def _load_random(name: str, seed: int, report: ProgressFn) -> LoadedModel:
    import torch

    has_bn = any(
        isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in _empty_module(name).modules()
    )
    # Only models with BatchNorm are cached: their recalibration is the slow part. VGG-19
    # re-initialises in about a second, while its cache file would take 548 MB.
    cache = random_cache_path(name, seed) if has_bn else None
    module: torch.nn.Module | None = None
    if cache is not None and cache.is_file():
        report("loading cached random weights", 0.0)
        try:
            raw = torch.load(cache, map_location="cpu", weights_only=True)
            module = _install(name, conform_state_dict(name, raw, f"cached weights {cache}"))
        except Exception:  # corrupt or stale cache entry: rebuild and overwrite it
            module = None
        report("loading cached random weights", 1.0)
    if module is None:
        report("building model", 0.0)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            module = architecture(name)()
        report("building model", 1.0)
        recalibrate_batchnorm(module, seed + CALIBRATION_SEED_OFFSET, on_progress=report)
        module = module.float().eval()
        if cache is not None:
            _save_atomic(module.state_dict(), cache)
    return LoadedModel(
        name=name,
        module=module,
        digest=state_dict_digest(module.state_dict()),
        source="random",
        provenance=_random_provenance(name, seed, has_bn),
        trained=False,
    )


# ----------------------------------------------------------------------------------------------
# torchvision


def _load_torchvision(name: str, report: ProgressFn) -> LoadedModel:
    import torch
    import torch.hub

    url = TORCHVISION_URLS[name]
    file_name = url.rsplit("/", 1)[1]
    report("fetching torchvision weights", 0.0)
    try:
        raw = torch.hub.load_state_dict_from_url(
            url, progress=False, check_hash=True, map_location="cpu", weights_only=True
        )
    except Exception as exc:
        hub = Path(torch.hub.get_dir()) / "checkpoints" / file_name
        raise WeightsError(
            f"could not get the torchvision {TORCHVISION_WEIGHTS} weights for {_title(name)} "
            f"from {url} ({type(exc).__name__}: {exc}). If this machine is offline, download "
            f'that file elsewhere and either set {PROFILE_KEY} = "/path/to/{file_name}" or copy it '
            f"to {hub} (torch's hub cache, checked before downloading)."
        ) from exc
    report("fetching torchvision weights", 1.0)
    state = conform_state_dict(name, raw, f"torchvision checkpoint {url}")
    module = _install(name, state)
    return LoadedModel(
        name=name,
        module=module,
        digest=state_dict_digest(module.state_dict()),
        source="torchvision",
        provenance=f"torchvision {TORCHVISION_WEIGHTS} ({url})",
        trained=True,
    )


# ----------------------------------------------------------------------------------------------
# local file


_SAVE_HINT = "qtui reads state dicts saved with torch.save(model.state_dict(), path)"
_UNSUPPORTED_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")
_ESCAPES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _looks_pickled(header: bytes) -> bool:
    """Whether a file starting with `header` can hold pickled objects at all: a pickle (its
    PROTO opcode, protocols 2-5) or torch's zip container (which holds one)."""
    return header.startswith(b"PK\x03\x04") or (len(header) >= 2 and header[0] == 0x80 and 2 <= header[1] <= 5)


def _load_failure(path: Path, exc: Exception, header: bytes = b"\x80\x02") -> str:
    """qtui's own words for a file torch.load(weights_only=True) refused. torch's message
    suggests weights_only=False, which would let the file run code: never repeat that. A file
    that is no pickle at all (random bytes) is said to be no PyTorch checkpoint."""
    text = _ESCAPES.sub("", str(exc))
    if "Weights only load failed" in text and not _looks_pickled(header):
        return f"weights file {path} is not a PyTorch checkpoint (neither a zip archive nor a pickle); {_SAVE_HINT}"
    if "Weights only load failed" in text:
        found = _UNSUPPORTED_GLOBAL.search(text)
        what = f" (it contains {found.group(1)})" if found else ""
        return (
            f"weights file {path} holds pickled Python objects{what}, not just tensors — for "
            "example a whole model saved with torch.save(model). qtui loads tensors only, so "
            f"that a weights file cannot run code; {_SAVE_HINT}"
        )
    first = (text.strip().splitlines() or [type(exc).__name__])[0][:200]
    return f"weights file {path} is not a PyTorch state dict file (torch.load: {first}); {_SAVE_HINT}"


def _load_file(name: str, path: str, report: ProgressFn) -> LoadedModel:
    import torch

    p = Path(path).expanduser().absolute()
    hint = f'{PROFILE_KEY} must be "random", "torchvision" or the path of a .pth state dict'
    try:
        exists = p.exists()
    except OSError as exc:  # a name too long
        raise WeightsError(f"weights path {p}: {exc.strerror or exc}; {hint}") from None
    if not exists:
        raise WeightsError(f"weights file {p} does not exist; {hint}")
    report("loading weights file", 0.0)
    try:
        # one descriptor for the hash and for torch.load: a FIFO or a device is refused before
        # it is opened (it would block or never end), and the file hashed is the file loaded
        with open_regular(p) as fh:
            h = hashlib.sha256()
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                h.update(chunk)
            file_hash = h.hexdigest()
            if fh.tell() == 0:
                raise WeightsError(f"weights file {p} is empty; {_SAVE_HINT}")
            fh.seek(0)
            header = fh.read(4)
            fh.seek(0)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # torch's pickle-protocol notes are not the user's
                    raw = torch.load(fh, map_location="cpu", weights_only=True)
            except Exception as exc:
                raise WeightsError(_load_failure(p, exc, header)) from exc
    except NotRegularFile as exc:
        raise WeightsError(f"weights path {p} is not a file ({exc.kind}); {hint}") from None
    except OSError as exc:
        raise WeightsError(f"cannot read weights file {p}: {exc.strerror or exc}") from exc
    state = conform_state_dict(name, raw, f"weights file {p}")
    module = _install(name, state)
    report("loading weights file", 1.0)
    return LoadedModel(
        name=name,
        module=module,
        digest=state_dict_digest(module.state_dict()),
        source="file",
        provenance=f"file {p} (sha256 {file_hash[:12]}…)",
        trained=True,
    )
