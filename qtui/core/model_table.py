"""The model table: one row per built-in model, read by the profile schema, the catalog, the
CLI, the results tables, the UI, the report, the HTML report, the weights loader and the
operation counts. Adding a built-in is one row here and one module in `qtui.core.models` whose
constructor gives torchvision's state-dict keys.

Also here: what each kind of model source can run (`SOURCES`), so `qtui doctor`, the setup
grid, `run` and `study` give one reason for a cell a source cannot fill.

Nothing here imports torch: constructors are "module:function" strings, imported when chosen.
"""

from __future__ import annotations

from dataclasses import dataclass

from qtui.core import frameworks


@dataclass(frozen=True)
class ModelInfo:
    """What qtui knows about one built-in model without importing torch."""

    id: str  #: the profile value, e.g. "densenet121"
    title: str  #: menus, reports and wide tables, e.g. "DenseNet-121"
    short: str  #: narrow table cells (80 columns), e.g. "DN121"
    constructor: str  #: "module:function" building it with torchvision's keys and initialisation
    torchvision_builder: str  #: the torchvision function whose state dict it matches
    checkpoint_url: str  #: torchvision's IMAGENET1K_V1 checkpoint
    #: the first hex digits of the checkpoint's sha256, as torchvision publishes them in the
    #: file name (torch.hub's `check_hash` verifies the download against them)
    checkpoint_sha256: str
    #: multiply-accumulates per 224×224 image, counted by `qtui.core.ops.count_macs`
    macs: int


TABLE: tuple[ModelInfo, ...] = (
    ModelInfo(
        id="mobilenet_v2",
        title="MobileNetV2",
        short="MNetV2",
        constructor="qtui.core.models.mobilenet_v2:mobilenet_v2",
        torchvision_builder="mobilenet_v2",
        checkpoint_url="https://download.pytorch.org/models/mobilenet_v2-b0353104.pth",
        checkpoint_sha256="b0353104",
        macs=300_774_272,
    ),
    ModelInfo(
        id="vgg19",
        title="VGG-19",
        short="VGG19",
        constructor="qtui.core.models.vgg:vgg19",
        torchvision_builder="vgg19",
        checkpoint_url="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
        checkpoint_sha256="dcbb9e9d",
        macs=19_632_062_464,
    ),
    ModelInfo(
        id="densenet121",
        title="DenseNet-121",
        short="DN121",
        constructor="qtui.core.models.densenet:densenet121",
        torchvision_builder="densenet121",
        checkpoint_url="https://download.pytorch.org/models/densenet121-a639ec97.pth",
        checkpoint_sha256="a639ec97",
        macs=2_834_161_664,
    ),
    ModelInfo(
        id="resnet50",
        title="ResNet-50",
        short="RN50",
        constructor="qtui.core.models.resnet:resnet50",
        torchvision_builder="resnet50",
        checkpoint_url="https://download.pytorch.org/models/resnet50-0676ba61.pth",
        checkpoint_sha256="0676ba61",
        macs=4_089_184_256,
    ),
)

#: Built-in model ids in table order (the profile's built-in values).
IDS: tuple[str, ...] = tuple(m.id for m in TABLE)
_BY_ID = {m.id: m for m in TABLE}


def info(model: str) -> ModelInfo:
    """The row of built-in `model`; KeyError names the known ids."""
    try:
        return _BY_ID[model]
    except KeyError:
        raise KeyError(f"unknown model {model!r}; known: {', '.join(IDS)}") from None


def is_builtin(model: str) -> bool:
    return model in _BY_ID


def title(model: str) -> str:
    """The model's title, or the value itself for one not in the table (old results)."""
    row = _BY_ID.get(model)
    return row.title if row else model


def short(model: str) -> str:
    """The model's short label, or the value itself for one not in the table."""
    row = _BY_ID.get(model)
    return row.short if row else model


# --------------------------------------------------------------------------- kinds of source


@dataclass(frozen=True)
class SourceKind:
    """A kind of model source and the framework × precision cells it can fill."""

    id: str  #: e.g. "builtin"
    title: str  #: e.g. "built-in model"
    #: framework id → the precisions this source can be prepared at for it ("*": all); a
    #: framework not listed, or a precision not listed, is a cell this source cannot fill
    cells: tuple[tuple[str, tuple[str, ...]], ...]
    #: (framework, precision or "*") → why that cell is not offered for this source
    reasons: tuple[tuple[tuple[str, str], str], ...] = ()

    def allows(self, framework: str, precision: str) -> bool:
        precisions = dict(self.cells).get(framework, ())
        return "*" in precisions or precision in precisions

    def reason(self, framework: str, precision: str) -> str | None:
        """Why this source cannot fill the cell, or None when it can."""
        if self.allows(framework, precision):
            return None
        reasons = dict(self.reasons)
        return reasons.get((framework, precision)) or reasons.get((framework, "*")) or (
            f"not offered for a {self.title}"
        )


SOURCES: tuple[SourceKind, ...] = (
    SourceKind(
        id="builtin",
        title="built-in model",
        cells=tuple((f, ("*",)) for f in frameworks.IDS),
    ),
    SourceKind(
        id="onnx",
        title="ONNX model",
        cells=(
            ("onnxruntime", ("*",)),
            ("openvino", ("fp32", "fp16", "int8_static")),
        ),
        reasons=(
            (("openvino", "int8_dynamic"), (
                "not offered for an ONNX model: OpenVINO quantizes no activations at run time on a "
                "CPU, and qtui's OpenVINO INT8 dynamic for built-ins is weight-only compression; "
                "use ONNX Runtime INT8 dynamic or OpenVINO INT8 static"
            )),
            (("tflite", "*"), "an ONNX model cannot be converted to TensorFlow Lite here (qtui converts from PyTorch)"),
            (("torch", "*"), "PyTorch cannot run an ONNX model"),
        ),
    ),
    SourceKind(
        id="entry",
        title="PyTorch entry point",
        cells=tuple((f, ("*",)) for f in frameworks.IDS),
    ),
    SourceKind(
        id="tflite",
        title="TFLite model",
        cells=(("tflite", ("*",)),),
        reasons=(
            (("onnxruntime", "*"), "a TFLite model cannot be converted to ONNX here (qtui converts from PyTorch)"),
            (("openvino", "*"), (
                "not offered for a TFLite model in this qtui version: it measures a .tflite file with "
                "TensorFlow Lite only; give qtui the ONNX or PyTorch model for OpenVINO"
            )),
            (("torch", "*"), "PyTorch cannot run a TFLite model"),
        ),
    ),
)
_SOURCES_BY_ID = {s.id: s for s in SOURCES}


def source_kind(kind: str) -> SourceKind:
    """The row of source kind `kind` ("builtin", …)."""
    return _SOURCES_BY_ID[kind]
