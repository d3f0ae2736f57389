"""What analysts read: report.html and remissammanstallning.xlsx, built from a batch run's DocResults."""
from .html import render_report, write_report
from .workbook import build_workbook, write_workbook

__all__ = ["render_report", "write_report", "build_workbook", "write_workbook"]
