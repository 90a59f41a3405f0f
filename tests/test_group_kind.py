"""Every duplicate group says what it is: exact copies, edited copies or burst shots;
different shots taken at different times (or with no capture time) are no group."""

import json
from pathlib import Path

import pytest

from burst_scenes import burst_library
from conftest import FakeEmbedder
from imgfinder.cli import main
from imgfinder.core import group_kind as gk
from imgfinder.core.duplicates import DEFAULT_THRESHOLD
from imgfinder.core.layout import Match


def _m(score: float, coarse: float, scale: float = 1.0, dihedral: int = 0) -> Match:
    return Match(score=score, coarse=coarse, dihedral=dihedral, scale=scale, flat=False)


def test_pair_rules() -> None:
    # A copy lines up to the fine detail; the old verifier's 0.65 is not enough.
    assert gk.is_copy_match(_m(0.95, 0.97)) and gk.is_copy_match(None)
    assert not gk.is_copy_match(_m(0.78, 0.95))  # two hand-held shots a second apart
    # Shots: same framing, same orientation.
    assert gk.is_shots_match(_m(0.5, 0.9, 0.98))
    assert not gk.is_shots_match(_m(0.5, 0.9, 0.7))  # a crop: not one framing
    assert not gk.is_shots_match(_m(0.5, 0.9, 1.0, dihedral=1))  # turned
    assert not gk.is_shots_match(_m(0.5, 0.7)) and not gk.is_shots_match(None)
    t = gk.parse_taken("2024-05-01 10:00:00")
    assert gk.parse_taken("2024-05-01 10:00:01") - t == 1.0
    assert gk.within_moment(t, t + 5) and not gk.within_moment(t, t + 6)
    assert not gk.within_moment(t, None) and not gk.within_moment(None, None)
    assert gk.two_exposures(t, t + 1) and not gk.two_exposures(t, t)
    assert gk.parse_taken(None) is None and gk.parse_taken("2024-05-01") is None
    assert gk.group_kind(["a", "a"]) == "exact" and gk.group_kind(["a", "b"]) == "copies"
    assert gk.group_kind([None, None]) == "copies" and gk.group_kind(["a", "a"], shots=True) == "shots"


@pytest.fixture
def bursts(tmp_path: Path) -> dict[str, Path]:
    return burst_library(tmp_path / "lib")


def _kinds(groups) -> dict[frozenset, str]:
    return {frozenset(Path(m.row.path).stem for m in g.members): g.kind for g in groups}


def test_kinds_of_groups(library, bursts) -> None:
    for _ in library.indexer(batch_size=8, workers=1).run([str(next(iter(bursts.values())).parent)]):
        pass
    finder = library.duplicate_finder()
    kinds = _kinds(finder.groups(DEFAULT_THRESHOLD))
    assert kinds == {
        frozenset({"s1_shot1", "s1_copy"}): "copies",
        frozenset({"s2_shot1", "s2_shot2", "s2_shot3"}): "shots",
        frozenset({"s3_shot1", "s3_shot2"}): "shots",  # still tripod burst: the times say two exposures
        frozenset({"s6_photo", "s6_exact"}): "exact",
    }
    # No capture time (scene 4) or ten minutes apart (scene 5): only similar, no group;
    # and the second shot of scene 1 is never in the copies group of the first.
    without_shots = _kinds(finder.groups(DEFAULT_THRESHOLD, shots=False))
    assert set(without_shots.values()) == {"copies", "exact"} and len(without_shots) == 2
    assert all(g.all_exact == (g.kind == "exact") for g in finder.groups(DEFAULT_THRESHOLD))


def test_copies_group_never_holds_two_shots(library, bursts) -> None:
    """The shots of scene 1 pass the layout verifier's own check (detail NCC ~0.75 >= 0.65):
    before the kinds they were one group of "copies" with the edited copy."""
    for _ in library.indexer(batch_size=8, workers=1).run([str(bursts["s1_shot1"].parent)]):
        pass
    finder = library.duplicate_finder()
    shots = {"s1_shot1", "s1_shot2"}
    i, j = (next(n for n, r in enumerate(finder.rows) if Path(r.path).stem == s) for s in sorted(shots))
    assert finder.verifier.same_picture(i, j)  # what made the old grouping call them copies
    for threshold in (0.80, DEFAULT_THRESHOLD, 0.95):
        for g in finder.groups(threshold):
            stems = {Path(m.row.path).stem for m in g.members}
            if g.kind in ("copies", "exact"):
                assert len(stems & shots) <= 1, stems
                assert len({s.split("_")[0] for s in stems}) == 1


def _cli(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args), embedder_factory=lambda: FakeEmbedder())
    return code, capsys.readouterr().out


def test_cli_lists_shots_by_default_as_the_app_does(capsys, tmp_path: Path, bursts) -> None:
    """Issue #23: the app listed burst shots by default, the CLI only with --shots. Both
    list them now; --no-shots leaves them out."""
    data = str(tmp_path / "data")
    code, _ = _cli(capsys, "index", str(bursts["s1_shot1"].parent), "--data-dir", data, "--json")
    assert code == 0
    code, out = _cli(capsys, "duplicates", "--data-dir", data, "--json", "--no-shots")
    copies_only = json.loads(out)
    assert code == 0 and sorted(g["kind"] for g in copies_only["groups"]) == ["copies", "exact"]
    assert all(g["exact"] == (g["kind"] == "exact") for g in copies_only["groups"])
    for flags in ((), ("--shots",)):
        code, out = _cli(capsys, "duplicates", "--data-dir", data, "--json", *flags)
        with_shots = json.loads(out)
        assert sorted(g["kind"] for g in with_shots["groups"]) == ["copies", "exact", "shots", "shots"]
    burst = next(g for g in with_shots["groups"] if len(g["files"]) == 3)
    assert burst["kind"] == "shots" and {Path(f["path"]).stem for f in burst["files"]} == {"s2_shot1", "s2_shot2", "s2_shot3"}
    code, out = _cli(capsys, "duplicates", "--data-dir", data)
    assert "[shots]" in out and "[copies]" in out and "[exact]" in out and "burst shots" in out
    code, out = _cli(capsys, "duplicates", "--data-dir", data, "--no-shots")
    assert "[shots]" not in out and "[copies]" in out


def test_default_threshold_lives_in_core(tmp_path: Path) -> None:
    from imgfinder import cli
    from imgfinder.core import duplicates

    assert cli.DEFAULT_THRESHOLD is duplicates.DEFAULT_THRESHOLD == 0.75
    source = (Path(cli.__file__).parent.parent / "core" / "settings.py").read_text()
    assert "from ..cli" not in source and "from .duplicates import DEFAULT_THRESHOLD" in source
    from imgfinder.core.settings import Settings

    assert Settings(tmp_path).threshold == duplicates.DEFAULT_THRESHOLD  # the app's and the CLI's default
