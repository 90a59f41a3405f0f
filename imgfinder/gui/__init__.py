"""The desktop app (PySide6). The only package that imports Qt; everything heavy runs in
background workers driving the core's progress/cancel protocol."""
