"""Storybeat: a timeline editor for AI image-to-video work."""

__version__ = "0.1.0"
