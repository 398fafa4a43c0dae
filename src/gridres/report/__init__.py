"""The report of a study run: a self-contained HTML file (and a PDF), with its words
(``narrative``: the summary; ``methods``: the methods and assumptions), figures, maps
and, for single outages, result tables. It renders :class:`gridres.results.StudyResults`
and imports nothing of the study that produced them."""

from gridres.report.html import render_report, write_report

__all__ = ["render_report", "write_report"]
