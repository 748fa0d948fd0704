"""Stage 6, the report: contact sheet, storyboard.html, manifest.json and the editor timelines."""

from wanflow.report.storyboard import ReportPaths, ShotRecord, TakeRecord, manifest_metadata, write_report

__all__ = ["ReportPaths", "ShotRecord", "TakeRecord", "manifest_metadata", "write_report"]
