"""Is one photo an edited copy of another? Proven by matching detail, not by closeness.

A copy is one picture edited (resized, re-compressed, cropped, turned, mirrored,
recoloured, blurred, bordered, watermarked). Two pieces of local evidence prove it:

1. **One exact geometric fit.** SIFT keypoints (``core.keypoints``) are matched (Lowe's
   ratio test), and one affine transform is fitted robustly (OpenCV's USAC/MAGSAC),
   once as the photos are and once with the second photo mirrored (a mirrored copy
   needs no second SIFT pass: a mirrored image's descriptors are a permutation of the
   original's, ``mirror_features``). Many inliers alone do not prove a copy: another shot
   of a flat facade fits a transform with hundreds of inliers. What does is how
   *exactly* it fits: a copy's keypoints reproject with sub-pixel error, another shot's
   (other viewpoint, other lens distortion, a hand-held camera) do not.
2. **Agreement everywhere the two pictures overlap.** Two frames of a car turning on a
   show stand, shot from one tripod, fit exactly through the hall behind it. So the
   second picture is warped onto the first with the fitted transform and compared block
   by block (normalised cross-correlation of lightly blurred blocks: tolerant of colour,
   brightness, contrast, blur and compression). A copy agrees in nearly every block (a
   small watermark costs a few); a burst or a tripod sequence disagrees where the
   subject moved.

The thresholds are derived in ``benchmarks/local_fit_rule.py`` (it prints the
distributions they were chosen from: edited copies against other shots of one product,
barely overlapping crops, the mirror of another shot, a moved subject) and checked,
never fitted, on ``shared/heldout``.

The fitted transform also says which photo holds more of the picture
(``Proof.covers``), used to keep the original (``core.keeper``). Pure numpy and OpenCV.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .keypoints import LocalFeatures

RATIO = 0.8  # Lowe's ratio test: a match must be this much closer than the second best
FIT_PIXELS = 3.0  # MAGSAC's inlier threshold, working-scale pixels
# The exactness rule (benchmarks/local_fit_rule.py prints where these sit):
MIN_INLIERS = 15  # matches within 1 px of the fit
# px: median reprojection error of the matches within FIT_PIXELS. A blurred copy's
# keypoints move a little (median up to 0.82 px, 95 % below 0.6); other hand-held shots
# fit this exactly only when the camera hardly moved, and then fail the agreement below.
MAX_MEDIAN_ERROR = 0.7
MIN_WITHIN_ONE = 0.35  # of the ratio-test matches, the share within 1 px of the fit
MAX_ANISOTROPY = 2.5  # a fit that stretches one axis this much more than the other is no edit
MIN_SCALE = 1 / 12  # linear scale between the two working pictures, either way
# The agreement rule:
BLOCK = 12  # px of the check picture (192 x 192 by area): 16 x 16 blocks
BLUR = 1.2  # px of the check picture: both are smoothed this much before blocks are compared
BLOCK_NCC = 0.5
BLOCK_INSIDE = 0.7  # share of a block that must lie in the overlap for it to be compared  # a block agrees when its blurred NCC is at least this
MIN_AGREEMENT = 0.88  # share of the compared blocks that must agree
MAX_BLOB = 4  # blocks: a disagreeing region this wide both ways is a moved subject
MIN_COVER = 0.5  # one photo's picture lies at least this much inside the other
MIN_BLOCKS = 6  # fewer textured blocks in the overlap: not enough to tell
# A photo with fewer keypoints than this (a smooth gradient, a night sky) has too little
# local detail to prove anything: ``feature_poor``, and the caller decides otherwise.
POOR_KEYPOINTS = 2 * MIN_INLIERS
FLAT_STD = 3.0  # grey levels: a block this flat in both pictures says nothing
CLIPPED = 3.0  # a block within this of black or white in one picture (burnt out) says nothing


def _mirror_permutation() -> np.ndarray:
    """Index map from a SIFT descriptor to the descriptor of the same keypoint in the
    mirrored image: the 4 x 4 cells' columns swap, orientation bins run backwards.

    OpenCV lays the 128 values out as (row, column, bin) of a 4 x 4 x 8 histogram in the
    keypoint's frame; mirroring the image flips the frame's x axis (with the keypoint's
    angle 180 - angle, which OpenCV measures from the mirrored x axis): checked on
    real photos in ``tests/test_copy_proof.py``."""
    perm = np.empty(128, np.int64)
    for r in range(4):
        for c in range(4):
            for o in range(8):
                perm[(r * 4 + c) * 8 + o] = ((3 - r) * 4 + c) * 8 + (-o) % 8
    return perm


MIRROR = _mirror_permutation()


def mirror_features(f: LocalFeatures) -> LocalFeatures:
    """The features the mirrored (left-right) photo would have, without a SIFT pass."""
    xy = f.xy.copy()
    xy[:, 0] = (f.work[0] - 0.5) - xy[:, 0]  # where SIFT finds the mirrored keypoints (measured)
    return LocalFeatures(f.size, f.work, xy, (180.0 - f.angle) % 360.0, f.descriptors[:, MIRROR],
                         np.ascontiguousarray(f.check[:, ::-1]))


@dataclass(frozen=True)
class Fit:
    """The best affine fit from photo a's working picture to photo b's."""

    matrix: np.ndarray  # (2, 3): a's working pixels -> b's (b mirrored first when ``flipped``)
    flipped: bool  # fitted to b's mirrored features (``mirror_features``)
    matches: int  # ratio-test matches
    inliers: int  # matches within 1 px of the fit
    median_error: float  # px, over the matches within FIT_PIXELS, in the coarser picture's pixels
    within_one: float  # share of matches within 1 px
    scale: float  # linear scale, b's working pixels per a's

    @property
    def mirrored(self) -> bool:
        """Is one photo the mirror image of the other? (The direct fit may itself be a
        reflection: a symmetric picture's keypoints also match their mirror images.)"""
        return self.flipped != bool(np.linalg.det(self.matrix[:, :2]) < 0)

    @property
    def exact(self) -> bool:
        return (self.inliers >= MIN_INLIERS and self.median_error <= MAX_MEDIAN_ERROR
                and self.within_one >= MIN_WITHIN_ONE)


@dataclass(frozen=True)
class Proof:
    """The local evidence about one pair (a, b)."""

    fit: Fit | None  # None: too few matches for any fit
    agreement: float  # share of compared blocks that agree (0 without a fit)
    blocks: int  # blocks compared
    covers_a: float  # share of a's picture (its frame aside) that lies inside b
    covers_b: float  # share of b's picture (its frame aside) that lies inside a
    blob: int = 0  # side, in blocks, of the largest region where the two disagree
    # The part of a's (b's) picture outside the other one is flat: a frame the content
    # box missed (bars merging with a dark edge), found through the fit.
    frame_a: bool = False
    frame_b: bool = False

    @property
    def exact_fit(self) -> bool:
        return self.fit is not None and self.fit.exact

    @property
    def copies(self) -> bool:
        """One picture, edited: an exact fit, and agreement over the whole overlap."""
        return (self.exact_fit and self.blocks >= MIN_BLOCKS and self.agreement >= MIN_AGREEMENT
                and self.blob < MAX_BLOB and max(self.covers_a, self.covers_b) >= MIN_COVER)

    def swapped(self) -> Proof:
        """The same evidence stated for (b, a): the fit inverted (it then maps b's working
        pixels, mirrored when ``flipped``, to a's), the coverages exchanged."""
        f = self.fit
        if f is not None:
            inv = np.linalg.inv(np.vstack([f.matrix, [0.0, 0.0, 1.0]]))[:2]
            f = Fit(inv, f.flipped, f.matches, f.inliers, f.median_error, f.within_one, 1.0 / f.scale)
        return Proof(f, self.agreement, self.blocks, self.covers_b, self.covers_a, self.blob,
                     self.frame_b, self.frame_a)

    def summary(self) -> dict:
        f = self.fit
        return {
            "copies": self.copies, "inliers": f.inliers if f else 0, "matches": f.matches if f else 0,
            "median_error": round(f.median_error, 3) if f else None,
            "within_one": round(f.within_one, 3) if f else 0.0, "mirrored": bool(f and f.mirrored),
            "agreement": round(self.agreement, 3), "blocks": self.blocks, "blob": self.blob,
            "covers": [round(self.covers_a, 3), round(self.covers_b, 3)],
        }


_MATCHER = None


def _matches(a: LocalFeatures, b: LocalFeatures) -> tuple[np.ndarray, np.ndarray]:
    """Ratio-test matches: (points in a, points in b), float32 (M, 2) each."""
    import cv2

    global _MATCHER
    if a.count < 2 or b.count < 2:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    if _MATCHER is None:
        _MATCHER = cv2.BFMatcher(cv2.NORM_L2)
    pairs = _MATCHER.knnMatch(a.float_descriptors, b.float_descriptors, k=2)
    qi, ti = [], []
    for m in pairs:
        if len(m) == 2 and m[0].distance < RATIO * m[1].distance:
            qi.append(m[0].queryIdx)
            ti.append(m[0].trainIdx)
    return a.xy[qi], b.xy[ti]


def _fit(pa: np.ndarray, pb: np.ndarray, flipped: bool) -> Fit | None:
    import cv2

    if len(pa) < 4:
        return None
    matrix, _ = cv2.estimateAffine2D(pa, pb, method=cv2.USAC_MAGSAC, ransacReprojThreshold=FIT_PIXELS,
                                     maxIters=2000, confidence=0.999)
    if matrix is None:
        return None
    lin = matrix[:, :2]
    sv = np.linalg.svd(lin, compute_uv=False)
    if sv[1] <= 0 or sv[0] / sv[1] > MAX_ANISOTROPY:
        return None
    scale = float(np.sqrt(abs(np.linalg.det(lin))))
    if not MIN_SCALE <= scale <= 1 / MIN_SCALE:
        return None
    err = np.linalg.norm(pa @ lin.T + matrix[:, 2] - pb, axis=1)
    err = err / max(1.0, scale)  # in the coarser picture's pixels
    close = err <= FIT_PIXELS
    within = err <= 1.0
    median = float(np.median(err[close])) if close.any() else float("inf")
    return Fit(matrix.astype(np.float64), flipped, len(pa), int(within.sum()), median,
               float(within.mean()), scale)


def best_fit(a: LocalFeatures, b: LocalFeatures, mb: LocalFeatures | None = None) -> Fit | None:
    """The direct fit when it is exact; else the better of it and the mirrored fit (``mb``:
    b's mirrored features, if already made), the exact one first, then more inliers."""
    direct = _fit(*_matches(a, b), False)
    if direct is not None and direct.exact:
        return direct
    mb = mb if mb is not None else mirror_features(b)
    fits = [f for f in (direct, _fit(*_matches(a, mb), True)) if f is not None]
    if not fits:
        return None
    return max(fits, key=lambda f: (f.exact, f.inliers, -f.median_error))


def _check_matrix(fit: Fit, a: LocalFeatures, b: LocalFeatures) -> np.ndarray:
    """The fit restated from a's check picture to b's (b mirrored when it is ``flipped``), with
    pixel centres as OpenCV's resize places them: x_work = (x_check + 0.5) k - 0.5."""

    def to_work(f: LocalFeatures) -> np.ndarray:
        return resampling_matrix((f.check.shape[1], f.check.shape[0]), f.work)

    full = np.vstack([fit.matrix, [0.0, 0.0, 1.0]])
    return (np.linalg.inv(to_work(b)) @ full @ to_work(a))[:2]


def resampling_matrix(source: tuple[int, int], target: tuple[int, int]) -> np.ndarray:
    """(3, 3): pixels of a ``source``-sized picture -> the same points in it resized to
    ``target`` (w, h), with pixel centres as OpenCV's resize places them:
    x_target = (x_source + 0.5) k - 0.5."""
    kx, ky = target[0] / max(1, source[0]), target[1] / max(1, source[1])
    return np.array([[kx, 0.0, 0.5 * kx - 0.5], [0.0, ky, 0.5 * ky - 0.5], [0.0, 0.0, 1.0]])


def _frame_mask(check: np.ndarray, trim: int = 2) -> np.ndarray:
    """True inside the picture, False on a flat frame (border, letterbox) and on the
    ``trim`` lines along a frame's edge, where resizing blended frame and picture."""
    from .layout import content_box

    h, w = check.shape
    top, bottom, left, right = content_box(check.astype(np.float32))
    top, left = (top + trim if top else 0), (left + trim if left else 0)
    bottom, right = (bottom - trim if bottom < h else h), (right - trim if right < w else w)
    mask = np.zeros(check.shape, bool)
    mask[top:max(top, bottom), left:max(left, right)] = True
    return mask


def agreement(fit: Fit, a: LocalFeatures, b: LocalFeatures) -> tuple[float, int, float, float, int, bool, bool]:
    """(share of agreeing blocks, blocks compared, share of a's picture inside b, share
    of b's picture inside a, side of the largest disagreeing region in blocks), b
    already mirrored when the fit is ``flipped``."""
    import cv2

    m = _check_matrix(fit, a, b)
    h, w = a.check.shape
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    bf = b.check.astype(np.float32)
    # Compare at the coarser picture's resolution: b finer than a is smoothed before it is
    # warped down (no aliasing), a finer than b is smoothed as much as b's upsampling did.
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))  # b's check pixels per a's
    if scale > 1.0:
        bf = cv2.GaussianBlur(bf, (0, 0), 0.6 * scale)
    sigma_a = BLUR * max(1.0, 1.0 / max(scale, 1e-3))
    warped = cv2.warpAffine(bf, m, (w, h), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=-1.0)

    def warp(mask: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        return cv2.warpAffine(mask.astype(np.float32), matrix, size, flags=flags,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0.0) > 0.99

    # Coverage: how much of each picture (frame aside) lies inside the other.
    a_pic, b_pic = _frame_mask(a.check, 0), _frame_mask(b.check, 0)
    covers_a = float((warp(b_pic, m, (w, h)) & a_pic).sum() / max(1, a_pic.sum()))
    inv = cv2.invertAffineTransform(m)
    b_size = (b.check.shape[1], b.check.shape[0])
    # The blocks compared: inside both pictures, away from a frame's blended edge.
    overlap = warp(_frame_mask(b.check), m, (w, h)) & _frame_mask(a.check)
    a_in_b = warp(np.ones(a.check.shape, bool), inv, b_size)
    covers_b = float((warp(a_pic, inv, b_size) & b_pic).sum() / max(1, b_pic.sum()))
    frame_a = _flat_outside(a.check, warp(np.ones(b.check.shape, bool), m, (w, h)))
    frame_b = _flat_outside(b.check, a_in_b)
    # Blurred within the overlap only (normalised convolution): a frame or the world
    # outside the other picture must not bleed into the blocks along the overlap's edge.
    weight = overlap.astype(np.float32)

    def smooth(x: np.ndarray, sigma: float) -> np.ndarray:
        return cv2.GaussianBlur(x * weight, (0, 0), sigma) / np.maximum(cv2.GaussianBlur(weight, (0, 0), sigma), 1e-3)

    ga = smooth(a.check.astype(np.float32), sigma_a)
    gb = smooth(np.where(warped < 0, 0, warped), BLUR)
    rows, cols = h // BLOCK, w // BLOCK
    state = _block_states(ga[:rows * BLOCK, :cols * BLOCK], gb[:rows * BLOCK, :cols * BLOCK],
                          weight[:rows * BLOCK, :cols * BLOCK], rows, cols)
    compared = int(np.count_nonzero(state))
    share = float((state == 1).sum() / compared) if compared else 0.0
    return share, compared, covers_a, covers_b, _largest_blob(state == -1), frame_a, frame_b


FRAME_MIN = 0.04  # share of a picture outside the other from which a flat rest is a frame
FRAME_STD = 4.0  # grey levels: local spread below this is flat


def _flat_outside(check: np.ndarray, inside: np.ndarray) -> bool:
    """Is the part of ``check`` outside ``inside`` (the other picture, warped onto it) at
    least FRAME_MIN of it and flat nearly everywhere (a border or bars)?"""
    import cv2

    outside = ~inside
    if outside.mean() < FRAME_MIN:
        return False
    g = check.astype(np.float32)
    mean = cv2.blur(g, (5, 5))
    spread = np.sqrt(np.maximum(cv2.blur(g * g, (5, 5)) - mean * mean, 0.0))
    return float((spread[outside] < FRAME_STD).mean()) >= 0.95


def _block_states(ga: np.ndarray, gb: np.ndarray, weight: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Per block: 0 not compared (mostly outside the overlap, flat in both pictures, or
    burnt out in one), 1 agrees (weighted NCC >= BLOCK_NCC), -1 disagrees. All blocks at
    once: (rows, BLOCK, cols, BLOCK) views."""

    def blocks(x: np.ndarray) -> np.ndarray:
        return x.reshape(rows, BLOCK, cols, BLOCK)

    wk, pa, pb = blocks(weight), blocks(ga), blocks(gb)
    n = wk.sum(axis=(1, 3))
    safe = np.maximum(n, 1e-6)
    ma = (pa * wk).sum(axis=(1, 3)) / safe
    mb = (pb * wk).sum(axis=(1, 3)) / safe
    da = (pa - ma[:, None, :, None]) * wk
    db = (pb - mb[:, None, :, None]) * wk
    sa = np.sqrt((da * da).sum(axis=(1, 3)) / safe)
    sb = np.sqrt((db * db).sum(axis=(1, 3)) / safe)
    textured = (sa >= FLAT_STD * 0.5) & (sb >= FLAT_STD * 0.5)
    ncc = np.where(textured, (da * db).sum(axis=(1, 3)) / safe / np.maximum(sa * sb, 1e-6), 0.0)
    compared = (n >= BLOCK_INSIDE * BLOCK * BLOCK) & ~((sa < FLAT_STD) & (sb < FLAT_STD))
    compared &= (np.minimum(ma, mb) >= CLIPPED) & (np.maximum(ma, mb) <= 255 - CLIPPED)
    return np.where(compared, np.where(ncc >= BLOCK_NCC, 1, -1), 0).astype(np.int8)


def _largest_blob(disagree: np.ndarray) -> int:
    """The side of the largest compact region of disagreeing blocks: the smaller side of
    the bounding box of its biggest component once gaps of one block are closed (people
    who moved leave rings of disagreeing blocks around them; a line of text is one
    block high and stays so)."""
    import cv2

    if not disagree.any():
        return 0
    closed = cv2.morphologyEx(disagree.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    closed &= cv2.dilate(disagree.astype(np.uint8), np.ones((3, 3), np.uint8))  # closing never grows the region
    n, _, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    return max((int(min(stats[k, cv2.CC_STAT_WIDTH], stats[k, cv2.CC_STAT_HEIGHT])) for k in range(1, n)),
               default=0)


def feature_poor(a: LocalFeatures, b: LocalFeatures) -> bool:
    """Too few keypoints in either photo for the fit to be evidence either way."""
    return min(a.count, b.count) < POOR_KEYPOINTS


def prove(a: LocalFeatures, b: LocalFeatures, diagnose: bool = False) -> Proof:
    """The local evidence that a and b are (or are not) one picture. The agreement is
    measured only after an exact fit (without one they are no copies anyway), or for
    every fit with MIN_INLIERS with ``diagnose`` (the benchmark's distributions)."""
    fit = best_fit(a, b)
    if fit is None or fit.inliers < MIN_INLIERS or not (fit.exact or diagnose):
        return Proof(fit, 0.0, 0, 0.0, 0.0)
    return Proof(fit, *agreement(fit, a, mirror_features(b) if fit.flipped else b))
