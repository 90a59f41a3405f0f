"""Duplicate grouping stays linear however uniform the library: the cheap layout filter
runs first, each photo has a bounded budget of failed layout checks, and the
verification reports progress and can be cancelled. Pictures are generated here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from conftest import FakeEmbedder
from imgfinder.cli import main
from imgfinder.core.catalog import FileRow
from imgfinder.core.duplicates import DuplicateFinder
from imgfinder.core.grouping import (
    MAX_FAILED_CHECKS_PER_PHOTO, MAX_FILTERED_PER_PHOTO, VerificationStats, complete_linkage_groups, iter_complete_linkage_groups,
)
from imgfinder.core.layout import FILTER_MIN, Layout, layout_signature, plausible_score, signature_to_bytes
from imgfinder.core.progress import Cancelled, CancelToken, Progress
from imgfinder.model.edits import BENCHMARK_EDITS


def picture(seed: int, size: tuple[int, int] = (360, 270)) -> Image.Image:
    """A photo-like picture: a smooth random background with random shapes on it."""
    rng = np.random.default_rng(seed)
    low = rng.random((6, 8, 3)) * 255
    img = Image.fromarray(low.astype(np.uint8)).resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(img)
    w, h = size
    for _ in range(14):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        r = int(rng.integers(8, 50))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x - r, y - r, x + r, y + r), fill=colour)
    return img.filter(ImageFilter.GaussianBlur(1))


def layout_of(img: Image.Image) -> Layout:
    return Layout(layout_signature(np.asarray(img.convert("RGB").resize((160, 160), Image.Resampling.BILINEAR))))


def same_vectors(n: int) -> np.ndarray:
    """A perfectly uniform library: every photo at cosine 1 from every other."""
    return np.ones((n, 4), np.float32) / 2


def all_pairs(n: int) -> list[tuple[int, int, float]]:
    return [(i, j, 1.0) for i in range(n) for j in range(i + 1, n)]


# -- the cheap filter ---------------------------------------------------------------------
@pytest.mark.parametrize("edit", sorted(BENCHMARK_EDITS))
def test_cheap_filter_lets_every_edit_through(edit: str) -> None:
    for seed in range(3):
        img = picture(seed)
        score = plausible_score(layout_of(img), layout_of(BENCHMARK_EDITS[edit](img)))
        assert score >= FILTER_MIN, (edit, seed, score)


def test_cheap_filter_stops_different_pictures() -> None:
    layouts = [layout_of(picture(seed)) for seed in range(10, 18)]
    scores = [plausible_score(a, b) for n, a in enumerate(layouts) for b in layouts[n + 1 :]]
    assert np.mean(np.array(scores) < FILTER_MIN) >= 0.8, sorted(scores)


# -- the bounded verification ----------------------------------------------------------------
def test_failed_checks_per_photo_are_bounded_in_a_uniform_library() -> None:
    n = 40
    calls: list[tuple[int, int]] = []

    def never(i: int, j: int) -> bool:
        calls.append((i, j))
        return False

    stats = VerificationStats()
    groups = complete_linkage_groups(same_vectors(n), all_pairs(n), 0.9, same_picture=never, stats=stats)
    assert groups == []
    assert stats.considered == n * (n - 1) // 2
    assert stats.checked == len(calls) <= n * MAX_FAILED_CHECKS_PER_PHOTO // 2
    assert max(stats.checks_per_row.values()) <= MAX_FAILED_CHECKS_PER_PHOTO
    assert stats.skipped == stats.considered - stats.checked
    # Without the bound every pair is checked: quadratic.
    unbounded = VerificationStats()
    complete_linkage_groups(same_vectors(n), all_pairs(n), 0.9, same_picture=never, max_failed=n, stats=unbounded)
    assert unbounded.checked == n * (n - 1) // 2


def test_cheap_filter_runs_first_and_only_survivors_are_checked() -> None:
    n = 12
    checked: list[tuple[int, int]] = []

    def plausible(i: int, j: int) -> bool:
        return (i + j) % 3 == 0

    def same(i: int, j: int) -> bool:
        checked.append((i, j))
        return False

    stats = VerificationStats()
    complete_linkage_groups(same_vectors(n), all_pairs(n), 0.9, same_picture=same, plausible=plausible,
                            max_failed=n, stats=stats)
    assert checked and all(plausible(i, j) for i, j in checked)
    assert stats.filtered == sum(not plausible(i, j) for i, j, _ in all_pairs(n))
    assert stats.checked == len(checked)


def test_cheap_filter_calls_per_photo_are_bounded_too() -> None:
    n = 60
    looked: list[tuple[int, int]] = []

    def clearly_different(i: int, j: int) -> bool:
        looked.append((i, j))
        return False

    stats = VerificationStats()
    complete_linkage_groups(same_vectors(n), all_pairs(n), 0.9, same_picture=lambda i, j: True,
                            plausible=clearly_different, stats=stats)
    assert stats.filtered == len(looked) <= n * MAX_FILTERED_PER_PHOTO // 2 < n * (n - 1) // 2
    assert stats.checked == 0 and stats.skipped == stats.considered - stats.filtered


def test_copies_still_group_and_every_pair_of_a_group_verified() -> None:
    """Three copies among many look-alikes: the copies have the highest cosines, so
    their checks come before any budget is spent, and the group is a verified clique."""
    rng = np.random.default_rng(0)
    n = 30
    v = rng.normal(size=(n, 8)) * 0.05 + 1.0
    v[:3] = v[0] + rng.normal(size=(3, 8)) * 0.001
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    pairs = [(i, j, float(v[i] @ v[j])) for i in range(n) for j in range(i + 1, n)]
    asked: set[tuple[int, int]] = set()

    def same(i: int, j: int) -> bool:
        asked.add((min(i, j), max(i, j)))
        return i < 3 and j < 3

    stats = VerificationStats()
    groups = complete_linkage_groups(v.astype(np.float32), pairs, 0.9, same_picture=same, stats=stats)
    assert groups == [[0, 1, 2]]
    assert {(0, 1), (0, 2), (1, 2)} <= asked
    # Each failed check charges the look-alike in it (photos in a group are exempt), so at
    # most n x budget failures, besides the three checks that made the group.
    assert stats.checked <= 3 + n * MAX_FAILED_CHECKS_PER_PHOTO
    assert stats.failed <= (n - 3) * MAX_FAILED_CHECKS_PER_PHOTO


# -- progress and cancel -----------------------------------------------------------------------
def test_grouping_reports_progress_and_ends_with_the_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    import imgfinder.core.grouping as grouping

    monkeypatch.setattr(grouping, "PROGRESS_SECONDS", 0.0)  # report at every pair
    n = 10
    items = list(iter_complete_linkage_groups(same_vectors(n), all_pairs(n), 0.9, same_picture=lambda i, j: True))
    *reports, groups = items
    assert groups == [list(range(n))]
    assert reports and all(isinstance(p, Progress) and p.stage == "verify" for p in reports)
    assert reports[-1].done == reports[-1].total == n * (n - 1) // 2
    assert len(reports) > 2


def test_grouping_can_be_cancelled_during_the_checks() -> None:
    n = 20
    token = CancelToken()
    calls = []

    def slow_check(i: int, j: int) -> bool:
        calls.append((i, j))
        if len(calls) == 3:
            token.cancel()
        return False

    with pytest.raises(Cancelled):
        complete_linkage_groups(same_vectors(n), all_pairs(n), 0.9, same_picture=slow_check, cancel=token)
    assert len(calls) == 3


def _finder(tmp_path: Path, n_copies: int = 3, n_others: int = 6) -> DuplicateFinder:
    """A finder whose embedding calls everything alike; only the layouts can tell."""
    base = picture(99)
    images = [base] + [BENCHMARK_EDITS[e](base) for e in ("jpeg50", "rot90", "crop80")[: n_copies - 1]]
    images += [picture(200 + s) for s in range(n_others)]
    rows, layouts = [], []
    for i, img in enumerate(images):
        rows.append(FileRow(i, str(tmp_path / f"{i}.jpg"), 1000 + i, 0, f"h{i}", img.width, img.height, None))
        layouts.append(signature_to_bytes(layout_signature(np.asarray(img.convert("RGB").resize((160, 160))))))
    # local=False: the layouts' budgets are under test (no files are written for local features).
    finder = DuplicateFinder(rows, same_vectors(len(rows)), layouts=layouts, local=False)
    finder._pairs = all_pairs(len(rows))
    return finder


def test_finder_iter_groups_yields_progress_then_the_groups(tmp_path: Path) -> None:
    finder = _finder(tmp_path)
    items = list(finder.iter_groups(0.9))
    assert all(isinstance(p, Progress) for p in items[:-1]) and items[0].stage == "verify"
    groups = items[-1]
    assert [sorted(m.row.id for m in g.members) for g in groups] == [[0, 1, 2]]
    assert finder.stats.filtered > 0  # different pictures stopped by the cheap filter
    assert finder.stats.checked < finder.stats.considered
    with pytest.raises(Cancelled):
        token = CancelToken()
        token.cancel()
        list(_finder(tmp_path).iter_groups(0.9, token))


def test_cli_duplicates_prints_verification_progress(capsys, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    base = picture(7)
    base.save(folder / "a.jpg", quality=92)
    BENCHMARK_EDITS["jpeg50"](base).save(folder / "a_copy.jpg", quality=92)
    for s in range(3):
        picture(300 + s).save(folder / f"other{s}.jpg", quality=92)
    data = str(tmp_path / "data")
    assert main(["index", str(folder), "--data-dir", data], embedder_factory=FakeEmbedder) == 0
    capsys.readouterr()
    assert main(["duplicates", "--data-dir", data, "--threshold", "0.8"], embedder_factory=FakeEmbedder) == 0
    _, err = capsys.readouterr()
    assert "verify: " in err, err


# -- the cheap filter asked ahead, many pairs at once ---------------------------------------
def test_vectorised_filter_agrees_with_the_scalar_one() -> None:
    """``plausible_scores`` (stacked products, many pairs) gives ``plausible_score``'s
    score for every pair: edited copies (turned, cropped, re-compressed) and others."""
    from imgfinder.core.layout import ThumbCache, plausible_scores

    images = []
    for seed in range(4):
        img = picture(seed)
        images += [img] + [BENCHMARK_EDITS[e](img) for e in ("rot90", "crop80", "jpeg50", "mirror")
                           if e in BENCHMARK_EDITS]
    layouts = [layout_of(img) for img in images]
    fulls = np.stack([np.clip(lay.full, 0, 255).astype(np.uint8) for lay in layouts])
    first, second = np.triu_indices(len(layouts), 1)
    want = np.array([plausible_score(layouts[i], layouts[j]) for i, j in zip(first, second)])
    got = plausible_scores(fulls, first, second)
    assert (want >= FILTER_MIN).sum() >= 4 * 3 and (want < FILTER_MIN).sum() > 100  # both answers occur
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert ((got >= FILTER_MIN) == (want >= FILTER_MIN)).all()
    # Through a cache filled in two parts, pairs in another order: the same scores.
    cache = ThumbCache(len(fulls))
    cache.fill(np.arange(0, len(fulls), 2), lambda part: fulls[part])
    cache.fill(np.arange(len(fulls)), lambda part: fulls[part])
    np.testing.assert_allclose(plausible_scores(cache, second, first), want, atol=1e-5)


def test_filter_asked_ahead_changes_nothing_but_the_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``plausible_many`` the grouping asks the cheap filter in batches ahead of the
    merges; the groups, the counts and the budgets are those of asking pair by pair, and
    pairs of photos whose budget is spent are not asked at all."""
    n = 50
    rng = np.random.default_rng(4)
    answer = {(i, j): bool(rng.random() < 0.3) for i in range(n) for j in range(i + 1, n)}
    same = {(i, j): bool(rng.random() < 0.5) for i in range(n) for j in range(i + 1, n)}
    scores = rng.uniform(0.9, 1.0, len(answer))
    pairs = [(i, j, float(s)) for (i, j), s in zip(answer, scores)]
    batched: list[int] = []

    def plausible(i: int, j: int) -> bool:
        return answer[(min(i, j), max(i, j))]

    def plausible_many(first: np.ndarray, second: np.ndarray) -> np.ndarray:
        batched.append(len(first))
        return np.array([plausible(i, j) for i, j in zip(first.tolist(), second.tolist())])

    def same_picture(i: int, j: int) -> bool:
        return same[(min(i, j), max(i, j))]

    import imgfinder.core.grouping as grouping

    monkeypatch.setattr(grouping, "PREFETCH", 64)  # several batches
    results = []
    for many in (None, plausible_many):
        stats = VerificationStats()
        groups = complete_linkage_groups(same_vectors(n), pairs, 0.9, same_picture=same_picture,
                                         plausible=plausible, plausible_many=many, stats=stats)
        results.append((groups, stats))
    (g1, s1), (g2, s2) = results
    assert g1 == g2 and g1
    assert (s1.considered, s1.filtered, s1.checked, s1.failed, s1.skipped) == (
        s2.considered, s2.filtered, s2.checked, s2.failed, s2.skipped)
    assert s1.checks_per_row == s2.checks_per_row
    assert s1.skipped > 0  # budgets were spent...
    assert len(batched) > 1 and 0 < sum(batched) < len(pairs)  # ...their photos' pairs not asked ahead


