"""Scores, calibration and threshold choice, shared by training and evaluation."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score


def binary_report(y_true, p_fake, threshold: float) -> dict:
    """accuracy, balanced accuracy, ROC AUC, real-acc and fake-acc at `threshold` (fake = 1)."""
    y = np.asarray(y_true).astype(int)
    p = np.asarray(p_fake, dtype=np.float64)
    pred = (p >= threshold).astype(int)
    out = {"n": int(len(y)), "n_real": int((y == 0).sum()), "n_fake": int((y == 1).sum())}
    out["accuracy"] = float((pred == y).mean()) if len(y) else None
    real_acc = float((pred[y == 0] == 0).mean()) if (y == 0).any() else None
    fake_acc = float((pred[y == 1] == 1).mean()) if (y == 1).any() else None
    out["real_acc"], out["fake_acc"] = real_acc, fake_acc
    both = real_acc is not None and fake_acc is not None
    out["balanced_accuracy"] = (real_acc + fake_acc) / 2 if both else None
    out["auc"] = roc_auc(y, p) if both else None
    return out


def per_source(y, p, sources, threshold: float) -> dict[str, dict]:
    """binary_report for each source's pictures."""
    y, p, sources = np.asarray(y), np.asarray(p), np.asarray(sources)
    return {src: binary_report(y[sources == src], p[sources == src], threshold)
            for src in sorted(set(sources.tolist()))}


def roc_auc(y, p) -> float:
    return float(roc_auc_score(y, p))


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


def logit(p):
    """The inverse of sigmoid, with p clipped to [1e-7, 1 - 1e-7] so that 0 and 1 stay finite."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def nll(y, logits, temperature: float) -> float:
    z = np.asarray(logits, dtype=np.float64) / temperature
    y = np.asarray(y, dtype=np.float64)
    # log(1 + e^z) - y z, computed stably
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def fit_temperature(y, logits) -> float:
    """Temperature scaling (Guo et al. 2017): the T minimising validation NLL of sigmoid(z / T)."""
    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 400))
    losses = [nll(y, logits, t) for t in grid]
    best = int(np.argmin(losses))
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    fine = np.linspace(lo, hi, 101)
    return float(fine[int(np.argmin([nll(y, logits, t) for t in fine]))])


def expected_calibration_error(y, p, bins: int = 15) -> float:
    """ECE: the gap between confidence and accuracy, averaged over equal-width bins of p_fake."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            ece += m.mean() * abs(p[m].mean() - y[m].mean())
    return float(ece)


def choose_threshold(y, p, tolerance: float = 0.005) -> float:
    """The threshold that maximises balanced accuracy on (validation) data.

    Among thresholds within `tolerance` of the best, the one closest to 0.5 wins: a threshold far
    from 0.5 that buys a fraction of a point on validation data mostly moves errors onto real
    photos from sources the validation split does not have.
    """
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=np.float64)
    candidates = np.linspace(0.05, 0.95, 181)
    scores = np.array([binary_report(y, p, t)["balanced_accuracy"] for t in candidates])
    ok = candidates[scores >= scores.max() - tolerance]
    return round(float(ok[np.argmin(np.abs(ok - 0.5))]), 4)


def choose_operating_point(y, p, sources, max_false_accusation: float = 0.05,
                           max_unsure: float = 0.10) -> tuple[float, float, dict]:
    """The threshold and the unsure band, chosen on (validation) data for the costly error.

    threshold: the lowest at which no real source has more than `max_false_accusation` of its
    pictures at or above it (called generated), and never below the balanced-accuracy choice.
    unsure_from: the lowest value under the threshold such that the band [unsure_from, threshold)
    holds at most `max_unsure` of any source's pictures: fakes that fall short of the threshold
    read "unsure" rather than "real" where that does not swamp a source with "unsure".
    Returns (threshold, unsure_from, per-real-source share called generated at the threshold).
    """
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=np.float64)
    sources = np.asarray(sources)
    grid = np.round(np.arange(0.02, 0.9951, 0.0025), 4)
    real_sources = sorted(set(sources[y == 0]))
    reals = [p[(sources == s) & (y == 0)] for s in real_sources]

    def worst_accused(t):
        return max((r >= t).mean() for r in reals) if reals else 0.0

    ok = [t for t in grid if worst_accused(t) <= max_false_accusation]
    threshold = float(ok[0]) if ok else float(grid[-1])
    threshold = max(threshold, choose_threshold(y, p))
    groups = [p[(sources == s) & (y == label)] for s in sorted(set(sources)) for label in (0, 1)
              if ((sources == s) & (y == label)).any()]
    unsure_from = threshold
    for u in grid[::-1]:
        if u >= threshold:
            continue
        if max(((g >= u) & (g < threshold)).mean() for g in groups) > max_unsure:
            break
        unsure_from = float(u)
    accused = {s: float((r >= threshold).mean()) for s, r in zip(real_sources, reals, strict=True)}
    return round(threshold, 4), round(unsure_from, 4), accused
