"""The CLI in-process with the fake embedder: JSON shapes, exit codes, messages."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FakeEmbedder, small_copy
from imgfinder.cli import main


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args), embedder_factory=lambda: FakeEmbedder())
    out, err = capsys.readouterr()
    return code, out, err


def test_index_similar_duplicates_json(capsys, tmp_path: Path, small_photos) -> None:
    lib_dir = tmp_path / "lib"
    shutil.copy(small_photos[0], lib_dir / "exact copy.jpg")
    small_copy(small_photos[1], lib_dir / "sub" / "small.jpg", max_side=150, quality=50)
    data = str(tmp_path / "data")

    code, out, err = cli(capsys, "index", str(lib_dir), "--data-dir", data, "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["added"] == 10 and summary["failed"] == 0 and summary["problems"] == []

    code, out, _ = cli(capsys, "index", str(lib_dir), "--data-dir", data, "--json")
    summary = json.loads(out)
    assert (summary["unchanged"], summary["decoded"]) == (10, 0)

    code, out, _ = cli(capsys, "similar", str(small_photos[1]), "-k", "3", "--data-dir", data, "--json")
    result = json.loads(out)
    assert code == 0 and result["query"] == str(small_photos[1])
    assert result["results"][0]["path"] == str(lib_dir / "sub" / "small.jpg")
    scores = [r["score"] for r in result["results"]]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)

    code, out, _ = cli(capsys, "duplicates", "--threshold", "0.995", "--data-dir", data, "--json")
    result = json.loads(out)
    assert code == 0 and result["problems"] == []
    groups = [[Path(f["path"]).name for f in g["files"]] for g in result["groups"]]
    assert sorted(map(sorted, groups)) == sorted(
        [sorted([small_photos[0].name, "exact copy.jpg"]), sorted([small_photos[1].name, "small.jpg"])]
    )
    for g in result["groups"]:
        assert set(g["files"][0]) >= {"path", "score", "width", "height", "size"}
        assert g["files"][0]["keep"] is True
        pixels = [f["width"] * f["height"] for f in g["files"]]
        assert pixels[0] == max(pixels)


def test_unreadable_files_exit_2_and_are_listed(capsys, tmp_path: Path, small_photos) -> None:
    (tmp_path / "lib" / "broken.jpg").write_bytes(b"garbage")
    code, out, _ = cli(capsys, "index", str(tmp_path / "lib"), "--data-dir", str(tmp_path / "d"), "--json")
    assert code == 2
    problems = json.loads(out)["problems"]
    assert [Path(p["path"]).name for p in problems] == ["broken.jpg"]
    code, out, _ = cli(capsys, "duplicates", "--data-dir", str(tmp_path / "d"), "--json")
    assert code == 0 and json.loads(out)["problems"][0]["path"].endswith("broken.jpg")


def test_known_unreadable_files_do_not_fail_every_reindex(capsys, tmp_path: Path, small_photos) -> None:
    """A cron job re-indexing a library with a broken file: the first run exits 2 and
    names it; unchanged, it is "known unreadable" (exit 0, not counted as unchanged, not
    printed again); a new broken file exits 2 again and only it is printed; 'problems'
    lists both."""
    lib, data = tmp_path / "lib", str(tmp_path / "d")
    (lib / "broken.jpg").write_bytes(b"garbage")
    os.symlink(tmp_path / "gone.jpg", lib / "dangling.jpg")  # a scan problem, not a catalogued file
    code, _, err = cli(capsys, "index", str(lib), "--data-dir", data)
    assert code == 2 and "broken.jpg" in err and "dangling.jpg" in err
    code, out, err = cli(capsys, "index", str(lib), "--data-dir", data)
    assert code == 0, err
    assert "unchanged 8," in out and "2 known unreadable (see 'imgfinder problems')" in out
    assert "broken.jpg" not in err and "dangling.jpg" not in err
    (lib / "truncated.jpg").write_bytes(small_photos[0].read_bytes()[:200])
    code, out, err = cli(capsys, "index", str(lib), "--data-dir", data, "--json")
    summary = json.loads(out)
    assert code == 2 and summary["known_unreadable"] == 2
    assert [Path(p["path"]).name for p in summary["new_problems"]] == ["truncated.jpg"]
    assert sorted(Path(p["path"]).name for p in summary["problems"]) == ["broken.jpg", "dangling.jpg", "truncated.jpg"]
    code, out, err = cli(capsys, "problems", "--data-dir", data)
    assert code == 0 and "broken.jpg: " in out and "truncated.jpg: " in out and "2 files cannot be read" in err
    code, out, _ = cli(capsys, "problems", "--data-dir", data, "--json")
    assert sorted(Path(p["path"]).name for p in json.loads(out)["problems"]) == ["broken.jpg", "truncated.jpg"]
    (lib / "broken.jpg").unlink()
    (lib / "truncated.jpg").unlink()
    (lib / "dangling.jpg").unlink()
    code, out, _ = cli(capsys, "index", str(lib), "--data-dir", data)
    assert code == 0 and "known unreadable" not in out
    code, out, _ = cli(capsys, "problems", "--data-dir", data)
    assert code == 0 and out.startswith("no problems")
    code, _, err = cli(capsys, "problems", "--data-dir", str(tmp_path / "none"))
    assert code == 1 and "error" in err


def test_usage_and_environment_errors_exit_1_without_traceback(capsys, tmp_path: Path) -> None:
    code, _, err = cli(capsys, "index", str(tmp_path / "missing"), "--data-dir", str(tmp_path / "d"))
    assert code == 1 and "no such folder" in err and "Traceback" not in err
    code, _, err = cli(capsys, "similar", str(tmp_path / "nope.jpg"), "--data-dir", str(tmp_path / "d"))
    assert code == 1 and "no such photo" in err
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"xx")
    code, _, err = cli(capsys, "similar", str(bad), "--data-dir", str(tmp_path / "d"))
    assert code == 1 and "empty" in err  # nothing indexed yet
    code, _, err = cli(capsys, "duplicates", "--threshold", "3", "--data-dir", str(tmp_path / "d"))
    assert code == 1 and "threshold" in err
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 1


def test_help_is_fast_and_does_not_import_tensorflow() -> None:
    code = (
        "import sys, runpy\n"
        "sys.argv = ['imgfinder', '--help']\n"
        "try:\n"
        "    runpy.run_module('imgfinder', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "assert 'tensorflow' not in sys.modules and 'PySide6' not in sys.modules, sorted(sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "duplicates" in proc.stdout and "similar" in proc.stdout
