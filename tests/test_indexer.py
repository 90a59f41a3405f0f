import os
import shutil
from pathlib import Path


from conftest import FakeEmbedder, small_copy
from imgfinder.core.library import Library
from imgfinder.core.progress import CancelToken


def run(lib: Library, roots, cancel=None):
    ix = lib.indexer(batch_size=4, workers=2)
    progress = list(ix.run([str(r) for r in roots], cancel))
    return ix.summary, progress


def test_first_run_indexes_second_run_decodes_nothing(library: Library, small_photos, tmp_path: Path) -> None:
    summary, progress = run(library, [tmp_path / "lib"])
    assert (summary.added, summary.decoded, summary.failed) == (8, 8, 0)
    assert summary.index_rebuilt
    assert any(p.stage == "index" and p.done == 8 for p in progress)
    embedder = library.embedder
    calls = embedder.images
    again, _ = run(library, [tmp_path / "lib"])
    assert (again.unchanged, again.added, again.updated, again.decoded) == (8, 0, 0, 0)
    assert not again.index_rebuilt
    assert embedder.images == calls


def test_changed_removed_and_renamed_files(library: Library, small_photos, tmp_path: Path) -> None:
    run(library, [tmp_path / "lib"])
    changed = small_photos[0]
    small_copy(small_photos[1], changed, max_side=200)  # different content, same name
    os.utime(changed, ns=(1, 1_000_000_000))
    small_photos[2].unlink()
    renamed = small_photos[3].with_name("renamed.jpg")
    small_photos[3].rename(renamed)
    summary, _ = run(library, [tmp_path / "lib"])
    assert summary.updated == 1 and summary.removed == 2 and summary.added == 1
    assert summary.reused == 1 and summary.decoded == 1  # the renamed file kept its embedding
    paths = {r.path for r in library.catalog.rows()}
    assert str(small_photos[2]) not in paths and str(renamed) in paths
    assert summary.index_rebuilt


def test_model_change_reembeds(tmp_path: Path, small_photos) -> None:
    with Library(tmp_path / "d", FakeEmbedder("fake-v1")) as lib:
        run(lib, [tmp_path / "lib"])
    other = FakeEmbedder("fake-v2")
    with Library(tmp_path / "d", other) as lib:
        summary, _ = run(lib, [tmp_path / "lib"])
        assert summary.updated == 8 and other.images == 8
        assert lib.store.manifest().model_id == "fake-v2"


