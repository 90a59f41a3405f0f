"""The scoring of benchmarks/copies_hard.py on tiny hand-made groups (no photos, no CLI)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "copies_hard.py"
_spec = importlib.util.spec_from_file_location("copies_hard", _PATH)
assert _spec is not None and _spec.loader is not None
ch = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("copies_hard", ch)
_spec.loader.exec_module(ch)

EDITS = ("pad10", "blur", "grey")


def rec(path: str, family: str | None, edit: str | None) -> dict:
    return {"path": path, "family": family, "edit": edit}


# Two originals A and B with three copies each, and two photos that are nobody's copy.
RECORDS = [
    rec("A", "a", "original"), rec("A.pad", "a", "pad10"), rec("A.blur", "a", "blur"), rec("A.grey", "a", "grey"),
    rec("B", "b", "original"), rec("B.pad", "b", "pad10"), rec("B.blur", "b", "blur"), rec("B.grey", "b", "grey"),
    rec("X", None, None), rec("Y", None, None),
]


def group(*paths: str, keep: str | None = None) -> dict:
    return {"paths": list(paths), "keep": keep or paths[0], "kind": "copies"}


def test_perfect_groups_score_one():
    groups = [group("A", "A.pad", "A.blur", "A.grey"), group("B", "B.pad", "B.blur", "B.grey")]
    s = ch.score(RECORDS, groups, EDITS)
    assert s["true_pairs"] == 12 and s["grouped_pairs"] == 12
    assert s["precision"] == 1.0 and s["recall"] == 1.0
    assert s["false_groups"] == 0 and s["false_pairs"] == 0
    assert all(e["recall"] == 1.0 and e["pairs"] == 2 for e in s["per_edit"].values())
    assert s["keeper"]["accuracy"] == 1.0 and s["keeper"]["original_kept"] == 2
    assert all(e["copy_kept_instead"] == 0 for e in s["keeper"]["per_edit"].values())


def test_missed_copy_lowers_recall_of_its_edit_only():
    groups = [group("A", "A.pad", "A.blur"), group("B", "B.pad", "B.blur", "B.grey")]
    s = ch.score(RECORDS, groups, EDITS)
    assert s["recall"] == pytest.approx(9 / 12)
    assert s["precision"] == 1.0
    assert s["per_edit"]["grey"]["recall"] == 0.5
    assert s["per_edit"]["pad10"]["recall"] == 1.0
    assert s["false_groups"] == 0


def test_copies_grouped_without_their_original():
    # the original's pairs are missed, but grey and blur were found together: a true pair
    groups = [group("A.grey", "A.blur")]
    s = ch.score(RECORDS, groups, EDITS)
    assert s["recall"] == pytest.approx(1 / 12)
    assert s["per_edit"]["grey"]["recall"] == 0.0
    assert s["keeper"]["groups_with_original"] == 0 and s["keeper"]["groups_without_original"] == 1
    assert s["keeper"]["accuracy"] is None


def test_two_originals_in_one_group_is_one_false_group():
    groups = [group("A", "A.pad", "B", "B.pad")]
    s = ch.score(RECORDS, groups, EDITS)
    assert s["false_groups"] == 1
    assert s["grouped_pairs"] == 6 and s["false_pairs"] == 4
    assert s["precision"] == pytest.approx(2 / 6)
    assert s["false_group_examples"] and len(s["false_group_examples"][0]) == 4


def test_photos_of_nobody_grouped_are_false_even_alone():
    s = ch.score(RECORDS, [group("X", "Y")], EDITS)
    assert s["false_groups"] == 1 and s["precision"] == 0.0
    # a file the benchmark did not make counts as a different photo too
    s = ch.score(RECORDS, [group("A", "elsewhere.jpg")], EDITS)
    assert s["false_groups"] == 1


def test_no_groups_no_truth():
    records = [rec("X", None, None), rec("Y", None, None)]
    s = ch.score(records, [], EDITS)
    assert s["precision"] is None and s["recall"] is None and s["false_groups"] == 0
    assert s["per_edit"]["pad10"]["recall"] is None


def test_keeper_per_edit_counts_the_copy_kept_over_its_original():
    groups = [
        group("A", "A.pad", "A.blur", "A.grey", keep="A.pad"),
        group("B", "B.pad", "B.blur", "B.grey", keep="B"),
    ]
    s = ch.score(RECORDS, groups, EDITS)
    k = s["keeper"]
    assert k["original_kept"] == 1 and k["accuracy"] == 0.5
    assert k["per_edit"]["pad10"] == {"groups": 2, "copy_kept_instead": 1, "accuracy": 0.5}
    assert k["per_edit"]["blur"]["accuracy"] == 1.0


def test_reference_run_original_stays_and_only_original_left():
    groups = [group("A", "A.pad", "A.blur", keep="A.pad"), group("B", "B.pad", "B.blur", keep="B")]
    # the clean-up would move every file but the listed keeper and the reference (originals)
    moved = {"A.blur", "B.pad", "B.blur"}
    s = ch.score(RECORDS, groups, EDITS, reference_groups=groups, moved=moved)
    ref = s["reference"]
    assert ref["original_moved"] == 0 and ref["reference_kept"] == 1.0
    assert ref["only_original_left"] == 1  # group B; group A keeps A and A.pad
    assert ref["only_original_left_rate"] == 0.5
    assert ref["per_edit"]["pad10"]["copy_left"] == 1
    assert ref["per_edit"]["blur"]["copy_left"] == 0
    # an original moved is counted
    s = ch.score(RECORDS, groups, EDITS, reference_groups=groups, moved={"A", "A.blur"})
    assert s["reference"]["original_moved"] == 1 and s["reference"]["reference_kept"] == 0.5


def test_normalise_groups_and_moved_paths_read_the_cli_json(tmp_path):
    a, b = os.path.realpath(tmp_path / "a.jpg"), os.path.realpath(tmp_path / "b.jpg")
    out = {"threshold": 0.85, "groups": [{"kind": "copies", "files": [
        {"path": b, "keep": False}, {"path": a, "keep": True}]}],
        "action": {"files": [{"path": b, "size": 1, "group": 1}], "moved": []}}
    groups = ch.normalise_groups(out)
    assert groups == [{"paths": [b, a], "keep": a, "kind": "copies"}]
    assert ch.moved_paths(out) == {b}
    assert ch.moved_paths({"groups": []}) == set()


def test_false_groups_are_broken_down_by_what_they_hold():
    records = [
        {"path": "s1", "family": None, "edit": None, "kind": "shot"},
        {"path": "s2", "family": None, "edit": None, "kind": "shot"},
        {"path": "m", "family": None, "edit": None, "kind": "mirror_of_other_shot"},
        {"path": "b1", "family": None, "edit": None, "kind": "burst"},
        {"path": "b2", "family": None, "edit": None, "kind": "burst"},
        {"path": "b3", "family": None, "edit": None, "kind": "burst"},
        {"path": "b4", "family": None, "edit": None, "kind": "burst"},
    ]
    groups = [group("b1", "b2"), group("s1", "m"), group("b3", "b4"), group("s1", "s2")]
    s = ch.score(records, groups, EDITS)
    assert s["false_groups"] == 4
    assert s["false_group_kinds"] == {"burst": 2, "mirror_of_other_shot+shot": 1, "shot": 1}
    assert list(s["false_group_kinds"]) == ["burst", "mirror_of_other_shot+shot", "shot"]
    assert ch.score(RECORDS, [group("A", "X")], EDITS)["false_group_kinds"] == {"copy+other": 1}
