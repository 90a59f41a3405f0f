"""Camera RAW files (DNG, CR2, CR3, NEF, ARW, RAF, ORF, RW2 ...) as a Pillow plugin, read
with rawpy (LibRaw), so every reader of photos (decoder, metadata, thumbnails) opens them
like any other image. Imported only when a RAW file is met (``formats.ensure``).

Opening reads the file's header through LibRaw: ``size`` is the developed picture's, as
stored (before the camera's orientation), and the EXIF block carries the camera's facts
and its orientation (LibRaw's ``flip`` as an EXIF orientation), so the decoder orients a
RAW like a JPEG and stores its displayed size.

Pixels: ``draft`` (as for a JPEG) says how many are needed. The camera's JPEG preview is
used when its short side is at least the size asked for and ``PREVIEW_MIN_SIDE`` (the model
and the layout check see 160 px; twice that keeps the preview's own compression and
scaling out of what they see); otherwise the mosaic is developed at half size (LibRaw
bins 2x2, no demosaicing: fast), or at full size when even half is too small.
"""

from __future__ import annotations

import datetime as _dt
import io
from typing import Any

import rawpy
from PIL import Image, ImageFile

from .decode_error import DecodeError

PREVIEW_MIN_SIDE = 320
PILLOW_ID = "CAMERA_RAW"

# LibRaw's flip (dcraw bits: 1 mirror x, 2 mirror y, 4 transpose) as EXIF orientations.
_FLIP_TO_ORIENTATION = {0: 1, 1: 2, 2: 4, 3: 3, 4: 5, 5: 8, 6: 6, 7: 7}
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_INVERSE = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 8, 7: 7, 8: 6}  # undoes an orientation
_SWAPPING = {Image.Transpose.TRANSPOSE, Image.Transpose.TRANSVERSE, Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_270}
# Bytes LibRaw holds per pixel of the mosaic while developing (the 16-bit mosaic, its
# 4x16-bit working image, the 8-bit result): full size, and half size per mosaic pixel.
FULL_BYTES_PER_PIXEL = 13
HALF_BYTES_PER_PIXEL = 5

# IFD0 fields copied from a TIFF-based RAW (the rest describe its strips and thumbnails).
_IFD0_TAGS = (0x010F, 0x0110, 0x0132, 0x013B, 0x8298)  # make, model, date, artist, copyright
_EXIF_IFD, _GPS_IFD, _MAKER_NOTE = 0x8769, 0x8825, 0x927C


def _message(exc: Exception) -> str:
    text = exc.args[0] if exc.args else str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text).strip() or type(exc).__name__


def _accept(prefix: bytes) -> bool:
    return True  # only ever asked for files that ``formats.kind_of`` calls RAW


def _tiff_exif(fp: Any) -> Image.Exif | None:
    """The EXIF of a TIFF-based RAW (DNG, NEF, ARW, CR2 ...), read from its header."""
    fp.seek(0)
    if fp.read(4) not in (b"II*\x00", b"MM\x00*"):
        return None
    fp.seek(0)
    exif = Image.Exif()
    exif.load_from_fp(fp)
    return exif


def _copy_exif(source: Image.Exif | None, into: Image.Exif) -> None:
    """The camera's facts of ``source`` into ``into`` where it has none yet."""
    if source is None:
        return
    for tag in _IFD0_TAGS:
        if tag not in into and source.get(tag) is not None:
            into[tag] = source[tag]
    for ifd in (_EXIF_IFD, _GPS_IFD):
        try:
            fields = source.get_ifd(ifd)
        except Exception:  # noqa: BLE001 - a broken sub-IFD: the other facts stay
            continue
        target = into.get_ifd(ifd)
        for tag, value in fields.items():
            if tag == _MAKER_NOTE or tag in target or (isinstance(value, bytes) and len(value) > 4096):
                continue
            target[tag] = value


