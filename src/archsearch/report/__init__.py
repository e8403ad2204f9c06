"""Reports of a study: a self-contained HTML page with plots."""

from archsearch.report.html import write_report

__all__ = ["write_report"]
