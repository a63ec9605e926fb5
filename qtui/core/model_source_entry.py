"""The user's own PyTorch model as a profile's `model`: an entry point `package.module:factory`
or `path/to/file.py:factory`, a function that returns an `nn.Module`.

An entry point runs the user's own code (importing the module and calling the factory): qtui
does that only for a model the user named. Weights come from the factory itself
(`weights.source = "random"`: it is called after `torch.manual_seed(weights.seed)`) or from a
state dict file (`weights.source = path`), loaded with `torch.load(weights_only=True)` only,
never pickled code.

`locate(text)` finds the entry point's source files without running anything: the file named
and the `.py` files beside it, or every `.py` file of the module's top-level package (a
single-file module: that file). Their sha256 (`source_digest`) is part of the artifact key with
the weights' identity, so an edited model is prepared again. `load_entry` imports, calls,
checks the module (an `nn.Module` whose output for one image, or one sample of the inputs the
profile gives, is a float tensor `[1, K]`), and
returns an `EntryModel` for the prepare modules; every failure is a `ModelSourceError` naming
the entry point.

Imports torch only inside `load_entry`.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.util
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qtui.core.model_file import ModelSourceError, file_digest

#: `package.module:factory` or `path/to/file.py:factory`.
ENTRY = re.compile(r"^(?P<target>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*|[^:]+\.py):(?P<factory>[A-Za-z_]\w*)$")
#: The sample shape the preparation exports and traces a torch model with (as the built-ins).
PREPARED_SHAPE = (3, 224, 224)
#: At most this many source files are hashed (a package folder that large is not a model).
MAX_SOURCE_FILES = 2000


def is_entry(model: str) -> bool:
    return ENTRY.match(model) is not None


@dataclass(frozen=True)
class EntryLocation:
    """Where an entry point's code lives, found without running it."""

    text: str  #: as the profile has it
    module: str  #: the module to import ("" for a file entry point)
    file: Path  #: the module's source file
    root: Path  #: the folder that goes on sys.path (the file's folder, or the package's parent)
    factory: str
    sources: tuple[Path, ...]  #: the .py files whose bytes are the code's identity, sorted

    @property
    def label(self) -> str:
        """The entry point without its folders: `file.py:factory` or `package.module:factory`."""
        return f"{self.module or self.file.name}:{self.factory}"

    @property
    def import_name(self) -> str:
        """The name the module is imported under (a file entry point: one derived from its path,
        the same in every process, so a converter child can import it again)."""
        if self.module:
            return self.module
        tag = hashlib.sha256(str(self.file).encode()).hexdigest()[:12]
        return f"qtui_entry_{re.sub(r'[^A-Za-z0-9_]', '_', self.file.stem)}_{tag}"


def locate(text: str) -> EntryLocation:
    """The entry point's files (see the module docstring); ModelSourceError when there are none."""
    match = ENTRY.match(text)
    if match is None:
        raise ModelSourceError(f"model {text!r} is not an entry point: write package.module:factory or path/to/file.py:factory")
    target, factory = match.group("target"), match.group("factory")
    if target.endswith(".py"):
        file = Path(target).expanduser().absolute()
        if not file.is_file():
            raise ModelSourceError(f"entry point {text}: {file} does not exist; name the .py file that defines {factory}()")
        root = file.parent
        sources = sorted(p for p in root.glob("*.py") if p.is_file())
        return EntryLocation(text, "", file, root, factory, tuple(sources))
    parts = target.split(".")
    search = [os.getcwd(), *[p for p in sys.path if p]]
    spec = importlib.machinery.PathFinder.find_spec(parts[0], search)
    if spec is None or spec.origin in (None, "built-in", "frozen"):
        raise ModelSourceError(
            f"entry point {text}: no module {parts[0]!r} in the current folder or on the Python path; "
            "run qtui from the folder that holds it, or write path/to/file.py:factory"
        )
    top = spec
    for i in range(1, len(parts)):
        locations = spec.submodule_search_locations if spec is not None else None
        spec = importlib.machinery.PathFinder.find_spec(".".join(parts[: i + 1]), list(locations or []))
        if spec is None:
            raise ModelSourceError(f"entry point {text}: no module {'.'.join(parts[: i + 1])!r}")
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        raise ModelSourceError(f"entry point {text}: {target} is not a Python source module")
    file = Path(spec.origin).absolute()
    if top.submodule_search_locations:
        package = Path(next(iter(top.submodule_search_locations))).absolute()
        root = package.parent
        sources = sorted(package.rglob("*.py"))
    else:
        root = file.parent
        sources = [file]
    if len(sources) > MAX_SOURCE_FILES:
        raise ModelSourceError(f"entry point {text}: package {parts[0]} has over {MAX_SOURCE_FILES} .py files")
    return EntryLocation(text, target, file, root, factory, tuple(sources))