def test_layout_verifier_answers_many_pairs_as_it_answers_one() -> None:
    from imgfinder.core.layout import LayoutVerifier

    images = [picture(seed) for seed in range(3)]
    images += [BENCHMARK_EDITS["rot90"](images[0]), BENCHMARK_EDITS["crop80"](images[1])]
    signatures: list[bytes | None] = [signature_to_bytes(np.clip(layout_of(img).full, 0, 255).astype(np.uint8))
                                      for img in images]
    signatures += [None, b"damaged"]  # no signature / a damaged one: plausible (the embedding's word)
    first, second = np.triu_indices(len(signatures), 1)
    many = LayoutVerifier(signatures)
    got = many.plausible_many(first, second)
    one = LayoutVerifier(signatures)
    want = np.array([one.plausible(i, j) for i, j in zip(first.tolist(), second.tolist())])
    assert (got == want).all() and got.any() and not got.all()
    assert many.filtered == one.filtered
    assert all(many.plausible(i, j) == w for i, j, w in zip(first.tolist(), second.tolist(), want.tolist()))
    # Asked again (a regrouping at another threshold): the cached answers, nothing recomputed.
    import imgfinder.core.layout as layout_module

    calls: list[int] = []
    real = layout_module.plausible_scores

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    layout_module.plausible_scores = counted
    try:
        assert (many.plausible_many(first, second) == want).all() and not calls
    finally:
        layout_module.plausible_scores = real
    assert many.filtered == one.filtered
