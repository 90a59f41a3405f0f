"""``imgfinder index`` killed (SIGKILL: no clean-up runs) at chosen and at random moments;
the next ``index`` must succeed and leave the catalog, the duplicates, similar search and
the index folder exactly as a run that was never interrupted.

Chosen moments come from pause points installed in the child process (``_state``): inside
a catalog write transaction, after each file of an index build, just before and just after
the manifest is replaced, and while the previous build's files are being removed; each on
a new data folder and on one that already has an index (of half the photos) being rebuilt.
Random moments are drawn from a seeded generator over the length of an undisturbed run.
"""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path

import pytest
from _state import Child, catalog_rows, cli, copy_state, index_leftovers, make_photos, results, sha256_tree

pytestmark = pytest.mark.timeout(180)

BATCH = ["--batch-size", "4"]  # 5 catalog transactions for the 20 photos
CHOSEN = [  # (pause point, n-th arrival, starting state)
    ("catalog-write", 1, "new"),
    ("catalog-write", 3, "new"),
    ("annoy-saved", 1, "new"),  # the copy index's Annoy file written
    ("npy-saved", 1, "new"),  # ... its ids
    ("npy-saved", 2, "new"),  # ... its vectors
    ("manifest-replace", 1, "new"),  # ... all its files, not yet the manifest
    ("manifest-replaced", 1, "new"),  # copy index done, retrieval index not begun
    ("annoy-saved", 2, "new"),  # in the retrieval index's build
    ("manifest-replace", 2, "new"),
    ("catalog-write", 2, "half"),
    ("npy-saved", 3, "half"),  # rebuilding over an existing index
    ("manifest-replace", 1, "half"),
    ("manifest-replaced", 2, "half"),
    ("cleanup", 1, "half"),  # removing the previous build's files
    ("cleanup", 3, "half"),
]
RANDOM_TRIALS = 12
SEED = 20260512


@pytest.fixture(scope="module")
def world(tmp_path_factory, photo_paths):
    root = tmp_path_factory.mktemp("kill")
    photos = make_photos(root / "photos", photo_paths)
    hashes = sha256_tree(photos)
    clean = root / "clean"
    assert cli("index", photos, *BATCH, data=clean)[0] == 0
    half = root / "half"  # a library with an index of the originals only
    assert cli("index", photos / "orig", data=half)[0] == 0
    query = sorted((photos / "orig").glob("*.jpg"))[0]
    Child(["--version"], root / "work").result()  # the fork server starts (once)
    started = time.monotonic()  # how long an undisturbed child run takes, for the random moments
    Child(["index", str(photos), *BATCH, "--data-dir", str(root / "timed")], root / "work").result()
    duration = time.monotonic() - started
    yield {
        "root": root, "photos": photos, "query": query, "half": half, "duration": duration,
        "rows": catalog_rows(clean), "results": results(clean, query),
    }
    assert sha256_tree(photos) == hashes


def _trial(world, data: Path, kill) -> None:
    child = Child(["index", str(world["photos"]), *BATCH, "--data-dir", str(data)], world["root"] / "work", **kill)
    if "pause" in kill:
        assert child.paused(), f"the run ended before reaching {kill['pause']}"
    else:
        time.sleep(world["delay"])
    child.kill()
    code, _, err = cli("index", world["photos"], data=data)
    assert code == 0 and "Traceback" not in err, err
    assert catalog_rows(data) == world["rows"]
    assert results(data, world["query"]) == world["results"]
    assert index_leftovers(data) == []
    assert not [p for p in data.rglob("*") if p.name.endswith(".tmp")]


@pytest.mark.parametrize(("point", "nth", "state"), CHOSEN, ids=[f"{p}-{n}-{s}" for p, n, s in CHOSEN])
def test_killed_at_a_chosen_moment(world, tmp_path: Path, point: str, nth: int, state: str) -> None:
    data = tmp_path / "data" if state == "new" else copy_state(world["half"], tmp_path / "data")
    _trial(world, data, {"pause": (point, nth)})


@pytest.mark.parametrize("trial", range(RANDOM_TRIALS))
def test_killed_at_a_random_moment(world, tmp_path: Path, trial: int) -> None:
    rng = random.Random(SEED + trial)
    data = tmp_path / "data" if trial % 2 == 0 else copy_state(world["half"], tmp_path / "data")
    world = {**world, "delay": rng.uniform(0.0, world["duration"])}
    _trial(world, data, {})
    shutil.rmtree(data)
