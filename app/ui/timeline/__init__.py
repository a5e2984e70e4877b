"""The timeline: ruler, acts track, beat track, audio tracks and the playhead, edited with the mouse."""

from app.ui.timeline.view import TimelineView

__all__ = ["TimelineView"]