class RawImageFile(ImageFile.ImageFile):
    """A camera RAW file; ``format`` is set to its kind by the decoder ("DNG", "NEF" ...)."""

    format = PILLOW_ID
    format_description = "camera RAW (LibRaw)"

    def _open(self) -> None:
        self._raw: Any = None
        try:
            tiff = _tiff_exif(self.fp)
        except Exception:  # noqa: BLE001 - the header of a damaged file: LibRaw says more below
            tiff = None
        self.fp.seek(0)
        try:
            raw = rawpy.imread(self.fp)  # LibRaw keeps its own copy of the file's bytes
            sizes = raw.sizes
        except rawpy.LibRawError as exc:
            raise DecodeError(f"corrupt RAW file: LibRaw cannot open it ({_message(exc)})") from None
        self._raw = raw
        self._size = (int(sizes.width), int(sizes.height))
        self._mode = "RGB"
        self.tile = []
        self.orientation = _FLIP_TO_ORIENTATION.get(int(sizes.flip), 1)
        self._stored = self._size
        self._source = "full"
        self._preview_jpeg: bytes | None = None
        self._preview_ops: list[Image.Transpose] = []
        self._preview = self._read_preview()
        try:
            self.info["exif"] = self._camera_exif(tiff).tobytes()
        except Exception:  # noqa: BLE001 - a value Pillow cannot write back: the orientation at least
            self.info["exif"] = self._camera_exif(None, copy=False).tobytes()

    def _read_preview(self) -> Image.Image | None:
        """The camera's JPEG preview, opened (header only); None when it has none."""
        try:
            thumb = self._raw.extract_thumb()
        except (rawpy.LibRawError, MemoryError):
            return None
        if thumb.format != rawpy.ThumbFormat.JPEG:
            return None
        self._preview_jpeg = bytes(thumb.data)
        try:
            preview = Image.open(io.BytesIO(self._preview_jpeg), formats=("JPEG", "MPO"))
        except Exception:  # noqa: BLE001 - a broken preview: develop the mosaic instead
            return None
        self._preview_ops = self._preview_to_stored(preview)
        return preview

    def _preview_to_stored(self, preview: Image.Image) -> list[Image.Transpose]:
        """Turns that give the preview the stored orientation of the mosaic.

        LibRaw gives a preview without EXIF the RAW's orientation, so a preview whose EXIF
        orientation is the RAW's (or none) tells nothing by it: it is as stored when its
        shape is the mosaic's (cameras do not turn previews) and as shown otherwise. A
        preview with an orientation of its own is shown by it, then turned back.
        """
        try:
            own = int(preview.getexif().get(0x0112) or 1)
        except Exception:  # noqa: BLE001
            own = 1
        back = _INVERSE[self.orientation]
        if own in _TRANSPOSE and own != self.orientation:
            return [_TRANSPOSE[own]] + ([_TRANSPOSE[back]] if back != 1 else [])
        (pw, ph), (w, h) = preview.size, self._size
        if back == 1 or pw == ph or w == h or (pw > ph) == (w > h):
            return []
        return [_TRANSPOSE[back]]

    def _camera_exif(self, tiff: Image.Exif | None, copy: bool = True) -> Image.Exif:
        """The camera's facts from the RAW's TIFF header, else from its preview, else
        LibRaw's date; with the RAW's orientation (``copy=False``: only the last two)."""
        exif = Image.Exif()
        try:
            _copy_exif(tiff, exif)
        except Exception:  # noqa: BLE001 - broken EXIF: fewer facts, never a lost photo
            pass
        if self._preview is not None and copy:
            try:
                _copy_exif(self._preview.getexif(), exif)
            except Exception:  # noqa: BLE001
                pass
        sub = exif.get_ifd(_EXIF_IFD)
        if 0x9003 not in sub and 0x0132 not in exif:
            stamp = getattr(getattr(self._raw, "other", None), "timestamp", None)
            if isinstance(stamp, (int, float)) and stamp > 0:
                stamp = _dt.datetime.fromtimestamp(stamp)
            if isinstance(stamp, _dt.datetime) and stamp.year > 1970:
                sub[0x9003] = stamp.strftime("%Y:%m:%d %H:%M:%S")
        if self.orientation != 1:
            exif[0x0112] = self.orientation
        return exif

    def _preview_size(self) -> tuple[int, int] | None:
        if self._preview is None:
            return None
        w, h = self._preview.size
        swaps = sum(1 for op in self._preview_ops if op in _SWAPPING)
        return (h, w) if swaps % 2 else (w, h)

    def draft(self, mode: str | None, size: tuple[int, int] | None) -> tuple[str, tuple[int, int, int, int]] | None:
        """Choose the cheapest pixels with both sides at least ``size`` (preview, half or
        full size), as ``JpegImageFile.draft`` does."""
        if size is None or self._raw is None:
            return None
        want = max(1, min(size))
        box = (0, 0, *self._stored)
        preview = self._preview_size()
        if preview is not None and min(preview) >= max(want, PREVIEW_MIN_SIDE):
            assert self._preview is not None
            ask = (want, want)
            self._preview.draft("RGB", ask)  # a large preview is decoded at 1/2 to 1/8 scale
            self._source = "preview"
            self._size = self._preview_size() or preview
        elif min(self._stored) // 2 >= want:
            self._source = "half"
            self._size = ((self._stored[0] + 1) // 2, (self._stored[1] + 1) // 2)
        else:
            self._source, self._size = "full", self._stored
        return self.mode, box

    def decode_cost(self) -> int:
        """Bytes held while the pixels are made (for the decoder's bounds)."""
        w, h = self._stored
        if self._source == "preview":
            pw, ph = self._size
            return pw * ph * 4 + len(self._preview_jpeg or b"")
        return w * h * (HALF_BYTES_PER_PIXEL if self._source == "half" else FULL_BYTES_PER_PIXEL)

    def _develop(self) -> Image.Image:
        if self._source == "preview" and self._preview is not None:
            picture = self._preview.convert("RGB")
            for op in self._preview_ops:
                picture = picture.transpose(op)
            return picture
        try:
            rgb = self._raw.postprocess(
                half_size=self._source == "half", use_camera_wb=True, output_bps=8, user_flip=0,
            )
        except rawpy.LibRawError as exc:
            raise DecodeError(f"corrupt RAW file: its raw data cannot be read ({_message(exc)})") from None
        return Image.fromarray(rgb, "RGB")

    def load(self) -> Any:
        if self._raw is not None:
            picture = self._develop()
            self._close_raw()
            self._size = picture.size
            self.fp = io.BytesIO(picture.tobytes())
            self.tile = [("raw", (0, 0, *picture.size), 0, "RGB")]  # type: ignore[list-item]
        return super().load()

    def _close_raw(self) -> None:
        if self._raw is not None:
            self._raw.close()
            self._raw = None
        if self._preview is not None:
            self._preview.close()
            self._preview = None
        self._preview_jpeg = None

    def close(self) -> None:
        self._close_raw()
        super().close()


def register() -> None:
    """Lets Pillow open RAW files (by ``formats.RAW.pillow_ids``)."""
    Image.register_open(PILLOW_ID, RawImageFile, _accept)
