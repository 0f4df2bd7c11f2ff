"""kairos-sdk: the Python SDK, reference server and deterministic engine for KAIROS."""

__version__ = "0.1.0"

__all__ = ["__version__"]
