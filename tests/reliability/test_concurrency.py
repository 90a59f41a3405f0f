"""Several processes on one data folder at once: opening a new one (the catalog is created
by whichever comes first, the others wait for it), and an indexer rebuilding the index
while other processes search it (they see the old or the new index, never a half-written
or temporary file, and may rebuild it themselves: one writer at a time)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from _state import Child, catalog_rows, cli, index_leftovers, make_photos, results, sha256_tree

pytestmark = pytest.mark.timeout(180)

ROUNDS = 10
AT_ONCE = 4
READERS = 3
ROUNDS_WHILE_SEARCHING = 6


@pytest.fixture(scope="module")
def world(tmp_path_factory, photo_paths):
    root = tmp_path_factory.mktemp("concurrency")
    photos = make_photos(root / "photos", photo_paths)
    hashes = sha256_tree(photos)
    query = sorted((photos / "orig").glob("*.jpg"))[0]
    Child(["--version"], root / "work").result()  # the fork server starts (once)
    yield {"root": root, "photos": photos, "query": query}
    assert sha256_tree(photos) == hashes


def test_processes_opening_a_new_data_folder_at_once(world, tmp_path: Path) -> None:
    """Each round, 4 processes index the same 4 photos into the same new data folder."""
    few = tmp_path / "few"
    few.mkdir()
    for p in sorted((world["photos"] / "orig").glob("*.jpg"))[:4]:
        shutil.copy2(p, few / p.name)
    expected = tmp_path / "expected"
    assert cli("index", few, data=expected)[0] == 0
    failures = []
    for round_ in range(ROUNDS):
        data = tmp_path / f"data{round_}"
        start = time.time() + 0.15  # all children wait for the same instant
        children = [
            Child(["index", str(few), "--data-dir", str(data)], tmp_path / "work", start_at=start)
            for _ in range(AT_ONCE)
        ]
        for child in children:
            outcome = child.result()
            if outcome["code"] != 0:
                failures.append(f"round {round_}: exit {outcome['code']}: {outcome['stderr'][-400:]}")
        if not failures:
            assert catalog_rows(data) == catalog_rows(expected)
            assert index_leftovers(data) == []
            if round_ in (0, ROUNDS - 1):
                assert results(data, few / world["query"].name) == results(expected, few / world["query"].name)
        shutil.rmtree(data)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("point", ["annoy-saved", "manifest-replace"])
def test_searches_while_an_indexer_is_stopped_inside_its_index_build(world, tmp_path: Path, point: str) -> None:
    """The indexer is held inside its build of the copy index (its files partly or wholly
    written, the manifest not yet replaced) while a search and a duplicate search run: they
    find the index stale and rebuild it themselves, one after the other. When it goes on,
    the indexer must still finish, and everyone gives the final state's results."""
    data = tmp_path / "data"
    assert cli("index", world["photos"] / "orig", data=data)[0] == 0
    work = tmp_path / "work"
    writer = Child(["index", str(world["photos"]), "--data-dir", str(data)], work, pause=(point, 1))
    assert writer.paused()
    readers = [Child([command, *extra, "--json", "--data-dir", str(data)], work, pause=("build", 1))
               for command, extra in (("similar", [str(world["query"])]), ("duplicates", []))]
    assert all(r.paused() for r in readers)  # each found the index stale and is about to rebuild it
    for r in readers:
        r.resume()
    # Before the fix they rebuilt at once, under the indexer's temporary names; now they wait
    # for the indexer's lock.
    deadline = time.monotonic() + 0.8
    while time.monotonic() < deadline and any(r.process.is_alive() for r in readers):
        time.sleep(0.01)
    writer.resume()
    outcomes = [writer.result(), *(r.result() for r in readers)]
    assert [o["code"] for o in outcomes] == [0, 0, 0], [o["stderr"][-300:] for o in outcomes]
    clean = tmp_path / "clean"
    assert cli("index", world["photos"], data=clean)[0] == 0
    assert outcomes[1]["stdout"] == cli("similar", world["query"], "--json", data=clean)[1]
    assert outcomes[2]["stdout"] == cli("duplicates", "--json", data=clean)[1]
    assert results(data, world["query"]) == results(clean, world["query"])
    assert index_leftovers(data) == []


def test_searches_while_the_index_is_rebuilt(world, tmp_path: Path) -> None:
    """An indexer adds and removes a copy of the query photo over and over (each time the
    catalog changes and both indexes are rebuilt) while three processes search: every
    search succeeds with the results of one of the two states."""
    photos = tmp_path / "photos"
    shutil.copytree(world["photos"] / "orig", photos)
    extra = tmp_path / "extra.jpg"
    shutil.copy2(world["query"], extra)
    data = tmp_path / "data"
    assert cli("index", photos, data=data)[0] == 0
    query = photos / world["query"].name

    def hits(out: str) -> list[str]:
        return [h["path"] for h in json.loads(out)["results"]]

    without = hits(cli("similar", query, "--json", data=data)[1])
    shutil.copy2(extra, photos / "again.jpg")
    assert cli("index", photos, data=data)[0] == 0
    with_copy = hits(cli("similar", query, "--json", data=data)[1])
    assert with_copy != without and str(photos / "again.jpg") in with_copy

    script = tmp_path / "work"
    writer = Child(["index", str(photos), "--data-dir", str(data)], script)  # warm: nothing to do
    assert writer.result()["code"] == 0
    searches: list[dict] = []
    for round_ in range(ROUNDS_WHILE_SEARCHING):
        if round_ % 2 == 0:
            (photos / "again.jpg").unlink()
        else:
            shutil.copy2(extra, photos / "again.jpg")
        start = time.time() + 0.1
        writer = Child(["index", str(photos), "--data-dir", str(data)], script, start_at=start)
        readers = [Child(["similar", str(query), "--json", "--data-dir", str(data)], script, start_at=start + 0.02 * n)
                   for n in range(READERS)]
        outcome = writer.result()
        assert outcome["code"] == 0, outcome["stderr"]
        searches += [r.result() for r in readers]
    # Every photo once, the copy or not: a search that began on the index with the copy may
    # list the rows after the copy is gone (it is then left out, and the others keep the
    # order that index gave them).
    bad = [s for s in searches if s["code"] != 0 or sorted(hits(s["stdout"])) not in (sorted(without), sorted(with_copy))]
    assert not bad, bad[:3]
    assert cli("similar", query, data=data)[0] == 0
    assert index_leftovers(data) == [] and not [p for p in data.rglob("*") if p.name.endswith(".tmp")]
