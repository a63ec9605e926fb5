"""The framework table: one row per inference framework qtui drives, read by the profile schema,
the catalog, the CLI, the results tables, the UI, the environment report, and the prepare and
backend registries. Adding a framework is one row here, one prepare module (a `Preparer`, see
`qtui.core.prepare.contract`), one backend module (a `Backend`) and one pip extra.

Nothing here imports a framework: module names are strings, imported only when chosen.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FrameworkInfo:
    """What qtui knows about one framework without importing it."""

    id: str  #: the profile value, e.g. "onnxruntime"
    title: str  #: menus and reports, e.g. "ONNX Runtime"
    short: str  #: table cells at 100+ columns, e.g. "ORT"
    narrow: str  #: table cells at 80 columns, e.g. "OV"
    extra: str  #: the pip extra that installs its runtime: `pip install 'qtui[<extra>]'`
    runtime_modules: tuple[str, ...]  #: Python modules the runtime needs (find_spec only)
    distributions: tuple[str, ...]  #: distributions that provide it, by preference (versions)
    prepare_module: str  #: a module implementing qtui.core.prepare.contract.Preparer
    backend_module: str  #: a module whose `create()` returns a qtui.core.backends.Backend
    tools: tuple[str, ...] = ()  #: other distributions whose versions the environment reports
    #: Offline runs stream batches through the runtime's own asynchronous queue
    async_offline: bool = False

    @property
    def install_hint(self) -> str:
        return f"pip install 'qtui[{self.extra}]'"


TABLE: tuple[FrameworkInfo, ...] = (
    FrameworkInfo(
        id="onnxruntime",
        title="ONNX Runtime",
        short="ORT",
        narrow="ORT",
        extra="onnxruntime",
        runtime_modules=("onnxruntime",),
        distributions=(
            "onnxruntime",
            "onnxruntime-gpu",
            "onnxruntime-openvino",
            "onnxruntime-directml",
            "onnxruntime-qnn",
        ),
        prepare_module="qtui.core.prepare.onnxruntime",
        backend_module="qtui.core.backends.onnxruntime_backend",
        tools=("onnx",),
    ),
    FrameworkInfo(
        id="openvino",
        title="OpenVINO",
        short="OpenVINO",
        narrow="OV",
        extra="openvino",
        runtime_modules=("openvino",),
        distributions=("openvino",),
        prepare_module="qtui.core.prepare.openvino",
        backend_module="qtui.core.backends.openvino_backend",
        tools=("nncf",),
        async_offline=True,
    ),
    FrameworkInfo(
        id="tflite",
        title="TensorFlow Lite",
        short="TFLite",
        narrow="TFL",
        extra="tflite",
        runtime_modules=("ai_edge_litert",),
        distributions=("ai-edge-litert", "tflite-runtime"),
        prepare_module="qtui.core.prepare.tflite",
        backend_module="qtui.core.backends.tflite_backend",
        tools=("litert-torch", "ai-edge-quantizer"),
    ),
    FrameworkInfo(
        id="torch",
        title="PyTorch",
        short="PyTorch",
        narrow="PT",
        extra="torch",
        runtime_modules=("torch",),
        distributions=("torch",),
        prepare_module="qtui.core.prepare.torch",
        backend_module="qtui.core.backends.torch_backend",
    ),
)

#: Framework ids in table order (the profile's allowed values).
IDS: tuple[str, ...] = tuple(f.id for f in TABLE)
_BY_ID = {f.id: f for f in TABLE}


def info(framework: str) -> FrameworkInfo:
    """The row of `framework`; KeyError names the known ids."""
    try:
        return _BY_ID[framework]
    except KeyError:
        raise KeyError(f"unknown framework {framework!r}; known: {', '.join(IDS)}") from None


def title(framework: str) -> str:
    """The framework's title, or the id itself for a value not in the table (old results)."""
    row = _BY_ID.get(framework)
    return row.title if row else framework