def source_digest(location: EntryLocation) -> str:
    """sha256 over the entry point's source files (names relative to its root, and bytes)."""
    h = hashlib.sha256(f"qtui-entry-v1\0{location.label}\0".encode())
    for path in location.sources:
        h.update(f"{path.relative_to(location.root)}\0".encode())
        h.update(file_digest([path])[0].encode())
    return h.hexdigest()


def import_entry(location: EntryLocation) -> Any:
    """The entry point's module, imported (runs the user's code); imported again when this
    process imported it before (the TUI runs for hours, the user edits their model)."""
    root = str(location.root)
    if root in sys.path:
        sys.path.remove(root)
    sys.path.insert(0, root)  # first: the package found by `locate` is the one imported
    try:
        if location.module:
            top = location.module.split(".")[0]
            for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
                del sys.modules[name]  # the user's package, imported afresh from its files
            importlib.invalidate_caches()
            return importlib.import_module(location.module)
        name = location.import_name
        spec = importlib.util.spec_from_file_location(name, location.file)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {location.file}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        return module
    except ModelSourceError:
        raise
    except Exception as exc:
        raise ModelSourceError(f"entry point {location.label} does not import: {_first(exc)}") from None


@dataclass(frozen=True)
class EntryModel:
    """The user's torch model, built and checked: what the prepare modules receive."""

    name: str  #: file-name safe, for converter caches
    module: Any  #: torch.nn.Module, float32, eval mode
    digest: str  #: the source digest and the weights' identity
    source: str  #: "random" | "file"
    provenance: str
    trained: bool
    location: EntryLocation
    output_shape: tuple[int, ...]
    #: what `forward()` takes, in order: (name, numpy type, dimensions after the batch); one
    #: 3×224×224 float32 image unless the profile says otherwise (`model_input.entry_inputs`)
    inputs: tuple[tuple[str, str, tuple[int, ...]], ...] = (("input", "float32", PREPARED_SHAPE),)

    def examples(self, batch: int = 1) -> tuple[Any, ...]:
        """Zero tensors of every input (`batch` samples each): what the exports and traces are
        made with."""
        import numpy as np
        import torch

        return tuple(torch.from_numpy(np.zeros((batch, *shape), np.dtype(dtype))) for _, dtype, shape in self.inputs)

    def record(self) -> dict[str, Any]:
        """What a result records about the model: the entry point without its folders."""
        return {
            "kind": "entry",
            "entry": self.location.label,
            "source_files": [str(p.relative_to(self.location.root)) for p in self.location.sources],
            "sha256": self.digest,
            "weights": self.source,
            "output_shape": list(self.output_shape),
            **({"inputs": [{"name": n, "dtype": t, "shape": ["batch", *d]} for n, t, d in self.inputs]}
               if self.inputs != (("input", "float32", PREPARED_SHAPE),) else {}),
        }


def weights_identity(text: str, weights_source: str, seed: int) -> str:
    """The model's identity for the artifact key, without importing torch or the user's code."""
    location = locate(text)
    if weights_source == "random":
        weights = f"factory:seed={seed}"
    elif weights_source == "torchvision":
        raise ModelSourceError(
            f"entry point {location.label}: weights.source = 'torchvision' is for the built-in models; "
            "use 'random' (the factory's own weights) or the path of a state dict"
        )
    else:
        path = Path(weights_source).expanduser().absolute()
        if not path.is_file():
            raise ModelSourceError(f"weights file {path} does not exist; weights.source must be 'random' or a .pth state dict")
        weights = f"file:{file_digest([path])[0]}"
    return f"entry:{source_digest(location)}:{weights}"


def input_specs(model_input: Any) -> tuple[tuple[str, str, tuple[int, ...]], ...]:
    """(name, numpy type, dimensions after the batch) of each input of a resolved
    `model_input.ModelInput` (several: its parts, in order)."""
    parts = model_input.parts or (model_input,)
    return tuple((str(p.name), str(p.dtype), tuple(int(d) for d in p.shape)) for p in parts)


def inputs_identity(inputs: tuple[tuple[str, str, tuple[int, ...]], ...]) -> str:
    """The inputs the profile gives an entry point, in its artifact key (another shape: another
    export); "" for the default image (keys made before inputs could be given stay valid)."""
    return ":inputs=" + ";".join(f"{n}:{t}:{'x'.join(map(str, d))}" for n, t, d in inputs)


