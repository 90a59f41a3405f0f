"""Bad input never stops a scan, never hangs it, never crashes it, and is never modified.

One folder holds the good photos and more than forty kinds of bad input next to them
(empty, truncated and corrupt files, decompression bombs, odd image modes, broken EXIF,
files that are not files, broken links, odd names, files that vanish or change during the
run, ...). It is indexed in a child process with a timeout; then every file must be
byte-identical to before, every good photo indexed, and every bad file either indexed on
purpose or named in the results with a clear reason.
"""

from __future__ import annotations

import io
import os
import socket
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from _photos import index_in_child, problems_by_path, rows_by_path, tree_fingerprint
from conftest import small_copy

GOOD = 8  # real photos, each must be indexed

# name -> what must become of it:
#   ("ok",)             indexed with an embedding (readable on purpose)
#   ("error", words)    a catalog row with that reason (and in the run's problems)
#   ("problem", words)  named in the run's problems (it is not a file to read)
#   ("skipped", key)    left out on purpose, counted in the summary's ``skipped``
Expect = tuple


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(width: int, height: int, idat: bytes, depth: int = 8, colour: int = 0) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _save(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, **kw)
    return buf.getvalue()


def _exif_jpeg(base: Image.Image, exif: bytes) -> bytes:
    """A JPEG whose APP1 segment is ``exif`` as given (however broken)."""
    data = _save(base, format="JPEG", quality=85)
    app1 = b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif
    return data[:2] + app1 + data[2:]


def _tiff_header_exif(entries: list[tuple[int, int, int, int]], ifd_offset: int = 8) -> bytes:
    """'Exif\\0\\0' + a little-endian TIFF header + one IFD of (tag, type, count, value)."""
    body = b"II*\x00" + struct.pack("<I", ifd_offset)
    body += struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        body += struct.pack("<HHII", tag, kind, count, value)
    return b"Exif\x00\x00" + body + struct.pack("<I", 0)


