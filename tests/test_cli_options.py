"""The CLI's options and messages (issue #11): options on either side of the command,
argument checks, hints, the help text. In-process with the fake embedder."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from conftest import FakeEmbedder, small_copy
from imgfinder.cli import main
from imgfinder.core.duplicates import DEFAULT_FLOOR

REPO = Path(__file__).resolve().parent.parent


def cli(capsys, *args: str) -> tuple[int, str, str]:
    try:
        code = main(list(args), embedder_factory=lambda: FakeEmbedder())
    except SystemExit as exc:  # argparse errors and --help
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def default_data(tmp_path: Path, monkeypatch) -> Path:
    """Where the data would go without --data-dir (must stay untouched when it is given)."""
    path = tmp_path / "default-data"
    monkeypatch.setenv("IMGFINDER_DATA_DIR", str(path))
    return path


@pytest.fixture
def folder(tmp_path: Path, photo_paths) -> Path:
    """Three small photos and a smaller copy of the first."""
    lib = tmp_path / "lib"
    for p in photo_paths[:3]:
        small_copy(p, lib / p.name)
    small_copy(photo_paths[0], lib / "copy" / "small.jpg", max_side=160)
    return lib


@pytest.mark.parametrize("where", ["before", "after"])
def test_data_dir_before_or_after_the_command(capsys, tmp_path, folder, default_data, where) -> None:
    data = tmp_path / "mine"
    option = ["--data-dir", str(data)]
    args = [*option, "index", str(folder)] if where == "before" else ["index", str(folder), *option]
    code, _, err = cli(capsys, *args)
    assert code == 0, err
    assert (data / "catalog.sqlite3").is_file()
    assert not default_data.exists()
    args = [*option, "duplicates", "--json"] if where == "before" else ["duplicates", "--json", *option]
    code, out, err = cli(capsys, *args)
    assert code == 0, err
    assert len(json.loads(out)["groups"]) == 1


def test_data_dir_after_the_command_wins(capsys, tmp_path, folder, default_data) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    code, _, err = cli(capsys, "--data-dir", str(first), "index", str(folder), "--data-dir", str(second))
    assert code == 0, err
    assert (second / "catalog.sqlite3").is_file() and not first.exists() and not default_data.exists()


@pytest.mark.parametrize("where", ["before", "after"])
def test_json_before_or_after_the_command(capsys, tmp_path, folder, default_data, where) -> None:
    data = str(tmp_path / "d")
    args = ["--json", "index", str(folder), "--data-dir", data] if where == "before" else [
        "index", str(folder), "--data-dir", data, "--json"]
    code, out, err = cli(capsys, *args)
    assert code == 0, err
    assert json.loads(out)["added"] == 4
    query = str(folder / "copy" / "small.jpg")
    args = ["--json", "similar", query, "--data-dir", data] if where == "before" else [
        "similar", query, "--data-dir", data, "--json"]
    code, out, err = cli(capsys, *args)
    assert code == 0, err
    assert json.loads(out)["query"] == query


@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_before_or_after_the_command(capsys, tmp_path, folder, default_data, where) -> None:
    data = str(tmp_path / "d")
    code, _, err = cli(capsys, "index", str(folder), "--data-dir", data)
    assert code == 0 and "index: " in err  # progress without --quiet
    (folder / "new.jpg").write_bytes((folder / "copy" / "small.jpg").read_bytes())
    args = ["-q", "index", str(folder), "--data-dir", data] if where == "before" else [
        "index", str(folder), "--data-dir", data, "--quiet"]
    code, out, err = cli(capsys, *args)
    assert code == 0 and "added 1" in out
    assert err == ""


@pytest.mark.parametrize("k", ["0", "-5"])
def test_k_below_one_is_refused(capsys, tmp_path, folder, k) -> None:
    data = str(tmp_path / "d")
    cli(capsys, "index", str(folder), "--data-dir", data, "-q")
    code, out, err = cli(capsys, "similar", str(folder / "copy" / "small.jpg"), "-k", k, "--data-dir", data)
    assert code == 1 and out == ""
    assert err == f"imgfinder similar: error: argument -k: k must be >= 1 (got {k}) (see 'imgfinder similar --help')\n"


def test_min_score_takes_percent_or_fraction(capsys, tmp_path, folder) -> None:
    data = str(tmp_path / "d")
    cli(capsys, "index", str(folder), "--data-dir", data, "-q")
    query = str(folder / "copy" / "small.jpg")
    results = {}
    for value in ("0.9", "90", "90%"):
        code, out, err = cli(capsys, "similar", query, "--min-score", value, "--data-dir", data, "--json")
        assert code == 0, err
        results[value] = json.loads(out)["results"]
    assert results["0.9"] == results["90"] == results["90%"]
    assert results["0.9"] and all(r["score"] >= 0.9 for r in results["0.9"])
    code, out, _ = cli(capsys, "similar", query, "--data-dir", data, "--json")
    assert len(json.loads(out)["results"]) > len(results["0.9"])  # the threshold did drop some
    # The text output prints the same scores as percentages.
    code, out, _ = cli(capsys, "similar", query, "--min-score", "90%", "--data-dir", data)
    printed = [float(m) for m in re.findall(r"(\d+\.\d)%", out)]
    assert printed == [round(r["score"] * 100, 1) for r in results["0.9"]]
    code, _, err = cli(capsys, "similar", query, "--min-score", "150", "--data-dir", data)
    assert code == 1 and "above 100%" in err


def test_similar_says_when_there_is_nothing_to_compare_with(capsys, tmp_path, photo_paths) -> None:
    """A library whose only files are unreadable, or whose one photo is the query itself,
    used to answer with silence."""
    lib, data = tmp_path / "lib", str(tmp_path / "d")
    (lib / "broken").mkdir(parents=True)
    (lib / "broken" / "a.jpg").write_bytes(b"not a jpeg")
    query = small_copy(photo_paths[0], tmp_path / "query.jpg")
    code, _, _ = cli(capsys, "index", str(lib), "--data-dir", data, "-q")
    assert code == 2  # one file could not be read
    code, out, err = cli(capsys, "similar", str(query), "--data-dir", data)
    assert code == 0 and out == ""
    assert "nothing to compare" in err and "query.jpg" in err
    code, out, _ = cli(capsys, "similar", str(query), "--data-dir", data, "--json")
    assert json.loads(out)["results"] == []  # machines get the plain empty list
    small_copy(photo_paths[0], lib / "only.jpg")
    cli(capsys, "index", str(lib), "--data-dir", data, "-q")
    code, out, err = cli(capsys, "similar", str(lib / "only.jpg"), "--data-dir", data)
    assert code == 0 and out == "" and "nothing to compare" in err
    code, out, err = cli(capsys, "similar", str(query), "--data-dir", data)
    assert "only.jpg" in out and "nothing to compare" not in err


def test_similar_on_a_folder_says_it_is_a_folder(capsys, tmp_path, folder) -> None:
    code, out, err = cli(capsys, "similar", str(folder), "--data-dir", str(tmp_path / "d"))
    assert code == 1 and out == ""
    assert "is a folder" in err and "no such photo" not in err
    assert f"imgfinder index {folder}" in err  # what to do instead


def test_duplicates_and_similar_on_an_empty_library_explain_alike(capsys, tmp_path, folder) -> None:
    data = str(tmp_path / "d")
    dup_code, dup_out, dup_err = cli(capsys, "duplicates", "--data-dir", data)
    sim_code, _, sim_err = cli(capsys, "similar", str(folder / "copy" / "small.jpg"), "--data-dir", data)
    assert dup_code == sim_code == 1
    assert dup_out == ""
    for err in (dup_err, sim_err):
        assert "nothing indexed yet" in err and "imgfinder index FOLDER" in err
    code, out, err = cli(capsys, "duplicates", "--data-dir", data, "--json")
    assert code == 1 and out == "" and "nothing indexed yet" in err


def test_index_of_a_folder_without_photos_says_so(capsys, tmp_path) -> None:
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "notes.txt").write_text("no photos here")
    code, out, err = cli(capsys, "index", str(empty), "--data-dir", str(tmp_path / "d"))
    assert code == 0 and "added 0" in out
    assert f"no photos found in {empty}" in err
    assert ".jpg" in err and ".png" in err and ".webp" in err  # which files are read


def test_unknown_option_after_the_command_is_named_with_that_commands_help(capsys, tmp_path) -> None:
    code, out, err = cli(capsys, "index", str(tmp_path), "--frobnicate")
    assert code == 1 and out == ""
    assert err == "imgfinder index: error: unrecognized arguments: --frobnicate (see 'imgfinder index --help')\n"
    code, _, err = cli(capsys, "duplicates", "--min-score", "0.9")
    assert code == 1 and err.startswith("imgfinder duplicates: error: ") and err.count("\n") == 1
    code, _, err = cli(capsys, "--frobnicate", "index", str(tmp_path))  # before the command: the top level's
    assert code == 1 and err.startswith("imgfinder: error: ") and "(see 'imgfinder --help')" in err


@pytest.mark.parametrize("args", [
    ["duplicates", "--threshold", "150"], ["similar", "x.jpg", "-k", "0"], ["index", "--bogus", "."],
    ["duplicates", "--trash", "--move-to", "elsewhere"], ["index", ".", "--min-size", "12zz"], ["frobnicate"],
])
def test_every_usage_error_is_one_line(capsys, tmp_path, args) -> None:
    code, out, err = cli(capsys, *args, "--data-dir", str(tmp_path / "d"))
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and ": error: " in err and "usage:" not in err, err


def test_help_shows_the_data_folder_and_every_environment_variable(capsys, monkeypatch) -> None:
    monkeypatch.delenv("IMGFINDER_DATA_DIR", raising=False)
    from imgfinder.core.library import default_data_dir

    code, out, _ = cli(capsys, "--help")
    assert code == 0
    flat = " ".join(out.split())  # argparse wraps long lines
    assert str(default_data_dir()) in flat
    used = set()
    for path in (REPO / "imgfinder").rglob("*.py"):
        used |= set(re.findall(r"IMGFINDER_[A-Z_]+", path.read_text(encoding="utf-8")))
    assert {"IMGFINDER_DATA_DIR", "IMGFINDER_MODEL_HEAD"} <= used
    for name in sorted(used):
        assert re.search(rf"^\s+{name}\s+\S", out, re.M), f"{name} is not explained in --help"


def test_help_shows_the_data_folder_chosen_by_the_environment(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("IMGFINDER_DATA_DIR", str(tmp_path / "elsewhere"))
    code, out, _ = cli(capsys, "index", "--help")
    assert code == 0 and str(tmp_path / "elsewhere") in " ".join(out.split())


@pytest.mark.parametrize("command", ["index", "similar", "duplicates"])
def test_each_command_has_a_description(capsys, command) -> None:
    code, out, _ = cli(capsys, command, "--help")
    assert code == 0
    head = out.split("positional arguments:")[0].split("options:")[0]
    paragraphs = [p for p in head.strip().split("\n\n") if p.strip()]
    assert len(paragraphs) >= 2, out  # the usage, then what the command does


def test_gui_help_offers_no_output_options(capsys) -> None:
    code, out, _ = cli(capsys, "gui", "--help")
    assert code == 0 and "--data-dir" in out
    assert "--json" not in out and "--quiet" not in out
    code, _, err = cli(capsys, "gui", "--json")
    assert code == 1 and "--json" in err
    code, _, err = cli(capsys, "--quiet", "gui")
    assert code == 1 and "desktop app" in err


def test_threshold_takes_percent_or_fraction_too(capsys, tmp_path, folder) -> None:
    data = str(tmp_path / "d")
    cli(capsys, "index", str(folder), "--data-dir", data, "-q")
    outputs = []
    for value in ("0.95", "95", "95%"):
        code, out, err = cli(capsys, "duplicates", "--threshold", value, "--data-dir", data, "--json")
        assert code == 0, err
        outputs.append(json.loads(out))
    assert outputs[0] == outputs[1] == outputs[2] and outputs[0]["threshold"] == 0.95
    code, _, err = cli(capsys, "duplicates", "--threshold", "50%", "--data-dir", data)
    assert code == 1 and f"between {DEFAULT_FLOOR * 100:g}% and 100%" in err


def test_index_says_what_it_left_out_so_the_numbers_add_up(capsys, tmp_path, folder: Path) -> None:
    (folder / ".hidden").mkdir()
    small_copy(next(folder.glob("*.jpg")), folder / ".hidden" / "secret.jpg", max_side=64)
    (folder / "._IMG_0001.jpg").write_bytes(b"\x00\x05\x16\x07AppleDouble")
    (folder / "notes.txt").write_text("not a photo")
    code, out, err = cli(capsys, "index", str(folder), "--data-dir", str(tmp_path / "d"))
    assert code == 0, err
    assert "left out 1 hidden folder, 1 AppleDouble file, 1 file that is not a photo" in out
    code, out, _ = cli(capsys, "index", str(folder), "--data-dir", str(tmp_path / "d"), "--json")
    assert json.loads(out)["skipped"] == {"appledouble": 1, "hidden_folder": 1, "not_a_photo": 1}


def test_the_gui_entry_point_names_itself_in_its_usage(capsys, monkeypatch) -> None:
    """``imgfinder-gui --help`` and its errors say ``imgfinder-gui``: a usage line copied from
    it works (it said ``imgfinder gui``)."""
    from imgfinder import cli as app

    monkeypatch.setattr("sys.argv", ["imgfinder-gui", "--bogus"])
    with pytest.raises(SystemExit) as stop:
        app.gui_main()
    assert stop.value.code == 1
    assert capsys.readouterr().err == "imgfinder-gui: error: unrecognized arguments: --bogus (see 'imgfinder-gui --help')\n"
    monkeypatch.setattr("sys.argv", ["imgfinder-gui", "--help"])
    with pytest.raises(SystemExit):
        app.gui_main()
    assert capsys.readouterr().out.startswith("usage: imgfinder-gui [-h] [--data-dir FOLDER] [PATH ...]")


def test_index_says_it_takes_folders_or_photos(capsys, tmp_path, folder) -> None:
    code, out, _ = cli(capsys, "index", "--help")
    words = " ".join(out.split())
    assert "PATH [PATH ...]" in words and "or single photos" in words and "FOLDER [FOLDER" not in words
    photo = next(folder.rglob("*.jpg"))
    code, out, _ = cli(capsys, "index", str(photo), "--data-dir", str(tmp_path / "d"))
    assert code == 0 and out.startswith("added 1,")
    code, _, err = cli(capsys, "index", str(tmp_path / "nope.jpg"), "--data-dir", str(tmp_path / "d"))
    assert code == 1 and "no such folder or photo" in err


def test_similar_lists_a_file_once_with_its_identical_copies(capsys, tmp_path, photo_paths) -> None:
    """Issue #22: the same file at two paths was two results. Byte-identical files are one
    result naming the other paths (text and JSON); a re-saved copy stays its own result."""
    lib, data = tmp_path / "lib", str(tmp_path / "d")
    (lib / "backup").mkdir(parents=True)
    first = small_copy(photo_paths[1], lib / "beach.jpg")
    shutil.copy2(first, lib / "backup" / "beach.jpg")
    small_copy(photo_paths[2], lib / "other.jpg")
    cli(capsys, "index", str(lib), "--data-dir", data, "-q")
    query = small_copy(photo_paths[1], tmp_path / "query.jpg", max_side=200)
    code, out, _ = cli(capsys, "similar", str(query), "--data-dir", data, "--json")
    results = json.loads(out)["results"]
    assert code == 0 and len(results) == 2, results
    same = [r for r in results if r["same_files"]]
    assert len(same) == 1
    assert {same[0]["path"], *same[0]["same_files"]} == {str(lib / "beach.jpg"), str(lib / "backup" / "beach.jpg")}
    code, out, _ = cli(capsys, "similar", str(query), "--data-dir", data)
    assert "(and 1 identical: " in out and len(out.strip().splitlines()) == 2, out
