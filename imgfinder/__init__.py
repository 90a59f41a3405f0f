"""imgfinder: find similar and duplicate photos in large folders with a CNN, locally."""

__version__ = "0.1.0"
