"""The details panel shows a photo's date taken, camera, lens, exposure and place; the place
opens on OpenStreetMap only when the user clicks "Map" (nothing is fetched otherwise); what
a photo does not have is hidden or said briefly."""

from __future__ import annotations

from pathlib import Path

import pytest
from format_samples import camera_jpeg
from gui_helpers import index_and_wait
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QDesktopServices

from imgfinder.gui.details_panel import OPTIONAL


def _fuji(src: Path, dst: Path) -> Path:
    return camera_jpeg(src, dst, lens_make="FUJIFILM", altitude=35.0, side=240)


@pytest.fixture
def exif_photos(tmp_path: Path, photo_paths: list[Path]) -> Path:
    folder = tmp_path / "photos"
    _fuji(photo_paths[4], folder / "a_paris.jpg")
    with Image.open(photo_paths[6]) as img:
        img.convert("RGB").resize((160, 107)).save(folder / "b_plain.jpg", quality=85)  # no EXIF
    return folder


def _select(qtbot, window, name: str) -> None:
    model = window.library_view.model
    row = next(i for i in range(model.rowCount()) if Path(model.row_at(i).path).name == name)
    window.library_view.grid.setCurrentIndex(model.index(row, 0))
    details = window.details
    qtbot.waitUntil(lambda: Path(details.path or "").name == name and details.fields["Format"].full_text() != "…",
                    timeout=10_000)


def test_details_show_camera_lens_exposure_and_place(qtbot, make_window, exif_photos: Path, monkeypatch) -> None:
    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda url: opened.append(url.toString()) or True))
    window = make_window()
    index_and_wait(qtbot, window, exif_photos)
    details = window.details
    _select(qtbot, window, "a_paris.jpg")
    shown = {key: label.full_text() for key, label in details.fields.items()}
    assert shown["Date taken"] == "2023-07-14 18:42:07 +02:00"
    assert shown["Camera"] == "FUJIFILM X-T3" and shown["Lens"] == "FUJIFILM XF35mmF1.4 R"
    assert shown["Exposure"] == "1/250 s · f/2.8 · ISO 400 · 35 mm"
    assert shown["Location"] == "48.8584° N, 2.2945° E"
    assert "35 m above sea level" in details.fields["Location"].toolTip()
    assert all(details.form.isRowVisible(details._form_rows[key]) for key in OPTIONAL)
    assert details.map_button.isVisible() and details.map_button.isEnabled()
    assert opened == []  # nothing is opened (or fetched) until the user asks
    qtbot.mouseClick(details.map_button, Qt.MouseButton.LeftButton)
    assert opened == ["https://www.openstreetmap.org/?mlat=48.858400&mlon=2.294500#map=16/48.858400/2.294500"]

    # A photo without EXIF: date and camera say so; lens, exposure and place are hidden.
    _select(qtbot, window, "b_plain.jpg")
    assert details.fields["Date taken"].full_text() == "unknown" and details.fields["Camera"].full_text() == "unknown"
    assert not any(details.form.isRowVisible(details._form_rows[key]) for key in OPTIONAL)
    assert not details.map_button.isVisible() and details.map_url is None
    details.open_map()  # e.g. a stale click: nothing to open
    assert len(opened) == 1

    # Back to the photo with a place; then nothing selected clears and hides it all.
    _select(qtbot, window, "a_paris.jpg")
    assert details.map_button.isVisible() and details.fields["Location"].full_text() == "48.8584° N, 2.2945° E"
    window.library_view.grid.clearSelection()
    assert details.path is None and not details.map_button.isVisible()
    assert not any(details.form.isRowVisible(details._form_rows[key]) for key in OPTIONAL)


def test_sort_by_date_uses_the_stored_dates(tmp_path: Path) -> None:
    """The library's "date" sort takes the dates the catalog stored (no file is read for
    them); a row without one (indexed before they were stored) has its file read."""
    from imgfinder.core.catalog import FileRow
    from imgfinder.gui.jobs import sort_rows

    def row(i: int, name: str, mtime_s: int) -> FileRow:
        return FileRow(i, str(tmp_path / name), 1, mtime_s * 10**9, None, 1, 1, None)

    # No such files: a date read from them would be the modification time.
    rows = [row(1, "a.jpg", 3_000), row(2, "b.jpg", 2_000), row(3, "c.jpg", 1_000)]
    stored = {1: "2001-01-01 00:00:00", 2: "2024-01-01 00:00:00", 3: None}
    by_date = sort_rows(rows, "date", {}, None, stored)
    assert [r.id for r in by_date] == [2, 1, 3]  # newest first; c: no date, its (1970) mtime
    assert [r.id for r in sort_rows(rows, "date", {}, None, {})] == [1, 2, 3]  # read: the mtimes
