"""The main window's tabs, in order (their index in its ``QTabWidget``)."""

TAB_LIBRARY, TAB_SIMILAR, TAB_DUPLICATES, TAB_PROBLEMS = range(4)