def test_bad_files_reported_and_scan_continues(library: Library, small_photos, tmp_path: Path) -> None:
    lib_dir = tmp_path / "lib"
    (lib_dir / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    data = small_photos[0].read_bytes()
    (lib_dir / "truncated.jpg").write_bytes(data[: len(data) // 4])
    (lib_dir / "empty.png").write_bytes(b"")
    locked = lib_dir / "locked.jpg"
    shutil.copy(small_photos[1], locked)
    locked.chmod(0)
    summary, _ = run(library, [lib_dir])
    reasons = dict(summary.problems)
    assert "empty" in reasons[str(lib_dir / "empty.png")]
    assert str(lib_dir / "corrupt.jpg") in reasons
    assert str(lib_dir / "truncated.jpg") in reasons
    if os.geteuid() != 0:  # root reads anything
        assert "permission" in reasons[str(locked)]
    assert summary.added >= 8
    # A second run does not retry unchanged bad files but still reports them.
    again, _ = run(library, [lib_dir])
    assert again.decoded == 0 and dict(again.problems).keys() == reasons.keys()


def test_cancel_keeps_committed_batches_and_resume_finishes(library: Library, small_photos, tmp_path: Path) -> None:
    token = CancelToken()
    ix = library.indexer(batch_size=2, workers=1)
    for p in ix.run([str(tmp_path / "lib")], token):
        if p.stage == "index" and p.done >= 2:
            token.cancel()
    assert ix.summary.cancelled
    committed = library.catalog.count()
    assert 2 <= committed < 8
    summary, _ = run(library, [tmp_path / "lib"])
    # A batch whose decoded facts were committed but not yet embedded when the cancel came
    # (timing decides whether there is one) is finished as ``resumed``, counted in ``added``.
    assert summary.unchanged >= 2 and summary.unchanged + summary.resumed == committed
    assert summary.added == 8 - summary.unchanged
    assert library.catalog.count() == 8


def test_missing_root_keeps_its_catalog_rows(library: Library, small_photos, tmp_path: Path) -> None:
    run(library, [tmp_path / "lib"])
    shutil.move(tmp_path / "lib", tmp_path / "unplugged")
    summary, _ = run(library, [tmp_path / "lib"])
    assert summary.removed == 0 and library.catalog.count() == 8
    assert summary.problems


def test_similar_and_duplicates(library: Library, small_photos, tmp_path: Path) -> None:
    lib_dir = tmp_path / "lib"
    shutil.copy(small_photos[0], lib_dir / "exact.jpg")
    small_copy(small_photos[1], lib_dir / "smaller.jpg", max_side=160, quality=60)
    run(library, [lib_dir])
    hits = library.similar(str(small_photos[1]), k=3)
    assert hits[0].row.path == str(lib_dir / "smaller.jpg") and hits[0].score > 0.99
    assert str(small_photos[1]) not in [h.row.path for h in hits]  # the query itself is left out
    groups = library.duplicate_finder().groups(0.995)
    as_sets = sorted(sorted(Path(m.row.path).name for m in g.members) for g in groups)
    assert as_sets == sorted([sorted([small_photos[0].name, "exact.jpg"]), sorted([small_photos[1].name, "smaller.jpg"])])
    by_name = {Path(g.keeper.row.path).name: g for g in groups}
    # Larger copy first; exact copies flagged.
    assert by_name[small_photos[1].name].members[1].row.path.endswith("smaller.jpg")
    exact_group = next(g for g in groups if g.all_exact)
    assert {Path(m.row.path).name for m in exact_group.members} == {small_photos[0].name, "exact.jpg"}


def test_ignored_pair_is_not_grouped(library: Library, small_photos, tmp_path: Path) -> None:
    lib_dir = tmp_path / "lib"
    small_copy(small_photos[1], lib_dir / "smaller.jpg", max_side=160, quality=60)
    run(library, [lib_dir])
    assert len(library.duplicate_finder().groups(0.995)) == 1
    a = library.catalog.row_for_path(str(small_photos[1])).hash
    b = library.catalog.row_for_path(str(lib_dir / "smaller.jpg")).hash
    library.catalog.ignore_pair(a, b)
    assert library.duplicate_finder().groups(0.995) == []


def test_index_file_is_replaced_atomically_and_validated(library: Library, small_photos, tmp_path: Path) -> None:
    run(library, [tmp_path / "lib"])
    descriptor = library.describe_file(str(small_photos[0]))
    library.close()
    for store in (library.store, library.retrieval_store):  # the copy and the similar-search index
        assert not list(store.directory.glob("*.tmp"))
        store.ids_path.write_bytes(b"garbage")
        assert store.load() is None  # inconsistent files are detected, not trusted
    reopened = Library(library.data_dir, library.embedder)
    library.retrieval_store.manifest_path.unlink()
    assert reopened.similar_to_descriptor(descriptor, 1)[0].row.path == str(small_photos[0])
    assert len(reopened.index()) == len(small_photos)  # rebuilt too
    reopened.close()


def test_forget_folder_drops_only_its_rows(library: Library, small_photos, tmp_path: Path) -> None:
    lib_dir = tmp_path / "lib"
    sub = lib_dir / "sub"
    sub.mkdir()
    shutil.copy(small_photos[0], sub / "a.jpg")
    (tmp_path / "lib-other").mkdir()
    shutil.copy(small_photos[1], tmp_path / "lib-other" / "b.jpg")  # shares the prefix "lib"
    run(library, [lib_dir, tmp_path / "lib-other"])
    assert library.forget_folder(str(sub)) == 1
    assert library.forget_folder(str(lib_dir)) == 8
    assert [Path(r.path).name for r in library.catalog.rows()] == ["b.jpg"]
    assert sub.joinpath("a.jpg").exists()  # the photos themselves are untouched


def test_trashed_files_are_neither_duplicates_nor_results(library: Library, small_photos, tmp_path: Path) -> None:
    lib_dir = tmp_path / "lib"
    shutil.copy(small_photos[0], lib_dir / "copy.jpg")
    run(library, [lib_dir])
    assert len(library.duplicate_finder().groups(0.995)) == 1
    trash = tmp_path / "xdg" / "Trash" / "files"
    trash.mkdir(parents=True)
    shutil.move(lib_dir / "copy.jpg", trash / "copy.jpg")
    library.catalog.rename_path(str(lib_dir / "copy.jpg"), str(trash / "copy.jpg"))  # as the app's trash does
    assert library.duplicate_finder().groups(0.995) == []
    assert all("Trash" not in h.row.path for h in library.similar(str(small_photos[0]), k=8))


def test_unlistable_subfolder_keeps_its_rows(library: Library, small_photos, tmp_path: Path, monkeypatch) -> None:
    sub = tmp_path / "lib" / "sub"
    sub.mkdir()
    shutil.copy(small_photos[0], sub / "inner.jpg")
    run(library, [tmp_path / "lib"])
    assert library.catalog.count() == 9
    real_scandir = os.scandir

    def flaky_scandir(path):
        if os.fspath(path) == str(sub):
            raise PermissionError(13, "Permission denied", str(sub))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", flaky_scandir)
    summary, _ = run(library, [tmp_path / "lib"])
    assert summary.removed == 0 and library.catalog.count() == 9
    assert any("cannot list folder" in reason for _, reason in summary.problems)


def test_summary_counts_what_was_skipped(library: Library, small_photos, tmp_path: Path) -> None:
    lib_dir = tmp_path / "lib"
    (lib_dir / ".thumbs").mkdir()
    shutil.copy(small_photos[0], lib_dir / ".thumbs" / "t.jpg")
    (lib_dir / "._x.jpg").write_bytes(b"\0\5\26\7")
    (lib_dir / "readme.txt").write_text("hi")
    summary, _ = run(library, [lib_dir])
    assert summary.added == 8
    assert summary.as_dict()["skipped"] == {"appledouble": 1, "hidden_folder": 1, "not_a_photo": 1}