def load_entry(
    text: str, weights_source: str, seed: int, sample_shape: tuple[int, ...] = (3, 224, 224), model_input: Any = None
) -> EntryModel:
    """Import the entry point, call its factory, load the weights, check the module on one
    zero image of `sample_shape`, or on zero samples of the inputs the profile gives
    (`model_input`, resolved by `model_input.for_profile`)."""
    identity = weights_identity(text, weights_source, seed)
    location = locate(text)
    label = location.label
    inputs: tuple[tuple[str, str, tuple[int, ...]], ...] = (("input", "float32", PREPARED_SHAPE),)
    if model_input is not None:
        inputs = input_specs(model_input)
        identity += inputs_identity(inputs)
    elif tuple(sample_shape) != PREPARED_SHAPE:
        raise ModelSourceError(
            f"entry point {label}: the profile gives {list(sample_shape)} images, and qtui exports and "
            f"quantizes PyTorch models with {list(PREPARED_SHAPE)} inputs (NCHW, 224×224) in this version; "
            "remove input.layout/input.crop from the profile's [input] table"
        )
    module_obj = import_entry(location)
    factory = getattr(module_obj, location.factory, None)
    if factory is None or not callable(factory):
        raise ModelSourceError(f"entry point {label}: the module has no function {location.factory}()")
    import torch

    torch.manual_seed(seed)
    try:
        with torch.no_grad():
            built = factory()
    except Exception as exc:
        raise ModelSourceError(f"entry point {label}: {location.factory}() raised {_first(exc)}") from None
    if not isinstance(built, torch.nn.Module):
        raise ModelSourceError(
            f"entry point {label}: {location.factory}() returned a {type(built).__name__}, not a torch.nn.Module"
        )
    source = "random"
    if weights_source != "random":
        source = "file"
        from qtui.core.models.weights import WeightsError, _load_failure, _unwrap

        path = Path(weights_source).expanduser().absolute()
        try:
            with path.open("rb") as fh:
                header = fh.read(4)
                fh.seek(0)
                raw = torch.load(fh, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ModelSourceError(_load_failure(path, exc, header)) from None
        try:
            state = _unwrap(raw, f"weights file {path}")  # a bare state dict, or under "state_dict"/"model"
        except WeightsError as exc:
            raise ModelSourceError(str(exc)) from None
        try:
            built.load_state_dict(state, strict=True)
        except (RuntimeError, TypeError, AttributeError) as exc:
            raise ModelSourceError(
                f"weights file {path} does not fit entry point {label}: {_first(exc)}"
            ) from None
    built = built.float().eval()
    wanted = _positional_inputs(built)
    if wanted is not None and wanted[0] > len(inputs):
        names = ", ".join(wanted[1])
        raise ModelSourceError(
            f"entry point {label}: forward() takes {wanted[0]} inputs ({names}) and the profile gives "
            f"{len(inputs)}: set input.shapes (one 'NAME=D1xD2…' per input, in forward()'s order) in "
            "the profile's [input] table"
        )
    sample = EntryModel("", built, "", "", "", False, location, (), inputs).examples()
    given = (
        f"one {list(sample_shape)} float32 image" if model_input is None
        else "one sample of " + "; ".join(f"{n}: {t} {list(d)}" for n, t, d in inputs)
    )
    try:
        with torch.no_grad():
            out = built(*sample)
    except Exception as exc:
        raise ModelSourceError(f"entry point {label}: the model fails on {given}: {_first(exc)}") from None
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != 1 or not out.is_floating_point():
        what = f"a tensor of shape {list(out.shape)} ({out.dtype})" if isinstance(out, torch.Tensor) else f"a {type(out).__name__}"
        raise ModelSourceError(
            f"entry point {label}: the model returns {what} for {'one image' if model_input is None else 'one sample'}; "
            "qtui needs one float tensor [batch, classes] (scores or logits)"
        )
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{Path(location.file).stem}-{location.factory}")[:60]
    digest = hashlib.sha256(identity.encode()).hexdigest()
    weights_text = "the factory's own weights (seed " + str(seed) + ")" if source == "random" else f"state dict {Path(weights_source).name}"
    return EntryModel(
        name=f"entry-{slug}",
        module=built,
        digest=digest,
        source=source,
        provenance=f"entry point {label} (code sha256 {source_digest(location)[:12]}…), {weights_text}",
        trained=source == "file",
        location=location,
        output_shape=tuple(out.shape),
        inputs=inputs,
    )


def _positional_inputs(module: Any) -> tuple[int, list[str]] | None:
    """How many positional arguments `module.forward` needs (and their names); None when its
    signature cannot say (a `*args` forward, a builtin)."""
    import inspect

    try:
        params = list(inspect.signature(module.forward).parameters.values())
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return None
    required = [
        p.name for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    return len(required), required


def _first(exc: BaseException) -> str:
    line = (str(exc).strip().splitlines() or [""])[0][:200]
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__
