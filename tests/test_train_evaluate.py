import json

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from facecheck import metrics as M
from facecheck.contract import Contract
from tests.helpers import FACES
from training.augment import _border_jitter, _Draws, _swap_backdrop, make_augment
from training.config import parse_args
from training.data import Sample, list_samples, load_pixels
from training.evaluate import CONDITIONS, degrade
from training.evaluate import main as evaluate_main
from training.train import Checkpoint, build_train_dataset, sample_order, sampling_shares
from training.train import main as train_main


def test_training_run_folder_has_everything(tiny_model):
    for name in ("config.json", "model.keras", "contract.json", "metrics.json", "history.csv",
                 "curves.png"):
        assert (tiny_model / name).stat().st_size > 0, name
    config = json.loads((tiny_model / "config.json").read_text())
    assert config["arch"] == "facecheck" and config["seed"] == 1337
    assert config["sampling_shares"]
    replay = parse_args(["--config", str(tiny_model / "config.json"), "--out", "runs/again"])
    assert (replay.data, replay.epochs, replay.steps_per_epoch, replay.batch_size, replay.no_cache) == (
        str(FACES), 2, 3, 8, True), "config.json replays the run"
    metrics = json.loads((tiny_model / "metrics.json").read_text())
    assert metrics["epochs_run"] == 2
    # One patch epoch (validated on a quarter of the split), then one whole-crop epoch: the kept
    # weights are always a whole-crop epoch's.
    assert metrics["best_epoch"] == 2
    assert len(metrics["history"]["val_auc"]) == 2
    assert metrics["calibration"]["temperature"] > 0
    contract = json.loads((tiny_model / "contract.json").read_text())
    assert 0.05 <= contract["threshold"] <= 0.95
    assert contract["temperature"] == metrics["calibration"]["temperature"]


def test_sampling_shares_balance_the_classes():
    samples = ([Sample("a", 0, "big")] * 400 + [Sample("b", 0, "small")] * 100
               + [Sample("c", 1, "gan")] * 50)
    shares = sampling_shares(samples, {"small": 2.0})
    assert sum(v for (_, y), v in shares.items() if y == 0) == pytest.approx(0.5)
    assert shares[("gan", 1)] == pytest.approx(0.5)
    assert shares[("big", 0)] == pytest.approx(shares[("small", 0)])  # sqrt(400) = 2 * sqrt(100)


def test_patch_epochs_cut_unresampled_squares_then_whole_crops():
    images = np.random.default_rng(1).integers(0, 256, (6, 160, 160, 3), np.uint8)
    samples = [Sample("s", i % 2, "g") for i in range(6)]
    shares = {("g", 0): 0.5, ("g", 1): 0.5}
    aug = make_augment(Contract(), "facecheck")
    batches = list(build_train_dataset(images, samples, shares, aug, 4, 7, patch_batches=3,
                                       patch_size=64).take(5))
    assert [b[0].shape[1:3] for b in batches] == [(64, 64)] * 3 + [(128, 128)] * 2
    assert all(b[1].shape == (4, 1) for b in batches)
    plain = list(build_train_dataset(images, samples, shares, aug, 4, 7).take(2))
    assert all(b[0].shape[1:3] == (128, 128) for b in plain)


def test_augmentation_is_seeded_and_keeps_shape():
    img = tf.constant(np.random.default_rng(0).integers(0, 256, (160, 160, 3), np.uint8))
    aug = make_augment(Contract(), "facecheck")
    seeds = [tf.constant([1, i], tf.int64) for i in range(6)]
    a = [aug(img, s).numpy() for s in seeds]
    b = [aug(img, s).numpy() for s in seeds]
    for x, y in zip(a, b, strict=False):
        assert x.shape == (128, 128, 3) and x.dtype == np.float32
        assert 0 <= x.min() and x.max() <= 255
        assert np.array_equal(x, y), "same seed, same augmentation"
    assert not np.array_equal(a[0], a[1]), "different seeds, different augmentation"


def test_border_jitter_keeps_the_picture_and_changes_only_a_thin_border():
    # A flat picture with a bright 1-pixel frame: after the jitter the frame has moved inwards
    # (the picture was shrunk 2-10 %), the middle is untouched, and every border row or column
    # outside the shrunk picture is filled with something.
    img = np.full((128, 128, 3), 100.0, np.float32)
    img[0, :] = img[-1, :] = img[:, 0] = img[:, -1] = 250.0
    moved = 0
    for i in range(12):
        out = _border_jitter(tf.constant(img), _Draws(tf.constant([5, i], tf.int64)), Contract()).numpy()
        assert out.shape == img.shape and 0 <= out.min() and out.max() <= 255
        assert np.allclose(out[20:108, 20:108], 100.0, atol=0.5), "the picture itself is kept"
        moved += not np.allclose(out[0], img[0], atol=1.0) or not np.allclose(out[:, 0], img[:, 0], atol=1.0)
    assert moved >= 10, "the picture's own edge must leave the crop's edge"


