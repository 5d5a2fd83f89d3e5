"""pytest-aotperf: performance of compiled PyTorch models as a tested property."""

__version__ = "0.1.0"

__all__ = ["__version__"]
