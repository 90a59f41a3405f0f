"""The Duplicates table's shape: its columns, the role that says which photo a row is, and
the widths and shares its parts start with (shared by the view and its parts)."""

from __future__ import annotations

from PySide6.QtCore import Qt

MemberRole = Qt.ItemDataRole.UserRole + 10
COLUMNS = ["Photo", "Similarity", "Kind", "Resolution", "Size", "Folder"]
PHOTO_COLUMN = (180, 330)  # the photo column's width: at least, at most (px)
FOLDER_MIN = 110  # px of the Folder column kept in view before the photo column grows
NAME_INSET = 44  # px of the photo column that are neither thumbnail nor name (check box, margins)
GLANCE_SHARE = 0.45  # of the table and glance's height the glance first gets (a user may drag it)
