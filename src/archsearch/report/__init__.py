"""Reports of a study or a job: self-contained HTML pages with plots."""

from archsearch.report.html import write_history_report, write_report

__all__ = ["write_history_report", "write_report"]
