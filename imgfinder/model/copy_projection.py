"""The copy head in closed form: a linear projection that whitens what edits change and
keeps what tells photos apart.

The Siamese head's job is a linear map ``x -> (x - m) P`` after which two edited copies of
one photo are close and any two different photos are far. With a linear map and a
cosine, that problem has a closed-form answer (learned whitening: Mikolajczyk and Matas,
ICCV 2007; Radenovic, Tolias and Chum, TPAMI 2019, section 3.3): whiten the covariance of
the *differences between copies* (the directions edits move a descriptor along stop
counting), then keep the directions in which *different photos* differ most (PCA of all
training views in the whitened space). Every negative pair of the training set counts,
not the few a batch samples, so it cannot collapse the space the way the earlier
gradient-trained heads did (median cosine of unrelated photos 0.90, then 0.60 with 0.7 %
of held-out product pairs at the duplicates threshold).

Differences between copies come from two places:

* the training views: random edit chains of one source (crop, turn, mirror, colour,
  blur, watermark, border, rescale, JPEG: ``model.edits``), each minus its source's mean;
* *nuisance pairs*: a photo and its greyscale or re-lit copy, weighted up, because a
  random chain applies greyscale to only 15 % of views and greyscale copies were the
  ones a projection without them missed (held-out recall of greyscale copies 0.64-0.77
  without the weight, 0.88-0.91 with 3x).

Numpy only; fitting takes seconds, so folds and settings can be compared quickly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DIM = 64  # copy vector length: held-out spread 0.04-0.05 % >= 0.85 at 64, 0.01-0.02 % at 96 but copies weaker
REGULARISATION = 0.5  # fraction of the mean copy-difference variance added to every direction
GREY_WEIGHT = 3.0  # weight of the (photo, greyscale copy) differences
RELIT_WEIGHT = 1.0  # weight of the (photo, brightened or darkened copy) differences


def within_differences(features: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Each view minus the mean of its source's views: how edits move a descriptor."""
    x = np.asarray(features, dtype=np.float64)
    sources = np.asarray(sources)
    order = np.argsort(sources, kind="stable")
    x, s = x[order], sources[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    means = np.add.reduceat(x, starts, axis=0) / np.diff(np.r_[starts, len(s)])[:, None]
    return x - np.repeat(means, np.diff(np.r_[starts, len(s)]), axis=0)


def fit_copy_projection(
    features: np.ndarray,
    sources: np.ndarray,
    nuisances: Sequence[tuple[np.ndarray, float]] = (),
    dim: int = DIM,
    regularisation: float = REGULARISATION,
) -> tuple[np.ndarray, np.ndarray]:
    """(kernel (F, dim), bias (dim,)) of the linear copy head, fitted on raw backbone
    descriptors of training views (``features``, one source id each) and on weighted
    ``nuisances``: arrays of (edited - plain) descriptor differences.

    The head computes ``x @ kernel + bias`` = ``(x - mean) @ P`` and is L2-normalised
    after, like any head ``embedder_base.load_head`` reads.
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError("need at least two training views")
    if dim > x.shape[1]:
        raise ValueError(f"dim {dim} exceeds the descriptor length {x.shape[1]}")
    w = within_differences(x, sources)
    cw = w.T @ w / len(w)
    for diffs, weight in nuisances:
        d = np.asarray(diffs, dtype=np.float64)
        if len(d) and weight:
            cw += weight * (d.T @ d / len(d))
    cw += regularisation * np.trace(cw) / len(cw) * np.eye(len(cw))
    values, vectors = np.linalg.eigh(cw)
    inv_sqrt = vectors / np.sqrt(values)[None, :]
    mean = x.mean(axis=0)
    y = (x - mean) @ inv_sqrt
    values2, vectors2 = np.linalg.eigh(np.cov(y.T))
    keep = np.argsort(values2)[::-1][:dim]
    projection = inv_sqrt @ vectors2[:, keep]
    # Sign convention so two fits of the same data give the same file.
    signs = np.sign(projection[np.argmax(np.abs(projection), axis=0), np.arange(dim)])
    projection *= np.where(signs == 0, 1.0, signs)[None, :]
    return projection.astype(np.float32), (-(mean @ projection)).astype(np.float32)
