"""The CLI's text output (issue #11): human sizes, aligned tables, per-file problems on
stderr, progress that means something, and file names that are not UTF-8."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import FakeEmbedder, small_copy
from imgfinder.cli import main

TESTS = Path(__file__).resolve().parent


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args), embedder_factory=lambda: FakeEmbedder())
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def copies(tmp_path: Path, photo_paths) -> Path:
    """Two photos, each with a much smaller copy (so the dimensions differ in width), and
    a third photo; the sizes run from a few KB to hundreds of KB."""
    lib = tmp_path / "lib"
    small_copy(photo_paths[0], lib / "a.jpg", max_side=1200, quality=95)
    small_copy(photo_paths[0], lib / "copies" / "a small.jpg", max_side=90, quality=60)
    small_copy(photo_paths[1], lib / "b.jpg", max_side=1200, quality=95)
    small_copy(photo_paths[1], lib / "copies" / "b small.jpg", max_side=90, quality=60)
    small_copy(photo_paths[2], lib / "c.jpg", max_side=400)
    return lib


def member_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("  ")]


def test_duplicates_text_has_human_sizes_in_aligned_columns(capsys, tmp_path, copies) -> None:
    data = str(tmp_path / "d")
    assert cli(capsys, "index", str(copies), "--data-dir", data, "-q")[0] == 0
    code, out, _ = cli(capsys, "duplicates", "--data-dir", data)
    assert code == 0
    lines = member_lines(out)
    assert len(lines) >= 4, out
    starts = set()
    for line in lines:
        path = re.search(r"(/\S.*)$", line).group(1)
        size = os.path.getsize(path)
        assert str(size) not in line, line  # no raw byte counts
        assert re.search(r"\d(\.\d)? (B|KB|MB)  ", line), line
        starts.add(line.index(path))
    assert len(starts) == 1, out  # every path starts in the same column
    # each column ends in the same place on every line (right-aligned numbers)
    cells = [re.split(r"(?<=\S)  +", line.strip()) for line in lines]
    for col in range(3):
        ends = {line.index(c[col]) + len(c[col]) for line, c in zip(lines, cells)}
        assert len(ends) == 1, (col, out)


def test_duplicates_json_keeps_sizes_in_bytes(capsys, tmp_path, copies) -> None:
    data = str(tmp_path / "d")
    cli(capsys, "index", str(copies), "--data-dir", data, "-q")
    code, out, _ = cli(capsys, "duplicates", "--data-dir", data, "--json")
    files = [f for g in json.loads(out)["groups"] for f in g["files"]]
    assert files and all(f["size"] == os.path.getsize(f["path"]) for f in files)


def test_duplicates_say_what_a_group_holds_and_what_a_clean_up_reclaims(capsys, tmp_path, copies) -> None:
    """An original and one copy is "the file to keep and 1 edited copy" (it said "2 edited
    copies"); the summary counts in singular and plural and says how much space a clean-up
    frees, in text and in JSON."""
    data = str(tmp_path / "d")
    cli(capsys, "index", str(copies), "--data-dir", data, "-q")
    code, out, _ = cli(capsys, "duplicates", "--data-dir", data)
    heads = [line for line in out.splitlines() if line.startswith("group ")]
    assert heads and all(h.endswith("(the file to keep and 1 edited copy):") for h in heads), out
    reclaim = os.path.getsize(copies / "copies" / "a small.jpg") + os.path.getsize(copies / "copies" / "b small.jpg")
    from imgfinder.cli_text import human_size

    assert out.splitlines()[-1] == f"2 groups, 2 removable copies ({human_size(reclaim)} to reclaim)", out
    code, out, _ = cli(capsys, "duplicates", "--data-dir", data, "--json")
    assert json.loads(out)["summary"] == {"groups": 2, "removable_copies": 2, "reclaimable_bytes": reclaim}
    (copies / "copies" / "b small.jpg").unlink()
    cli(capsys, "index", str(copies), "--data-dir", data, "-q")
    code, out, _ = cli(capsys, "duplicates", "--data-dir", data)
    assert out.splitlines()[-1].startswith("1 group, 1 removable copy ("), out


def test_similar_text_has_aligned_columns_with_sizes(capsys, tmp_path, copies) -> None:
    data = str(tmp_path / "d")
    cli(capsys, "index", str(copies), "--data-dir", data, "-q")
    # --each-copy: every result a row of its own (folded copies are tested in test_similar_copies)
    code, out, _ = cli(capsys, "similar", str(copies / "a.jpg"), "--each-copy", "--data-dir", data)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 4, out
    starts = set()
    for line in lines:
        path = re.search(r"(/\S.*)$", line).group(1)
        assert str(os.path.getsize(path)) not in line
        assert re.match(r"^ *\d+\.\d%  +\d+x\d+  +\d+(\.\d)? (B|KB|MB)  /", line), line
        starts.add(line.index(path))
    assert len(starts) == 1, out
    # several queries: one heading each, the same columns under all of them
    code, out, _ = cli(capsys, "similar", str(copies / "a.jpg"), str(copies / "c.jpg"), "-k", "2", "--each-copy",
                       "--data-dir", data)
    headings = [line for line in out.splitlines() if not line.startswith("  ")]
    assert headings == [f"{copies / 'a.jpg'}:", f"{copies / 'c.jpg'}:"]
    assert len({line.index("/") for line in member_lines(out)}) == 1, out


def test_problems_go_to_stderr_in_text_and_stay_in_json(capsys, tmp_path, copies) -> None:
    (copies / "broken.jpg").write_bytes(b"not a jpeg")
    data = str(tmp_path / "d")
    code, out, err = cli(capsys, "index", str(copies), "--data-dir", data)
    assert code == 2
    assert "broken.jpg" not in out and out.startswith("added 5,")
    assert f"cannot read {copies / 'broken.jpg'}" in err
    code, out, err = cli(capsys, "duplicates", "--data-dir", data)
    assert "broken.jpg" not in out and "broken.jpg" in err
    code, out, err = cli(capsys, "duplicates", "--data-dir", data, "--json")
    assert json.loads(out)["problems"][0]["path"] == str(copies / "broken.jpg")


def test_no_scan_stage_that_never_moves(capsys, tmp_path, copies) -> None:
    code, _, err = cli(capsys, "index", str(copies), "--data-dir", str(tmp_path / "d"))
    assert code == 0
    assert "scan: 0" not in err
    assert "index: 0/5" in err  # the progress that does move is still shown


def test_the_scan_stage_shows_once_it_counts() -> None:
    import io

    from imgfinder.cli_text import ProgressPrinter
    from imgfinder.core.progress import Progress

    stream = io.StringIO()
    printer = ProgressPrinter(stream, quiet=False)
    scanning = Progress("scan")
    printer(scanning)
    scanning.done = 2000
    printer(scanning)
    assert stream.getvalue() == "scan: 2000 photos found\n"


def test_the_time_left_ignores_start_up_and_follows_the_recent_rate(monkeypatch) -> None:
    import imgfinder.core.progress as progress_module
    from imgfinder.core.progress import Progress

    clock = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(progress_module, "time", SimpleNamespace(monotonic=lambda: clock.now))
    p = Progress("index", 0, 3200, started=clock.now)
    clock.now += 8.0  # the model starts: no photo is done meanwhile
    clock.now += 1.0
    p.done += 32
    assert p.eta_seconds is None  # one report: nothing measured yet (was 890 s)
    for _ in range(3):
        clock.now += 1.0
        p.done += 32
    assert p.eta_seconds == pytest.approx((3200 - 128) / 32, rel=0.05)  # 96 s at 32/s
    assert p.rate == pytest.approx(32.0)
    for _ in range(40):  # the photos get larger: half the speed from now on
        clock.now += 2.0
        p.done += 32
    assert p.rate == pytest.approx(16.0, rel=0.05)
    assert p.eta_seconds == pytest.approx((3200 - p.done) / 16, rel=0.05)


def test_the_progress_line_shows_no_time_left_before_a_rate_is_measured(monkeypatch) -> None:
    import io

    import imgfinder.core.progress as progress_module
    from imgfinder.cli_text import ProgressPrinter
    from imgfinder.core.progress import Progress

    clock = SimpleNamespace(now=50.0)
    monkeypatch.setattr(progress_module, "time", SimpleNamespace(monotonic=lambda: clock.now))
    stream = io.StringIO()
    printer = ProgressPrinter(stream, quiet=False)
    p = Progress("index", 0, 320, started=clock.now)
    printer(p)
    clock.now += 9.0
    p.done = 32
    printer._last = 0.0  # no rate limit in this test
    printer(p)
    for _ in range(3):
        clock.now += 1.0
        p.done += 32
    printer._last = 0.0
    printer(p)
    lines = stream.getvalue().splitlines()
    assert lines[:2] == ["index: 0/320", "index: 32/320"]
    assert lines[2] == "index: 128/320  32.0/s  6s left"


def test_human_sizes_and_percentages() -> None:
    from imgfinder.cli_text import human_size, percent

    assert [human_size(n) for n in (0, 999, 1000, 23_456, 2_400_000, 12_345_678, 3 * 10**9)] == [
        "0 B", "999 B", "1.0 KB", "23 KB", "2.4 MB", "12 MB", "3.0 GB"]
    assert percent(0.973) == "97.3%" and percent(1.0) == "100.0%"


def test_display_path_quotes_like_ls() -> None:
    from imgfinder.cli_text import display_path

    assert display_path("/photos/it's a café.jpg") == "/photos/it's a café.jpg"
    assert display_path(os.fsdecode(b"/p/caf\xff.jpg")) == "'/p/caf'$'\\377''.jpg'"
    assert display_path("/p/new\nline.jpg") == "'/p/new'$'\\n''line.jpg'"
    assert display_path(os.fsdecode(b"/p/it's\xfe")) == "'/p/it'\\''s'$'\\376'"


def test_names_that_are_not_utf8_are_printed_escaped(tmp_path: Path, photo_paths) -> None:
    lib = tmp_path / "lib"
    odd = os.fsdecode(os.path.join(os.fsencode(lib), b"caf\xff.jpg"))
    broken = os.fsdecode(os.path.join(os.fsencode(lib), b"bad\xfe.jpg"))
    small_copy(photo_paths[0], Path(odd))
    small_copy(photo_paths[0], lib / "copy.jpg", max_side=200)
    small_copy(photo_paths[1], lib / "other.jpg")
    Path(broken).write_bytes(b"not a jpeg")
    runner = (
        "import sys\n"
        f"sys.path.insert(0, {str(TESTS)!r})\n"
        "from conftest import FakeEmbedder\n"
        "from imgfinder.cli import main\n"
        "sys.exit(main(sys.argv[1:], embedder_factory=FakeEmbedder))\n"
    )
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", runner, *args, "--data-dir", str(tmp_path / "d")],
            capture_output=True, env=env, timeout=120,
        )

    shown_odd = f"'{lib}/caf'$'\\377''.jpg'".encode()
    shown_broken = f"'{lib}/bad'$'\\376''.jpg'".encode()
    index, similar, duplicates = run("index", str(lib)), run("similar", str(lib / "copy.jpg")), run("duplicates")
    failures = [  # all three are checked, each used to crash with UnicodeEncodeError
        f"{name}: {proc.returncode} {proc.stderr.decode(errors='replace')[-300:]}"
        for name, proc, code in (("index", index, 2), ("similar", similar, 0), ("duplicates", duplicates, 0))
        if proc.returncode != code or b"Traceback" in proc.stderr
    ]
    assert failures == []
    assert shown_broken in index.stderr
    assert similar.stdout.splitlines()[0].endswith(shown_odd)
    assert shown_odd in duplicates.stdout and shown_broken in duplicates.stderr
    proc = run("similar", str(lib / "copy.jpg"), "--json")
    assert json.loads(proc.stdout)["results"][0]["path"] == odd  # JSON: the name itself
