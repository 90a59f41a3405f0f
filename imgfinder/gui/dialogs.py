"""Dialogs: the confirmation before any file is moved (how many files, how many bytes),
folder management (reference folders) and the full-size preview.

``confirm_file_action`` and ``confirm_move`` are module functions so tests can replace them
with an auto-accept.
"""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QKeyEvent, QPixmap
from PySide6.QtWidgets import (
    QCheckBox, QDialog, QDialogButtonBox, QFileDialog, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
    QMessageBox, QPushButton, QVBoxLayout, QWidget,
)

from ..core.system_trash import trash_name, undo_note
from .models import human_bytes
from .wording import photos


def confirm_file_action(parent: QWidget | None, verb: str, count: int, total_bytes: int, destination: str | None = None) -> bool:
    """Ask before moving files; says how many files and bytes, and where they go."""
    where = f" to {destination}" if destination else f" to {trash_name()}"
    # "Move to trash" is the button; the sentence says where once ("Move 3 photos ... to
    # the trash?", not "Move to trash 3 photos ... to the trash?").
    sentence_verb = verb.removesuffix(" to trash")
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(f"{sentence_verb} {photos(count)}{where if not destination else ''}?")
    box.setText(f"{sentence_verb} {photos(count)} ({human_bytes(total_bytes)}){where}?")
    undo = undo_note() if destination is None else "You can undo this with Edit ▸ Undo (Ctrl+Z)."
    box.setInformativeText(f"{undo} No photo is modified or deleted.")
    box.setStandardButtons(QMessageBox.StandardButton.Cancel | QMessageBox.StandardButton.Ok)
    box.button(QMessageBox.StandardButton.Ok).setText(verb)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    return box.exec() == QMessageBox.StandardButton.Ok


def confirm_links(parent: QWidget | None, count: int, total_bytes: int, different: int) -> bool:
    """Ask before replacing copies by hard links; says what happens to the copies and which
    are left alone."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(f"Replace {photos(count)} with hard links?")
    box.setText(f"Replace {photos(count)} ({human_bytes(total_bytes)}) with hard links to the copies kept?")
    rest = (f" {photos(different)} selected {'is' if different == 1 else 'are'} not byte-identical to the copy "
            "kept and stay as they are (a link would change their picture)." if different else "")
    box.setInformativeText("Each photo stays at its path and takes its space once. The copies go to the trash "
                           f"(their space comes free when it is emptied); Undo (Ctrl+Z) brings them back.{rest} "
                           "No photo is modified or deleted.")
    box.setStandardButtons(QMessageBox.StandardButton.Cancel | QMessageBox.StandardButton.Ok)
    box.button(QMessageBox.StandardButton.Ok).setText("Replace with links")
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    return box.exec() == QMessageBox.StandardButton.Ok


def move_box(parent: QWidget | None, count: int, total_bytes: int, destination: str,
             below: str) -> tuple[QMessageBox, QCheckBox]:
    """The question before a move, with "Keep their folders": each photo then lands in
    ``destination`` at its place below ``below`` (the folder all of them are in), so moved
    copies can be reviewed and put back by hand (the CLI's ``--move-to DIR --keep-folders``)."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(f"Move {photos(count)}?")
    box.setText(f"Move {photos(count)} ({human_bytes(total_bytes)}) to {destination}?")
    box.setInformativeText("You can undo this with Edit ▸ Undo (Ctrl+Z). No photo is modified or deleted.")
    keep = QCheckBox(f"Keep their folders (as below {below})")
    keep.setObjectName("keepFolders")
    keep.setToolTip(f"a/x.jpg and b/x.jpg below {below} land in {os.path.join(destination, 'a')} and "
                    f"{os.path.join(destination, 'b')}; unticked, all land in {destination} itself")
    box.setCheckBox(keep)
    box.setStandardButtons(QMessageBox.StandardButton.Cancel | QMessageBox.StandardButton.Ok)
    box.button(QMessageBox.StandardButton.Ok).setText("Move")
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    return box, keep


def confirm_move(parent: QWidget | None, count: int, total_bytes: int, destination: str,
                 below: str) -> bool | None:
    """Ask before a move: None when cancelled, else whether to keep the folders."""
    box, keep = move_box(parent, count, total_bytes, destination, below)
    if box.exec() != QMessageBox.StandardButton.Ok:
        return None
    return keep.isChecked()


def ask_rebuild_catalog(parent: QWidget | None, message: str) -> bool:
    """Offer to rebuild a damaged catalog (what ``imgfinder repair`` does); True to rebuild."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("The library's catalog is damaged")
    box.setText(message[:1].upper() + message[1:] + ".")
    box.setInformativeText(
        "Rebuild it? The damaged file is kept aside (renamed, never deleted); the new catalog keeps the "
        "“not duplicates” marks and the undo history that can still be read, and your folders are indexed "
        "again. Your photos are not touched."
    )
    rebuild = box.addButton("Rebuild catalog", QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Not now", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(rebuild)
    box.exec()
    return box.clickedButton() is rebuild


def choose_folder(parent: QWidget | None, title: str) -> str | None:
    path = QFileDialog.getExistingDirectory(parent, title)
    return path or None


class FoldersDialog(QDialog):
    """The library's folders; checked ones are reference folders (never selected or moved)."""

    def __init__(self, folders: list[str], reference: list[str], parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Photo folders")
        self.resize(640, 360)
        self.list = QListWidget()
        self.list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        for f in folders:
            self._add(f, f in reference)
        add = QPushButton("Add folder…")
        add.clicked.connect(self._add_clicked)
        remove = QPushButton("Remove")
        remove.clicked.connect(lambda: [self.list.takeItem(self.list.row(i)) for i in self.list.selectedItems()])
        side = QVBoxLayout()
        side.addWidget(add)
        side.addWidget(remove)
        side.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.list, 1)
        row.addLayout(side)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        note = QLabel("Tick a folder to make it a <b>reference folder</b>: its photos count as originals "
                      "and are never selected or moved.")
        note.setWordWrap(True)
        layout.addWidget(note)
        layout.addLayout(row, 1)
        layout.addWidget(buttons)

    def _add(self, folder: str, reference: bool) -> None:
        item = QListWidgetItem(folder)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if reference else Qt.CheckState.Unchecked)
        item.setToolTip(folder)
        self.list.addItem(item)

    def _add_clicked(self) -> None:
        folder = choose_folder(self, "Add a photo folder")
        if folder:
            self._add(folder, False)

    def result_folders(self) -> tuple[list[str], list[str]]:
        items = [self.list.item(i) for i in range(self.list.count())]
        return [i.text() for i in items], [i.text() for i in items if i.checkState() == Qt.CheckState.Checked]


class PreviewDialog(QDialog):
    """A large view of one photo (Space or Esc closes it)."""

    def __init__(self, path: str, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(path)
        self.resize(1000, 720)
        self.label = QLabel("Loading…")
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setMinimumSize(1, 1)
        self._pixmap: QPixmap | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)

    def set_image(self, image: QImage | None, error: str | None) -> None:
        if image is None:
            self.label.setText(error or "cannot read this photo")
            return
        self._pixmap = QPixmap.fromImage(image)
        self._rescale()

    def _rescale(self) -> None:
        if self._pixmap is not None:
            self.label.setPixmap(self._pixmap.scaled(self.label.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                                     Qt.TransformationMode.SmoothTransformation))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._rescale()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space:
            self.accept()
            return
        super().keyPressEvent(event)
