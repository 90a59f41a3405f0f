"""Take the screenshots in docs/screenshots of the real app, driven like a user would.

    xvfb-run -s "-screen 0 1400x900x24" .venv/bin/python docs/make_screenshots.py [--fake]

Builds a library in a temporary folder from the shared photos plus edited copies
(resized, cropped, recompressed, an exact copy, an unreadable file), opens the real
``MainWindow`` (the Keras model unless ``--fake``), adds the folder, drops an outside
photo on the window, finds duplicates and opens the compare view (an original and its crop, fitted
and at two zoom levels) and the About box, grabbing each view
(the empty first window too).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
OUT = REPO / "docs" / "screenshots"
MIN_PHOTOS = 10  # build_library edits photos 1 to 8 and shrinks the rest


def default_photos(shared: Path) -> Path:
    """The shared photos when they are there; a fresh clone has none, and the repository's
    own test photos make the same screenshots."""
    return shared if any(shared.glob("*.jpg")) else REPO / "tests" / "photos"


def build_library(root: Path, photos: list[Path]) -> tuple[Path, Path]:
    lib = root / "Pictures"
    (lib / "Holidays 2023").mkdir(parents=True)
    (lib / "Phone backup" / "DCIM" / "Camera").mkdir(parents=True)
    (lib / "Edited").mkdir()
    for i, p in enumerate(photos):
        target = lib / ("Holidays 2023" if i % 2 else "Phone backup/DCIM/Camera") / p.name
        with Image.open(p) as img:
            img.convert("RGB").save(target, quality=92, exif=img.getexif())  # the camera's facts stay
    phone = lib / "Phone backup" / "DCIM" / "Camera"
    shutil.copy2(lib / "Holidays 2023" / photos[1].name, phone / f"copy of {photos[1].name}")
    for p in photos[2:5]:
        src = next(lib.rglob(p.name))
        with Image.open(src) as img:
            small = img.resize((img.width // 2, img.height // 2))
            small.save(lib / "Edited" / f"{src.stem} (small).jpg", quality=80)
            w, h = img.size
            img.crop((w // 10, h // 10, w - w // 10, h - h // 10)).save(lib / "Edited" / f"{src.stem} (cropped).jpg", quality=88)
    (lib / "Old phone").mkdir()
    for n, p in enumerate(photos[8:]):
        with Image.open(p) as img:
            img.convert("RGB").resize((img.width // 3, img.height // 3)).save(
                lib / "Old phone" / f"IMG_{20230101 + n}.jpg", quality=70, exif=img.getexif())
    src = next(lib.rglob(photos[6].name))
    with Image.open(src) as img:
        img.save(lib / "Edited" / f"{src.stem} (low quality).jpg", quality=35)
    (lib / "Edited" / "half-downloaded.jpg").write_bytes(src.read_bytes()[:2000])
    query_dir = root / "Downloads"
    query_dir.mkdir()
    with Image.open(next(lib.rglob(photos[3].name))) as img:
        w, h = img.size
        img.crop((w // 6, 0, w, h - h // 8)).resize((w // 3, (h - h // 8) // 3)).save(query_dir / "IMG_from_chat.jpg", quality=75)
    return lib, query_dir / "IMG_from_chat.jpg"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fake", action="store_true", help="use the tests' fake embedder instead of the CNN")
    ap.add_argument("--photos", type=Path, default=None,
                    help="a folder of JPEGs (default: ../shared/photos, else the tests' photos)")
    args = ap.parse_args()
    if args.photos is None:
        args.photos = default_photos(REPO.parent / "shared" / "photos")

    from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    from imgfinder.gui.app import default_factory, make_app
    from imgfinder.gui.main_window import MainWindow

    factory = default_factory
    if args.fake:
        sys.path.insert(0, str(REPO / "tests"))
        from conftest import FakeEmbedder

        factory = FakeEmbedder
    photos = sorted(args.photos.glob("*.jpg"))
    if len(photos) < MIN_PHOTOS:
        ap.error(f"{args.photos} holds {len(photos)} JPEGs; the screenshots need at least {MIN_PHOTOS}")
    root = Path(tempfile.mkdtemp(prefix="imgfinder-shots-"))
    OUT.mkdir(parents=True, exist_ok=True)
    try:
        lib, query = build_library(root, photos)
        app = make_app(["imgfinder"])
        window = MainWindow(root / "data", factory)
        window.resize(1280, 800)
        window.move(20, 20)
        window.show()
        done: list[str] = []
        window.job_done.connect(done.append)

        def pump(seconds: float) -> None:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                app.processEvents()
                time.sleep(0.01)

        def wait_for(kind: str, timeout: float = 600) -> None:
            end = time.monotonic() + timeout
            while kind not in done:
                if time.monotonic() > end:
                    raise SystemExit(f"timed out waiting for {kind}")
                app.processEvents()
                time.sleep(0.01)
            done.remove(kind)

        def shot(widget, name: str) -> None:
            pump(1.5)  # thumbnails arrive
            path = OUT / f"{name}.png"
            widget.grab().save(str(path))
            print("wrote", path)

        pump(0.5)
        shot(window, "empty")  # the first window: a call to action
        window.add_folders([str(lib)])
        end = time.monotonic() + 600
        while not (window.progress_bar.isVisible() and window.progress_bar.value() >= 32) and "index" not in done:
            app.processEvents()
            time.sleep(0.005)
            if time.monotonic() > end:
                raise SystemExit("indexing did not start")
        if "index" not in done:
            window.library_view.grid.viewport().update()
            pump(0.3)
            window.grab().save(str(OUT / "indexing.png"))
            print("wrote", OUT / "indexing.png")
        wait_for("index")
        pump(1.0)
        grid = window.library_view.grid
        grid.setCurrentIndex(window.library_view.model.index(7, 0))
        grid.setFocus()
        shot(window, "library")

        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(query))])
        pos = QPointF(600, 400)
        QApplication.sendEvent(window, QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime,
                                                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
        QApplication.sendEvent(window, QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                                  Qt.KeyboardModifier.NoModifier))
        wait_for("similar")
        shot(window, "similar")

        window.find_duplicates()
        wait_for("duplicates")
        dv = window.duplicates_view
        dv.select_all_but_best()
        near = next((i for i, g in enumerate(dv.groups) if not g.all_exact), 0)
        best = max(range(1, len(dv.groups[near].members)), key=lambda i: dv.groups[near].members[i].score)
        dv.select_member(near, best)
        window.resize(1280, 880)  # a little taller: the group at a glance under the table
        shot(window, "duplicates")
        window.resize(1280, 800)

        # Compare an original with its crop (another size, another frame): the views keep the
        # same picture area under both, at the fitted view and at two zoom levels.
        crop_at = next(((i, j) for i, g in enumerate(dv.groups) for j, m in enumerate(g.members)
                        if "(cropped)" in m.row.path and j), (near, best))
        dv.select_member(*crop_at)
        dv._emit_compare()
        wait_for("compare")
        dlg = window.compare_dialog
        dlg.resize(1280, 800)
        pump(0.5)
        shot(dlg, "compare")
        for name, zoom in (("compare_zoom_1", 0.6), ("compare_zoom_2", 2.0)):
            dlg.zoom_to(zoom)
            w, h = dlg.views[0].sceneRect().width(), dlg.views[0].sceneRect().height()
            dlg.views[0].centerOn(w * 0.62, h * 0.45)  # the right view follows the picture point
            shot(dlg, name)
        dlg.close()

        window.tabs.setCurrentIndex(3)
        if window.problems_view.count():
            window.problems_view.table.selectRow(0)  # its reason whole under the table
        shot(window, "problems")
        window.resize(900, 650)  # a small window: nothing a user needs is cut off
        window.tabs.setCurrentIndex(2)
        pump(0.5)
        shot(window, "small_window")
        window.resize(1280, 800)
        window.show_about()
        pump(2.0)  # the model id is read in a worker
        shot(window.about_dialog, "about")
        window.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
