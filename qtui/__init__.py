"""qtui: what quantization does to DNN inference on this machine, measured with MLPerf LoadGen."""

__version__ = "0.1.0"

# Before any framework or matplotlib is imported: nothing of theirs is written into $HOME.
from qtui.core.paths import keep_libraries_out_of_home  # noqa: E402

keep_libraries_out_of_home()
