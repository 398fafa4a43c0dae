"""Grid validation (placeholder: replaced by the full checker)."""

from gridres.errors import GridError

__all__ = ["GridError"]
