"""The version of sirenkit, written once: `pyproject.toml` reads it without importing the package."""

__version__ = "0.2.0"
"""The version of sirenkit installed."""