def build(root: Path, photo_paths: list[Path]) -> dict[bytes, Expect]:
    """Fill ``root`` with the good photos and the bad inputs; returns what each must become
    (keys are paths relative to ``root``, as bytes)."""
    root.mkdir(parents=True)
    expect: dict[bytes, Expect] = {}

    def put(name: str | bytes, data: bytes, outcome: Expect) -> Path:
        path = Path(os.fsdecode(os.path.join(os.fsencode(root), os.fsencode(name))))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        expect[os.fsencode(name)] = outcome
        return path

    good = [small_copy(p, root / f"good_{n}.jpg", max_side=200) for n, p in enumerate(photo_paths[:GOOD])]
    for p in good:
        expect[os.fsencode(p.name)] = ("ok",)
    jpeg = good[0].read_bytes()
    rng = np.random.default_rng(12)
    colour = Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8))
    png = _save(colour, format="PNG")

    # -- empty, truncated, corrupt --------------------------------------------------------
    put("empty.jpg", b"", ("error", "empty file"))
    put("trunc_2_bytes.jpg", jpeg[:2], ("error", "corrupt JPEG file"))
    put("trunc_header.jpg", jpeg[:300], ("error", "truncated"))
    put("trunc_half.jpg", jpeg[: len(jpeg) // 2], ("error", "truncated"))
    put("trunc_tail.jpg", jpeg[:-200], ("error", "truncated"))
    put("trunc_png.png", png[: len(png) // 2], ("error", "truncated"))
    put("garbage.jpg", rng.bytes(5000), ("error", "not an image"))
    put("text.jpg", b"this is a shopping list, not a photo\n" * 20, ("error", "not an image"))
    put("html.png", b"<!DOCTYPE html><html><body>404 Not Found</body></html>", ("error", "not an image"))
    put("jpeg_magic_then_garbage.jpg", b"\xff\xd8\xff\xe0" + rng.bytes(3000), ("error", "truncated"))
    put("png_magic_only.png", b"\x89PNG\r\n\x1a\n", ("error", "corrupt PNG file"))
    bad_crc = bytearray(png)
    bad_crc[29] ^= 0xFF  # the IHDR chunk's CRC
    put("bad_crc.png", bytes(bad_crc), ("error", "corrupt PNG file"))
    put("zero_width.png", _png(0, 10, zlib.compress(b"\0" * 10)), ("error", "corrupt PNG file"))
    put("bad_zlib.png", _png(8, 8, b"not zlib data at all"), ("error", "corrupt"))
    put("bmp_bad_header.bmp", b"BM" + struct.pack("<IHHI", 100, 0, 0, 54) + b"\0" * 20, ("error", "corrupt"))
    put("gif_header_only.gif", b"GIF89a" + struct.pack("<HH", 10, 10) + b"\x00\x00\x00", ("error", "corrupt GIF file"))
    put("tiff_bad_ifd.tif", b"II*\x00" + struct.pack("<I", 10_000_000), ("error", "corrupt TIFF file"))
    put("eps_named.jpg", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n", ("error", "not an image"))
    put("ppm_named.png", b"P6\n4 4\n255\n" + b"\x80" * 48, ("error", "not an image"))
    # -- decompression bombs and extreme sizes ------------------------------------------------
    put("bomb.png", _png(100_000, 100_000, zlib.compress(b"\0" * 1000)), ("error", "too large"))
    gif_bomb = b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\x00\x00\x00"
    gif_bomb += b"," + struct.pack("<HHHH", 0, 0, 65535, 65535) + b"\x00" + b"\x02\x02\x44\x01\x00;"
    put("bomb.gif", gif_bomb, ("error", "too large"))
    webp_bomb = b"RIFF" + struct.pack("<I", 22) + b"WEBPVP8X" + struct.pack("<I", 10) + b"\0" * 4
    webp_bomb += (19_999).to_bytes(3, "little") + (19_999).to_bytes(3, "little")  # 20000 x 20000
    put("bomb.webp", webp_bomb, ("error", "too large"))
    # A sparse 256 MiB file with a photo's name: refused from its first bytes, never read whole.
    big = put("huge_not_an_image.jpg", b"", ("error", "not an image"))
    os.truncate(big, 256 << 20)
    put("one_pixel.png", _save(Image.new("RGB", (1, 1), (200, 10, 10)), format="PNG"), ("ok",))
    put("one_pixel.jpg", _save(Image.new("RGB", (1, 1), (10, 200, 10)), format="JPEG"), ("ok",))
    put("wide_strip.png", _save(Image.new("L", (12_000, 1), 128), format="PNG"), ("ok",))
    # -- every kind of pixels ---------------------------------------------------------------------
    frames = [Image.new("P", (40, 30), i * 40) for i in range(4)]
    put("animated.gif", _save(frames[0], format="GIF", save_all=True, append_images=frames[1:], duration=50), ("ok",))
    put("cmyk.jpg", _save(colour.convert("CMYK"), format="JPEG"), ("ok",))
    grey16 = Image.fromarray((np.arange(64 * 48, dtype=np.uint16).reshape(48, 64) * 21))
    put("grey_16bit.png", _save(grey16, format="PNG"), ("ok",))
    put("grey_16bit.tif", _save(grey16, format="TIFF"), ("ok",))
    palette = colour.quantize(16)
    put("palette_transparent.png", _save(palette, format="PNG", transparency=3), ("ok",))
    put("grey_alpha.png", _save(colour.convert("LA"), format="PNG"), ("ok",))
    put("rgba.webp", _save(colour.convert("RGBA"), format="WEBP", lossless=True), ("ok",))
    put("lossy.webp", _save(colour, format="WEBP", quality=60), ("ok",))
    put("animated.webp", _save(colour, format="WEBP", save_all=True, append_images=[colour.rotate(90)]), ("ok",))
    put("rgb.bmp", _save(colour, format="BMP"), ("ok",))
    put("one_bit.bmp", _save(colour.convert("1"), format="BMP"), ("ok",))
    put("lzw.tiff", _save(colour, format="TIFF", compression="tiff_lzw"), ("ok",))
    put("multipage.tif", _save(colour, format="TIFF", save_all=True, append_images=[colour.rotate(180)]), ("ok",))
    put("progressive.jpg", _save(colour, format="JPEG", progressive=True), ("ok",))
    put("png_named.jpg", png, ("ok",))  # wrong extension, right content
    put("jpeg_named.png", jpeg, ("ok",))
    put("trailing_junk.jpg", jpeg + rng.bytes(2000), ("ok",))
    # -- broken EXIF: the photo must not be lost for it -------------------------------------------
    put("exif_orientation_garbage.jpg", _exif_jpeg(colour, _tiff_header_exif([(0x0112, 3, 1, 999)])), ("ok",))
    put("exif_bad_ifd_offset.jpg", _exif_jpeg(colour, _tiff_header_exif([], ifd_offset=0x7FFFFFF0)), ("ok",))
    put("exif_bad_value_offset.jpg", _exif_jpeg(colour, _tiff_header_exif([(0x010F, 2, 5000, 0x7FFFFF00)])), ("ok",))
    put("exif_truncated.jpg", _exif_jpeg(colour, b"Exif\x00\x00II*\x00"), ("ok",))
    put("exif_bad_subifd.jpg", _exif_jpeg(colour, _tiff_header_exif([(0x8769, 4, 1, 0x7FFFFFF0)])), ("ok",))
    # -- odd names --------------------------------------------------------------------------------
    put("new\nline.jpg", jpeg[:-2] + b"\xff\xd9", ("ok",))
    put(b"caf\xe9 \xff latin1.jpg", good[1].read_bytes() + b"\0", ("ok",))  # not UTF-8
    put("long_" + "x" * 240 + ".jpg", good[2].read_bytes() + b"\0\0", ("ok",))
    put("-leading-dash.jpg", good[3].read_bytes() + b"\0\0\0", ("ok",))
    put("  spaces  around  .JPG", good[4].read_bytes() + b"\0\0\0\0", ("ok",))
    put("emoji 📷 ünïcödé.png", _save(colour.rotate(90), format="PNG"), ("ok",))
    # -- not files, not readable --------------------------------------------------------------------
    locked = put("no_permission.jpg", good[5].read_bytes() + b"\1", ("error", "permission denied"))
    locked.chmod(0)
    os.mkfifo(root / "fifo.jpg")
    expect[b"fifo.jpg"] = ("problem", "named pipe")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(root / "socket.jpg"))
    sock.close()  # the socket file stays
    expect[b"socket.jpg"] = ("problem", "socket")
    os.symlink("/dev/null", root / "device.jpg")
    expect[b"device.jpg"] = ("problem", "character device")
    os.symlink(root / "gone.jpg", root / "dangling.jpg")
    expect[b"dangling.jpg"] = ("problem", "broken symlink")
    os.symlink(root / "loop_b.jpg", root / "loop_a.jpg")
    os.symlink(root / "loop_a.jpg", root / "loop_b.jpg")
    expect[b"loop_a.jpg"] = expect[b"loop_b.jpg"] = ("problem", "symlink loop")
    (root / "folder.jpg").mkdir()  # a folder named like a photo is walked as a folder
    small_copy(photo_paths[GOOD], root / "folder.jpg" / "inside.jpg", max_side=120)
    expect[b"folder.jpg/inside.jpg"] = ("ok",)
    # -- the races of a live folder (played by the child's --hooks) ---------------------------------
    put("vanish.jpg", good[6].read_bytes() + b"\2", ("error", "vanished"))
    put("changing.jpg", _save(colour, format="JPEG", quality=50), ("ok",))
    put("changing.next", _save(colour.rotate(45), format="JPEG", quality=50), ("skipped", "not_a_photo"))
    put("written_while_read.jpg", good[7].read_bytes() + b"\3", ("error", "changed while it was being read"))
    # -- left out on purpose --------------------------------------------------------------------------
    put(".hidden/secret.jpg", jpeg, ("skipped", "hidden_folder"))
    put("@eaDir/thumb.jpg", jpeg, ("skipped", "system_folder"))
    put("._good_0.jpg", b"\x00\x05\x16\x07AppleDouble", ("skipped", "appledouble"))
    put("notes.txt", b"not a photo", ("skipped", "not_a_photo"))
    os.link(good[0], root / "hard_link.jpg")
    expect[b"hard_link.jpg"] = ("skipped", "same_file")
    os.symlink(good[1], root / "a_symlink.jpg")
    expect[b"a_symlink.jpg"] = ("skipped", "same_file")
    return expect


def _outcome(rel: bytes, rows: dict, problems: dict) -> Expect:
    row = rows.get(rel)
    if row is not None:
        if row["error"]:
            return ("error", row["error"])
        return ("ok",) if row["embedded"] else ("facts only",)
    if rel in problems:
        return ("problem", problems[rel])
    return ("absent",)


def test_bad_inputs_are_reported_never_modified_and_never_stop_a_scan(tmp_path: Path, photo_paths: list[Path]) -> None:
    root = tmp_path / "lib"
    expect = build(root, photo_paths)
    kinds = [k for k, e in expect.items() if e != ("ok",) or not k.startswith(b"good_")]
    assert len(kinds) >= 40, len(kinds)
    before = tree_fingerprint(root)

    first = index_in_child(tmp_path / "data", root, hooks=True)

    # Nothing was modified, except by the test's own races.
    after = tree_fingerprint(root)
    raced = {b"vanish.jpg", b"changing.jpg", b"written_while_read.jpg"}
    assert {k: v for k, v in after.items() if k not in raced} == {k: v for k, v in before.items() if k not in raced}
    assert b"vanish.jpg" not in after

    base = os.fsencode(root)
    rows = {os.path.relpath(p, base): r for p, r in rows_by_path(first).items()}
    problems = {os.path.relpath(p, base): r for p, r in problems_by_path(first).items()}
    summary = first["summary"]
    wrong = {}
    for rel, want in expect.items():
        got = _outcome(rel, rows, problems)
        if want[0] == "skipped":
            ok = got == ("absent",)
        else:
            ok = got[0] == want[0] and (len(want) == 1 or want[1] in got[1])
        if not ok:
            wrong[rel] = (want, got)
    assert not wrong, "\n".join(f"{k!r}: wanted {w}, got {g}" for k, (w, g) in sorted(wrong.items()))
    # Every reason is one clear line, the catalog's errors are among the run's problems.
    for rel, row in rows.items():
        if row["error"]:
            assert problems.get(rel) == row["error"] and "\n" not in row["error"] and len(row["error"]) < 200
    # The numbers add up to what is on disk.
    wanted_skips: dict[str, int] = {}
    for want in expect.values():
        if want[0] == "skipped":
            wanted_skips[want[1]] = wanted_skips.get(want[1], 0) + 1
    assert summary["skipped"] == wanted_skips
    n_ok = sum(1 for e in expect.values() if e == ("ok",))
    n_error = sum(1 for e in expect.values() if e[0] == "error")
    assert (summary["added"], summary["failed"], summary["updated"], summary["unchanged"]) == (n_ok, n_error, 0, 0)
    assert len(summary["problems"]) == n_error + sum(1 for e in expect.values() if e[0] == "problem")
    # The changed file was indexed as it is now: size and mtime of what was read.
    changing = rows[b"changing.jpg"]
    st = os.stat(root / "changing.jpg")
    assert (changing["size"], changing["mtime_ns"]) == (st.st_size, st.st_mtime_ns)

    # Run again: nothing unchanged is read again, the race victims heal, the rest is the same.
    second = index_in_child(tmp_path / "data", root)
    s2 = second["summary"]
    assert s2["removed"] == 1  # vanish.jpg
    assert s2["updated"] == 1 and s2["decoded"] == 1  # written_while_read.jpg, finished now
    # Files unreadable last time and unchanged since are known, not read again and not new.
    n_problem = sum(1 for e in expect.values() if e[0] == "problem")
    assert s2["added"] == 0 and s2["unchanged"] + s2["known_unreadable"] == n_ok + n_error - 2 + n_problem
    # Nothing is new: the files that failed to decode are known from the catalog, what the
    # scan could not open (pipes, devices, broken links) from the last scan's list.
    assert summary["known_unreadable"] == 0 and len(summary["new_problems"]) == len(summary["problems"])
    assert s2["known_unreadable"] == n_error - 2 + n_problem  # written_while_read.jpg healed, vanish.jpg gone
    assert s2["new_problems"] == [], s2["new_problems"]
    assert s2["skipped"] == wanted_skips
    rows2 = {os.path.relpath(p, base): r for p, r in rows_by_path(second).items()}
    assert rows2[b"written_while_read.jpg"]["embedded"] and not rows2[b"written_while_read.jpg"]["error"]
    assert tree_fingerprint(root) == {k: v for k, v in after.items()}


def test_a_fifo_named_like_a_photo_does_not_hang_index(tmp_path: Path, photo_paths: list[Path]) -> None:
    """Issue #12: ``y.jpg``, a named pipe, blocked the decoder thread for ever (and Ctrl+C
    with it); the good photos around it were never committed."""
    root = tmp_path / "lib"
    for p in photo_paths[:3]:
        small_copy(p, root / p.name, max_side=120)
    os.mkfifo(root / "y.jpg")
    result = index_in_child(tmp_path / "data", root, timeout=60)
    assert result["summary"]["added"] == 3
    assert all(r["embedded"] for r in result["rows"]) and len(result["rows"]) == 3
    assert "named pipe" in problems_by_path(result)[os.fsencode(root / "y.jpg")]


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_a_fifo_never_blocks_the_decoder_itself(tmp_path: Path, kind: str) -> None:
    """Even handed a FIFO directly (swapped in after a scan), the decoder does not block."""
    import subprocess
    import sys

    target = tmp_path / "y.jpg"
    if kind == "fifo":
        os.mkfifo(target)
        want = "named pipe"
    else:
        target.mkdir()
        want = "folder"
    code = (
        "import sys; sys.path.insert(0, sys.argv[2])\n"
        "from imgfinder.core.decoder import DecodeError, decode_for_model\n"
        "from imgfinder.core.metadata import read_metadata\n"
        "try:\n    decode_for_model(sys.argv[1], 32)\nexcept DecodeError as e:\n    print(e.reason)\n"
        "print(read_metadata(sys.argv[1]).error)\n"
    )
    repo = str(Path(__file__).resolve().parents[2])
    try:
        done = subprocess.run([sys.executable, "-c", code, str(target), repo], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        raise AssertionError("decoding a FIFO blocked") from None
    lines = done.stdout.splitlines()
    assert done.returncode == 0 and len(lines) == 2, done.stderr
    assert all(want in line for line in lines), lines
