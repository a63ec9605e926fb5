"""qtui: what quantization does to DNN inference on this machine, measured with MLPerf LoadGen."""

__version__ = "0.1.0"
