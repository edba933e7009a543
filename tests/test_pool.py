"""Tests on the real face pool (../shared/data). Skipped, with the reason, where it is absent."""

import numpy as np
import pytest

from training.data import describe, list_samples

pytestmark = pytest.mark.pool


def test_manifest_split_sizes(shared_data):
    manifest = shared_data / "faces" / "manifest.csv"
    sizes = {split: len(list_samples(manifest, split)) for split in ("train", "val", "test")}
    # 15,986 images until issue #15 added five real sources (4,339 images) on purpose.
    assert sizes == {"train": 16503, "val": 1935, "test": 1887}
    counts = describe(list_samples(manifest, "test"))
    assert set(counts) == {("rvf10k", "real"), ("rvf10k", "fake"), ("utkface", "real"),
                           ("realorfake", "real"), ("omi", "fake"), ("omi_cfd_inversions", "fake"),
                           ("scut_fbp5500", "real"), ("congress_portraits", "real"),
                           ("allage_faces", "real"), ("selfies", "real"), ("lfw", "real")}
    cross = describe(list_samples(shared_data / "crosscheck" / "manifest.csv"))
    # 1,589 images until the data grew on 2026-12-04: 900 fakes of two generators never trained
    # on (generated.photos-style studio faces, StyleGAN3), reported per source (README there).
    assert cross == {("hardfakevsrealfaces", "real"): 589, ("hardfakevsrealfaces", "fake"): 700,
                     ("taiwanese_studio", "real"): 300, ("generated_photos", "fake"): 600,
                     ("stylegan3", "fake"): 300}


def test_splits_do_not_share_files(shared_data):
    manifest = shared_data / "faces" / "manifest.csv"
    paths = {s: {x.path for x in list_samples(manifest, s)} for s in ("train", "val", "test")}
    assert not paths["train"] & paths["test"] and not paths["train"] & paths["val"]


def _sampled_accuracy(samples, n, predictor):
    from facecheck.images import load_image

    rng = np.random.default_rng(0)
    picked = [samples[i] for i in rng.permutation(len(samples))[:n]]
    results = predictor.predict_many([load_image(s.path) for s in picked])
    y = np.array([s.label for s in picked])
    pred = np.array([r["verdict"] == "fake" for r in results])
    return (pred[y == 0] == 0).mean(), (pred[y == 1] == 1).mean()


@pytest.mark.slow
def test_shipped_model_still_scores_on_the_pool_and_crosscheck(shared_data):
    """Guards the committed model: a sample of each set must stay near the benchmarked figures
    (benchmarks/results/accuracy.md); a wrong or corrupted model.keras fails here."""
    from facecheck.predictor import Predictor

    predictor = Predictor.load()
    test = list_samples(shared_data / "faces" / "manifest.csv", "test")
    real_acc, fake_acc = _sampled_accuracy(test, 400, predictor)
    assert real_acc >= POOL_FLOOR["real"] and fake_acc >= POOL_FLOOR["fake"], (real_acc, fake_acc)
    cross = list_samples(shared_data / "crosscheck" / "manifest.csv")
    real_acc, fake_acc = _sampled_accuracy(cross, 400, predictor)
    assert real_acc >= CROSS_FLOOR["real"] and fake_acc >= CROSS_FLOOR["fake"], (real_acc, fake_acc)


# Floors under the benchmarked per-class accuracies of the shipped model, facecheck-v2
# (benchmarks/results/floors-v2/floors.md; a real face called "unsure" is not accused, so it is
# right, a fake one is not caught: faces test real 97.3 %, fake 65.0 %; cross-check real 99.5 %,
# fake 69.7 %), with room for a 400-image sample's noise. A model that accuses real faces fails
# the real floors; a broken one fails both.
POOL_FLOOR = {"real": 0.93, "fake": 0.52}
CROSS_FLOOR = {"real": 0.93, "fake": 0.55}