def _studio_picture(n=160):
    """A dark ellipse 'face' on a white backdrop with a little sensor noise."""
    yy, xx = np.mgrid[:n, :n]
    face = ((xx - n / 2) / (0.3 * n)) ** 2 + ((yy - n / 2) / (0.4 * n)) ** 2 < 1
    img = np.where(face[..., None], 90.0, 245.0) + np.random.default_rng(3).normal(0, 2, (n, n, 3))
    return np.clip(img, 0, 255).astype(np.float32), face


def test_backdrop_swap_replaces_a_flat_backdrop_and_keeps_the_face():
    img, face = _studio_picture()
    swapped = 0
    for i in range(8):
        out = _swap_backdrop(tf.constant(img), _Draws(tf.constant([9, i], tf.int64))).numpy()
        inner = np.zeros_like(face)
        inner[40:120, 56:104] = True                       # well inside the ellipse
        assert np.allclose(out[inner & face], img[inner & face], atol=1e-3), "the face is kept"
        swapped += np.abs(out[~face] - img[~face]).mean() > 20
    assert swapped >= 7, "a white backdrop should become something else"
    busy = np.random.default_rng(4).uniform(0, 255, (160, 160, 3)).astype(np.float32)
    out = _swap_backdrop(tf.constant(busy), _Draws(tf.constant([9, 0], tf.int64))).numpy()
    assert np.array_equal(out, busy), "no flat backdrop, nothing swapped"


def test_augmentation_with_backdrop_swap_is_seeded_and_off_by_default():
    img = tf.constant(_studio_picture()[0].astype(np.uint8))
    on = make_augment(Contract(), "facecheck", backdrop_swap=1.0)
    off = make_augment(Contract(), "facecheck", backdrop_swap=0.0)
    plain = make_augment(Contract(), "facecheck")
    for i in range(3):
        seed = tf.constant([2, i], tf.int64)
        assert np.array_equal(on(img, seed).numpy(), on(img, seed).numpy())
        assert np.array_equal(off(img, seed).numpy(), plain(img, seed).numpy()), "off takes no draw"


def test_light_policy_is_the_reference_recipe_plus_web_copies():
    """Same draws as "reference" up to the web copy, which re-compresses or rescales about half of
    the crops (15 % rescaled, 35 % JPEG): some seeds give the reference output, others differ."""
    img = tf.constant(np.random.default_rng(3).integers(0, 256, (160, 160, 3), np.uint8))
    light, ref = make_augment(Contract(), "light"), make_augment(Contract(), "reference")
    same = [np.array_equal(light(img, s).numpy(), ref(img, s).numpy())
            for s in (tf.constant([4, i], tf.int64) for i in range(24))]
    assert 4 <= sum(same) <= 20, same
    with pytest.raises(ValueError, match="policy"):
        make_augment(Contract(), "heavy")


def test_augmentation_with_border_jitter_is_seeded():
    img = tf.constant(np.random.default_rng(1).integers(0, 256, (160, 160, 3), np.uint8))
    aug = make_augment(Contract(), "facecheck", border_jitter=1.0)
    for i in range(4):
        seed = tf.constant([2, i], tf.int64)
        x, y = aug(img, seed).numpy(), aug(img, seed).numpy()
        assert x.shape == (128, 128, 3) and np.array_equal(x, y)


def test_data_layouts(tmp_path):
    for split in ("train", "valid", "test"):
        for label in ("real", "fake"):
            d = tmp_path / "kaggle" / split / label
            d.mkdir(parents=True)
            Image.new("RGB", (64, 48), (10, 20, 30)).save(d / "x.jpg")
    (tmp_path / "kaggle" / "valid" / "fake" / "broken.jpg").write_bytes(b"\xff\xd8garbage")
    val = list_samples(tmp_path / "kaggle", "val")
    assert sorted((s.label, s.path.rsplit("/", 1)[-1]) for s in val) == [
        (0, "x.jpg"), (1, "broken.jpg"), (1, "x.jpg")]
    images, kept, failures = load_pixels(val, 32, cache=False, progress=False)
    assert images.shape == (2, 32, 32, 3) and len(kept) == 2
    assert len(failures) == 1 and "broken.jpg" in failures[0][0]

    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label,split,source\nkaggle/test/real/x.jpg,real,test,s1\n"
                        "kaggle/test/fake/x.jpg,fake,train,s2\n")
    assert [s.source for s in list_samples(manifest, "test")] == ["s1"]


