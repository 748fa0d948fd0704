"""Stage 6, the report: contact sheet, storyboard.html, manifest.json and the editor timelines."""

from wanflow.report.storyboard import ReportPaths, ShotRecord, TakeRecord, make_report, manifest_metadata

__all__ = ["ReportPaths", "ShotRecord", "TakeRecord", "make_report", "manifest_metadata"]
