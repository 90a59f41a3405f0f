import os
import socket
from collections import Counter
from pathlib import Path

from imgfinder.core.scanner import SKIP_REASONS, ScanProblem, scan


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def names(files) -> list[str]:
    return sorted(os.path.basename(f.path) for f in files)


def test_extensions_case_insensitive_and_non_images_ignored(tmp_path: Path) -> None:
    for name in ["a.JPG", "b.jpeg", "c.Png", "d.webp", "e.BMP", "f.gif", "g.tif", "h.TIFF", "notes.txt", "raw.cr2x"]:
        touch(tmp_path / name)
    assert names(scan([tmp_path])) == ["a.JPG", "b.jpeg", "c.Png", "d.webp", "e.BMP", "f.gif", "g.tif", "h.TIFF"]


def test_hidden_and_system_folders_skipped(tmp_path: Path) -> None:
    touch(tmp_path / "keep" / "a.jpg")
    touch(tmp_path / ".hidden" / "b.jpg")
    touch(tmp_path / "@eaDir" / "c.jpg")
    touch(tmp_path / "$RECYCLE.BIN" / "d.jpg")
    touch(tmp_path / "keep" / "._e.jpg")  # macOS resource fork, not a photo
    assert names(scan([tmp_path])) == ["a.jpg"]


def test_symlink_loop_terminates_and_files_reported_once(tmp_path: Path) -> None:
    touch(tmp_path / "a" / "one.jpg")
    os.symlink(tmp_path, tmp_path / "a" / "loop")
    os.symlink(tmp_path / "a", tmp_path / "again")
    files = list(scan([tmp_path, tmp_path / "a"]))
    assert names(files) == ["one.jpg"]


def test_stat_fields_and_odd_names(tmp_path: Path) -> None:
    weird = os.fsdecode(b"caf\xe9 \xff photo.jpg")  # not valid UTF-8
    path = touch(tmp_path / weird, b"12345")
    (tmp_path / "sp ace & ümlaut 😀.png").write_bytes(b"1")
    files = {f.path: f for f in scan([tmp_path])}
    assert files[str(path)].size == 5
    assert files[str(path)].mtime_ns == os.stat(path).st_mtime_ns
    assert len(files) == 2


def test_missing_root_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    problems: list[ScanProblem] = []
    assert list(scan([tmp_path / "nope"], problems)) == []
    assert problems and "cannot open" in problems[0].reason


def test_single_file_root(tmp_path: Path) -> None:
    f = touch(tmp_path / "x.jpg")
    assert [s.path for s in scan([f])] == [str(f)]


def test_what_is_left_out_is_counted_with_its_reason(tmp_path: Path) -> None:
    """Issue #12: files skipped on purpose are counted, so the numbers add up."""
    touch(tmp_path / "a.jpg")
    touch(tmp_path / ".hidden" / "b.jpg")
    touch(tmp_path / ".git" / "objects" / "c.jpg")
    touch(tmp_path / "@eaDir" / "d.jpg")
    touch(tmp_path / "node_modules" / "e.png")
    touch(tmp_path / "._a.jpg")
    touch(tmp_path / "._notes.txt")
    touch(tmp_path / "notes.txt")
    touch(tmp_path / "layers.PSD")
    touch(tmp_path / "raw.CR2")  # a camera RAW is a photo (core.formats)
    os.link(tmp_path / "a.jpg", tmp_path / "again.jpg")
    os.symlink(tmp_path / "a.jpg", tmp_path / "0_link.jpg")
    skipped: Counter[str] = Counter()
    assert names(scan([tmp_path], skipped=skipped)) == ["a.jpg", "raw.CR2"]
    assert skipped == {"hidden_folder": 2, "system_folder": 2, "appledouble": 2, "not_a_photo": 2, "same_file": 2}
    assert set(skipped) <= set(SKIP_REASONS)


def test_entries_that_are_not_files_are_problems_not_photos(tmp_path: Path) -> None:
    touch(tmp_path / "good.jpg")
    os.mkfifo(tmp_path / "pipe.jpg")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock.png"))
    sock.close()
    os.symlink(tmp_path / "missing.jpg", tmp_path / "dangling.jpg")
    os.symlink(tmp_path / "loop2.jpg", tmp_path / "loop1.jpg")
    os.symlink(tmp_path / "loop1.jpg", tmp_path / "loop2.jpg")
    problems: list[ScanProblem] = []
    assert names(scan([tmp_path], problems)) == ["good.jpg"]
    reasons = {os.path.basename(p.path): p.reason for p in problems}
    assert "named pipe" in reasons["pipe.jpg"] and "socket" in reasons["sock.png"]
    assert "broken symlink" in reasons["dangling.jpg"]
    assert "loop" in reasons["loop1.jpg"] and "loop" in reasons["loop2.jpg"]
    problems.clear()
    assert list(scan([tmp_path / "pipe.jpg"], problems)) == [] and "named pipe" in problems[0].reason
