"""wanflow: a version-controlled storyboard in, a finished Wan2.2 film out."""

__version__ = "0.1.0"
