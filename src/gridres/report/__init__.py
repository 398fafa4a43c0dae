"""The report of a study run: a self-contained HTML file (and a PDF), with its words
(``narrative``: the summary; ``methods``: the methods and assumptions), figures, maps
and, for single outages, result tables. It renders :class:`gridres.results.StudyResults`
and imports nothing of the study that produced them.

``write_report`` and ``render_report`` are imported on first use (the result tables of
``tables`` need none of the report's figures).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["render_report", "write_report"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("gridres.report.html"), name)
    raise AttributeError(f"module 'gridres.report' has no attribute {name!r}")