def test_evaluate_writes_metrics_and_plots(tmp_path, tiny_model):
    out = tmp_path / "report"
    report = evaluate_main(["--data", str(FACES), "--model", str(tiny_model), "--out", str(out),
                            "--conditions", "clean,jpeg50,down0.5", "--quiet"])
    for name in ("metrics.json", "predictions.csv", "roc.png", "confusion.png"):
        assert (out / name).stat().st_size > 0, name
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["n_images"] == 32
    for cond in ("clean", "jpeg50", "down0.5"):
        overall = saved["conditions"][cond]["overall"]
        assert overall["n_real"] == 16 and overall["n_fake"] == 16
        assert 0.0 <= overall["auc"] <= 1.0
        assert set(saved["conditions"][cond]["per_source"]) == {"faces"}
    assert report["threshold"] == json.loads((tiny_model / "contract.json").read_text())[
        "threshold"]


def test_degradations_change_pixels_but_not_size():
    img = np.random.default_rng(0).integers(0, 256, (120, 90, 3), np.uint8)
    for cond in CONDITIONS:
        out = degrade(img, cond)
        assert out.shape == img.shape and out.dtype == np.uint8
        assert np.array_equal(out, img) == (cond == "clean"), cond


def test_operating_point_keeps_every_real_source_under_the_accusation_cap():
    rng = np.random.default_rng(0)
    # Two real sources, one of which looks far more "generated" than the other, and one fake source.
    p = np.r_[rng.uniform(0.0, 0.4, 200), rng.uniform(0.1, 0.8, 200), rng.uniform(0.5, 1.0, 200)]
    y = np.r_[np.zeros(400), np.ones(200)]
    src = np.array(["calm"] * 200 + ["studio"] * 200 + ["gan"] * 200)
    t, u, accused = M.choose_operating_point(y, p, src, max_false_accusation=0.05, max_unsure=0.10)
    assert max(accused.values()) <= 0.05 and accused["studio"] == (p[200:400] >= t).mean()
    assert (p[200:400] >= t - 0.01).mean() > 0.05, "the lowest threshold that meets the cap"
    assert u < t
    for s in ("calm", "studio", "gan"):
        band = (p[src == s] >= u) & (p[src == s] < t)
        assert band.mean() <= 0.10


def test_train_resumes_after_an_interruption(tmp_path):
    """A run stopped after its second epoch and resumed ends like an uninterrupted run: the same
    number of epochs in one history, the same data (element k is always the same image and draw)."""
    args = ["--data", str(FACES), "--epochs", "3", "--patch-epochs", "1", "--steps-per-epoch", "2",
            "--batch-size", "8", "--no-cache", "--quiet"]
    run = tmp_path / "run"
    original = Checkpoint.on_epoch_end

    def stop_after_second(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch == 1:
            raise KeyboardInterrupt
    Checkpoint.on_epoch_end = stop_after_second
    try:
        with pytest.raises(KeyboardInterrupt):
            train_main(args + ["--out", str(run)])
    finally:
        Checkpoint.on_epoch_end = original
    assert json.loads((run / "checkpoint" / "last.json").read_text())["epochs_done"] == 2
    assert not (run / "model.keras").exists()
    train_main(["--resume", str(run)])
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs_run"] == 3 and len(metrics["history"]["loss"]) == 3
    assert (run / "model.keras").exists() and not (run / "checkpoint").exists()
    whole = tmp_path / "whole"
    train_main(args + ["--out", str(whole)])
    straight = json.loads((whole / "metrics.json").read_text())
    # The same batches and optimizer state after the interruption: the same losses and scores
    # (to float noise: CPU kernels are not bit-reproducible).
    for key in ("loss", "val_auc", "val_loss"):
        assert np.allclose(metrics["history"][key], straight["history"][key], rtol=2e-3, atol=2e-3), (
            key, metrics["history"][key], straight["history"][key])


def test_sample_order_is_a_fixed_function_of_the_seed():
    samples = [Sample(str(i), i % 2, "a" if i < 6 else "b") for i in range(10)]
    shares = {("a", 0): 0.25, ("b", 0): 0.25, ("a", 1): 0.25, ("b", 1): 0.25}
    a, b = sample_order(samples, shares, 400, 3), sample_order(samples, shares, 400, 3)
    assert np.array_equal(a, b) and not np.array_equal(a, sample_order(samples, shares, 400, 4))
    labels = np.array([s.label for s in samples])[a]
    assert 0.4 < labels.mean() < 0.6
