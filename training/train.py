"""Train a real-vs-generated face classifier.

    python -m training.train --recipe facecheck-v2 --data ../shared/data/faces/manifest.csv --out runs/v2
    python -m training.train --recipe reference --data ../shared/data/faces/manifest.csv --out runs/reference
    python -m training.train --config runs/v2/config.json --out runs/v2-again   # replay a run
    python -m training.train --resume runs/v2        # continue an interrupted run
    (the same as `facecheck train ...`; training/config.py has the options, training/recipes/ the recipes)

The run folder gets: config.json (every resolved option, so `--config` replays it), model.keras
(best epoch by the selection score, no optimizer state), contract.json (input size, resize,
temperature, threshold, unsure band), metrics.json, history.csv and curves.png; while it runs,
checkpoint/ holds what `--resume` needs. Temperature, threshold and unsure band are fitted on the
validation split after training (training/calibrate.py); the test split is never looked at here.

main() is a short sequence of steps: load the splits, build the datasets, build the model and
optimizer, fit, calibrate, write the run.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import sys
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf
from matplotlib.figure import Figure

from facecheck import metrics as M
from facecheck.contract import MODEL_FILE, Contract
from facecheck.predictor import Predictor
from facecheck.preprocess import eval_inputs
from facecheck.system import cpu_name
from training.augment import make_augment
from training.calibrate import calibrate
from training.config import parse_args, run_config
from training.data import face_crops, list_samples, load_pixels
from training.model import build_model, output_kind

CHECKPOINT_DIR = "checkpoint"


def _names(text: str) -> set[str]:
    return {x.strip() for x in text.split(",") if x.strip()}


def _multipliers(text: str) -> dict[str, float]:
    out = {}
    for item in filter(None, text.split(",")):
        k, v = item.split("=")
        out[k.strip()] = float(v)
    return out


def sampling_shares(samples, multipliers: dict[str, float]) -> dict[tuple[str, int], float]:
    counts = Counter((s.source, s.label) for s in samples)
    raw = {g: np.sqrt(n) * multipliers.get(g[0], 1.0) for g, n in counts.items()}
    shares = {}
    for label in (0, 1):
        total = sum(v for g, v in raw.items() if g[1] == label)
        for g, v in raw.items():
            if g[1] == label:
                shares[g] = 0.5 * v / total
    return shares


def sample_order(samples, shares, total: int, seed: int) -> np.ndarray:
    """Which training image each of the run's `total` elements is, fixed by the seed: a group
    drawn by its share, then that group's images in a fresh shuffle per pass. Element k is always
    the same image with the same augmentation draw, so a resumed run sees what it would have."""
    rng = np.random.default_rng(seed)
    groups = sorted(shares)
    members = {g: np.array([k for k, s in enumerate(samples) if (s.source, s.label) == g]) for g in groups}
    weights = np.array([shares[g] for g in groups])
    pick = rng.choice(len(groups), size=total, p=weights / weights.sum())
    order = np.empty(total, np.int64)
    for gi, g in enumerate(groups):
        where = np.flatnonzero(pick == gi)
        passes = -(-len(where) // len(members[g]))
        order[where] = np.concatenate([rng.permutation(members[g]) for _ in range(passes)])[: len(where)]
    return order


def build_train_dataset(images, samples, shares, augment, batch_size, seed, patch_batches=0,
                        patch_size=64, total_batches=None, start_batch=0):
    """Augmented, class-balanced batches. With patch_batches, the first that many batches hold
    random patch_size squares cut from the augmented crops (the model is fully convolutional with
    a global-pooling head, so it trains on any size), then whole crops. start_batch skips the
    batches a resumed run has already trained on (without computing them)."""
    total_batches = total_batches or (patch_batches + 10_000)
    order = sample_order(samples, shares, total_batches * batch_size, seed)
    labels = np.array([s.label for s in samples], np.float32)
    pixels = tf.constant(images)

    def part(first, last, patch):
        k = np.arange(first * batch_size, last * batch_size)

        def one(k, i, y):
            key = tf.stack([tf.constant(seed, tf.int64), k])
            x = augment(tf.gather(pixels, i), key, y)
            if patch:  # a random square of the augmented crop, at its own pixels
                x = tf.image.stateless_random_crop(x, (patch, patch, 3), key + 7)
            return x, y[None]
        ds = tf.data.Dataset.from_tensor_slices((k, order[k], labels[order[k]]))
        return ds.map(one, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size, drop_remainder=True)

    parts = []
    if start_batch < patch_batches:
        parts.append(part(start_batch, patch_batches, patch_size))
    parts.append(part(max(start_batch, patch_batches), total_batches, 0))
    ds = parts[0] if len(parts) == 1 else parts[0].concatenate(parts[1])
    return ds.prefetch(tf.data.AUTOTUNE)


def worst_real_auc(y, p, sources) -> float:
    """The lowest ROC AUC of any one real source against all the fakes."""
    y, p, sources = np.asarray(y), np.asarray(p), np.asarray(sources)
    fakes = p[y == 1]
    scores = [M.roc_auc(np.r_[np.zeros(m.sum()), np.ones(len(fakes))], np.r_[p[m], fakes])
              for src in sorted(set(sources[y == 0])) if (m := (sources == src) & (y == 0)).any()]
    return float(min(scores)) if scores and len(fakes) else float("nan")


def load_splits(args, contract, log):
    """Decoded face crops and samples of the train and val splits, minus excluded sources (and
    held-out sources from train only), with what was skipped."""
    train_s = list_samples(args.data, "train")
    val_s = list_samples(args.val_data or args.data, "val")
    if args.limit:
        rng = np.random.default_rng(args.seed)
        train_s = [train_s[i] for i in sorted(rng.permutation(len(train_s))[: args.limit])]
        val_s = [val_s[i] for i in sorted(rng.permutation(len(val_s))[: args.limit])]
    t0 = time.time()
    cache, progress = not args.no_cache, not args.quiet
    train_x, train_s, train_fail = load_pixels(train_s, args.cache_size, cache=cache, progress=progress)
    val_x, val_s, val_fail = load_pixels(val_s, args.cache_size, cache=cache, progress=progress)
    # Cut every image to its face the way the predictor will (the contract's crop rule).
    train_x, train_noface = face_crops(train_x, train_s, contract, args.cache_size, cache=cache,
                                       progress=progress)
    val_x, val_noface = face_crops(val_x, val_s, contract, args.cache_size, cache=cache, progress=progress)
    # Filtered after decoding, so the decode cache is shared by every choice of sources.
    excluded, held_out = _names(args.exclude_sources), _names(args.holdout_sources)
    keep = np.array([s.source not in excluded | held_out for s in train_s], bool)
    train_x, train_s = train_x[keep], [s for s, k in zip(train_s, keep, strict=True) if k]
    keep = np.array([s.source not in excluded for s in val_s], bool)
    val_x, val_s = val_x[keep], [s for s, k in zip(val_s, keep, strict=True) if k]
    info = {"skipped_undecodable": {"train": len(train_fail), "val": len(val_fail)},
            "no_face_found_kept_whole": {"train": train_noface, "val": val_noface},
            "decode_seconds": round(time.time() - t0, 1)}
    log(f"train {len(train_s)} images, val {len(val_s)}; skipped {len(train_fail) + len(val_fail)}"
        f" undecodable; decode {info['decode_seconds']:.0f}s")
    return train_x, train_s, val_x, val_s, info


def build_model_and_optimizer(args, contract, patch_epochs):
    # Patch epochs need a model that takes any input size; the saved one takes the contract's.
    model = build_model(args.arch, None if patch_epochs else contract.input_size,
                        pretrained=not args.init_from, train_from=args.train_from)
    if args.init_from:
        start = keras.models.load_model(Path(args.init_from) / MODEL_FILE, compile=False)
        model.set_weights(start.get_weights())
    total_steps = args.epochs * args.steps_per_epoch
    warmup = int(args.warmup_epochs * args.steps_per_epoch)
    schedule = keras.optimizers.schedules.CosineDecay(
        args.lr * 0.05, max(1, total_steps - warmup), alpha=0.01,
        warmup_target=args.lr, warmup_steps=warmup)
    if args.arch == "reference":
        # The reference recipe: Adam, categorical cross-entropy on a two-way softmax.
        optimizer = keras.optimizers.Adam(1e-3)
        loss = keras.losses.SparseCategoricalCrossentropy()
    else:
        optimizer = keras.optimizers.AdamW(schedule, weight_decay=args.weight_decay,
                                           use_ema=args.ema > 0, ema_momentum=args.ema or 0.99)
        loss = keras.losses.BinaryCrossentropy(from_logits=True)
    model.compile(optimizer=optimizer, loss=loss)
    return model


class ValidationScores(keras.callbacks.Callback):
    """Validation AUC, balanced accuracy, the worst real source's AUC and per-source accuracy
    after every epoch, into the logs. Patch epochs only watch progress, so they score a fixed
    quarter of the split (the full split cost about 3 s of a 20 s patch epoch on 2 cores)."""

    def __init__(self, contract, val_in, val_y, val_src, patch_epochs, seed, log):
        super().__init__()
        self.contract, self.val_in, self.val_y = contract, val_in, val_y
        self.val_src = np.asarray(val_src)
        self.patch_epochs, self.log = patch_epochs, log
        n = len(val_y)
        self.quarter = np.sort(np.random.default_rng(seed).permutation(n)[: max(1, n // 4)])
        self.t = time.time()
        self.predictor = None

    def on_epoch_end(self, epoch, logs=None):
        if self.predictor is None:  # one traced function for the whole run; no flip, for speed
            self.predictor = Predictor(self.model, replace(self.contract, test_time_flip=False))
        patch = epoch < self.patch_epochs
        part = self.quarter if patch else slice(None)  # a view, not a copy
        z = self.predictor.logits(self.val_in[part])
        p, y, src = M.sigmoid(z), self.val_y[part], self.val_src[part]
        rep = M.binary_report(y, p, 0.5)
        logs["val_auc"] = rep["auc"]
        logs["val_balanced_accuracy"] = rep["balanced_accuracy"]
        logs["val_worst_real_auc"] = worst_real_auc(y, p, src)
        logs["val_loss"] = M.nll(y, z, 1.0)
        logs["seconds"] = time.time() - self.t
        by_source = M.per_source(y, p, src, 0.5)
        self.log(f"epoch {epoch + 1}{' (val quarter)' if patch else ''}: loss {logs['loss']:.4f} "
                 f"val_auc {rep['auc']:.4f} worst_real_auc {logs['val_worst_real_auc']:.4f} "
                 f"val_bacc {rep['balanced_accuracy']:.4f} | "
                 + " ".join(f"{k}:{v['accuracy']:.2f}" for k, v in by_source.items())
                 + f" | {logs['seconds']:.0f}s")


class BestEpoch(keras.callbacks.Callback):
    """Keep the weights of the best whole-crop epoch by the selection score, and stop after
    `patience` whole-crop epochs without a better one. Its state lives in a file beside the
    weights, so a resumed run goes on with the same best epoch and patience."""

    def __init__(self, monitor, patch_epochs, patience, folder: Path):
        super().__init__()
        self.monitor, self.patch_epochs, self.patience = monitor, patch_epochs, patience
        self.weights, self.state_file = folder / "best.weights.h5", folder / "best.json"
        self.state = (json.loads(self.state_file.read_text()) if self.state_file.exists()
                      else {"score": -np.inf, "epoch": 0})

    def on_epoch_end(self, epoch, logs=None):
        if epoch < self.patch_epochs:
            return
        if logs[self.monitor] > self.state["score"]:
            self.state = {"score": float(logs[self.monitor]), "epoch": epoch + 1}
            self.model.save_weights(self.weights)
            self.state_file.write_text(json.dumps(self.state))
        elif epoch + 1 - self.state["epoch"] >= self.patience:
            self.model.stop_training = True


class Checkpoint(keras.callbacks.Callback):
    """After every epoch, once everything else has run, the model with its optimizer state, for
    `--resume`. With the moving average on, the model holds the averaged weights at that point
    (and the optimizer the raw ones): a resumed run's SwapEMAWeights is told so."""

    def __init__(self, folder: Path):
        super().__init__()
        self.folder = folder

    def on_epoch_end(self, epoch, logs=None):
        tmp = self.folder / "last.tmp.keras"
        self.model.save(tmp)
        tmp.replace(self.folder / "last.keras")
        # Dropout's random state is a variable but not a weight, so .keras files leave it out.
        seeds = [np.asarray(v).tolist() for v in _seed_states(self.model)]
        (self.folder / "last.json").write_text(json.dumps({"epochs_done": epoch + 1, "seed_states": seeds}))


def _seed_states(model):
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


def load_checkpoint(folder: Path):
    """The model, optimizer and random state of the last finished epoch, and how many there were."""
    state = json.loads((folder / "last.json").read_text())
    model = keras.models.load_model(folder / "last.keras")
    for v, saved in zip(_seed_states(model), state["seed_states"], strict=True):  # in layer order
        v.assign(np.array(saved, dtype=v.dtype))
    return model, state["epochs_done"]


def fit(model, train_ds, args, callbacks, initial_epoch):
    t0 = time.time()
    model.fit(train_ds, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
              initial_epoch=initial_epoch, callbacks=callbacks, verbose=0)
    return time.time() - t0


def read_history(path: Path) -> dict[str, list[float]]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {k: [float(r[k]) for r in rows] for k in (rows[0] if rows else {}) if k != "epoch"}


def _keep_history_rows(path: Path, rows: int):
    lines = path.read_text().splitlines(keepends=True) if path.exists() else []
    path.write_text("".join(lines[: rows + 1]))


def write_run(out, model_trained, args, contract, val_in, val_y, val_src, extra, log):
    """Keep the best epoch in a fresh model without optimizer state (a third of the size),
    calibrate it on validation, and write model, contract, metrics and curves."""
    ckpt = out / CHECKPOINT_DIR
    model_trained.load_weights(ckpt / "best.weights.h5")
    clean = build_model(args.arch, contract.input_size)  # freezing does not change the weights' order
    clean.set_weights(model_trained.get_weights())
    predictor = Predictor(clean, contract)
    calibration, p = calibrate(predictor, val_in, val_y, val_src,
                               max_false_accusation=args.max_false_accusation, max_unsure=args.max_unsure)
    (out / "calibration.json").write_text(json.dumps(calibration, indent=2) + "\n")
    contract.model_version = f"{out.name}-{datetime.now(UTC):%Y%m%d}"
    clean.save(out / MODEL_FILE)
    contract.save(out)
    history = read_history(out / "history.csv")
    train_seconds = extra["train_seconds"]
    metrics = {
        "best_epoch": json.loads((ckpt / "best.json").read_text())["epoch"],
        "selected_by": f"val_{args.select.replace('-', '_')}",
        "epochs_run": len(history.get("loss", [])),
        "train_seconds": round(train_seconds, 1),
        "train_images_per_second": round(extra["images_seen"] / max(train_seconds, 1e-9), 1),
        "decode_seconds": extra["decode_seconds"],
        "parameters": clean.count_params(),
        "calibration": {k: v for k, v in calibration.items() if k not in ("val", "val_per_source")},
        "threshold": contract.threshold,
        "unsure_from": contract.unsure_from,
        "val": M.binary_report(val_y, p, contract.threshold),
        "val_per_source": calibration["val_per_source"],
        "history": history,
        "hardware": {"machine": platform.machine(), "processor": cpu_name(),
                     "cpus": os.cpu_count(), "gpus": len(tf.config.list_physical_devices("GPU"))},
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__,
                     "python": platform.python_version()},
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    _plot_curves(history, out / "curves.png")
    for name in ("last.keras", "last.json", "best.weights.h5", "best.json"):  # only now: all is saved
        (ckpt / name).unlink(missing_ok=True)
    ckpt.rmdir()
    log(f"done in {train_seconds / 60:.1f} min; best epoch {metrics['best_epoch']}; "
        f"val AUC {metrics['val']['auc']:.4f}, balanced acc {metrics['val']['balanced_accuracy']:.4f}"
        f" at threshold {contract.threshold:.3f} (unsure from {contract.unsure_from}); "
        f"T={contract.temperature:.3f}; wrote {out}")
    return metrics


def main(argv=None):
    args = parse_args(argv)
    log = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr, flush=True))
    keras.utils.set_random_seed(args.seed)
    out = Path(args.out)
    ckpt = out / CHECKPOINT_DIR
    ckpt.mkdir(parents=True, exist_ok=True)
    contract = Contract(architecture=args.arch, output=output_kind(args.arch), crop_rule=args.crop_rule,
                        test_time_flip=args.test_time_flip, input_size=args.input_size)

    # 1. The splits.
    train_x, train_s, val_x, val_s, info = load_splits(args, contract, log)
    shares = sampling_shares(train_s, _multipliers(args.source_weights))
    if not args.resume:
        config = run_config(args, contract, train_s, val_s, shares, info)
        (out / "config.json").write_text(json.dumps(config, indent=2, default=str) + "\n")
    log("sampling shares: " + ", ".join(f"{k[0]}/{k[1]}={v:.4f}" for k, v in sorted(shares.items())))

    # 2. The datasets.
    done = json.loads((ckpt / "last.json").read_text())["epochs_done"] if args.resume else 0
    patch_epochs = min(args.patch_epochs, args.epochs - 1) if args.arch == "facecheck" else 0
    train_ds = training_dataset(args, contract, train_x, train_s, shares, patch_epochs, done)
    val_in = eval_inputs(val_x, contract)
    val_y = np.array([s.label for s in val_s])
    val_src = [s.source for s in val_s]

    # 3. The model and optimizer: fresh, or as the last finished epoch left them.
    if done:
        model, done = load_checkpoint(ckpt)
        log(f"resuming {out} after epoch {done} of {args.epochs}")
    else:
        model = build_model_and_optimizer(args, contract, patch_epochs)

    # 4. Fit, validating (and keeping) the moving average of the weights: steadier than the raw ones.
    validation = ValidationScores(contract, val_in, val_y, val_src, patch_epochs, args.seed, log)
    callbacks = fit_callbacks(args, out, validation, patch_epochs, done)
    train_seconds = add_train_seconds(ckpt, fit(model, train_ds, args, callbacks, done))
    epochs_run = len(read_history(out / "history.csv").get("loss", []))

    # 5. Calibrate and write the run.
    extra = {"train_seconds": train_seconds, "decode_seconds": info["decode_seconds"],
             "images_seen": epochs_run * args.steps_per_epoch * args.batch_size}
    (ckpt / "seconds.json").unlink()
    write_run(out, model, args, contract, val_in, val_y, val_src, extra, log)
    return out


def training_dataset(args, contract, images, samples, shares, patch_epochs, epochs_done):
    """The run's augmented training batches from the first epoch not done yet; the reference
    architecture's two-way softmax takes integer labels."""
    quality = tuple(float(v) for v in args.quality_match.split(","))
    augment = make_augment(contract, args.policy, args.border_jitter, quality, args.backdrop_swap)
    ds = build_train_dataset(images, samples, shares, augment, args.batch_size, args.seed,
                             patch_epochs * args.steps_per_epoch, args.patch_size,
                             total_batches=args.epochs * args.steps_per_epoch,
                             start_batch=epochs_done * args.steps_per_epoch)
    if args.arch == "reference":
        ds = ds.map(lambda x, y: (x, tf.cast(y[:, 0], tf.int32)))
    return ds


def fit_callbacks(args, out: Path, validation, patch_epochs, epochs_done):
    """Weight averaging, validation, the best epoch, the history and the checkpoint, in that order
    (each reads what the one before wrote into the epoch's logs or weights)."""
    ckpt = out / CHECKPOINT_DIR
    swap = []
    if args.ema > 0 and args.arch != "reference":
        swap = [keras.callbacks.SwapEMAWeights(swap_on_epoch=True)]
        swap[0]._ema_weights_in_model = bool(epochs_done)  # the checkpoint was saved swapped
    if epochs_done:  # rows of epochs after the checkpoint's are redone
        _keep_history_rows(out / "history.csv", epochs_done)
    return [
        *swap,
        validation,
        BestEpoch(f"val_{args.select.replace('-', '_')}", patch_epochs, args.patience, ckpt),
        keras.callbacks.CSVLogger(out / "history.csv", append=bool(epochs_done)),
        Checkpoint(ckpt),
    ]


def add_train_seconds(ckpt: Path, seconds: float) -> float:
    """The run's training time so far, kept in the checkpoint folder until the run is written."""
    timing = ckpt / "seconds.json"
    before = json.loads(timing.read_text())["train_seconds"] if timing.exists() else 0.0
    timing.write_text(json.dumps({"train_seconds": before + seconds}))
    return before + seconds


def _plot_curves(history: dict, path: Path):
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig = Figure(figsize=(10, 4))
    a, b = fig.subplots(1, 2)
    a.plot(epochs, history["loss"], label="train loss")
    a.plot(epochs, history["val_loss"], label="val loss (NLL)")
    a.set_xlabel("epoch")
    a.legend()
    b.plot(epochs, history["val_auc"], label="val ROC AUC")
    b.plot(epochs, history["val_worst_real_auc"], label="val worst real source AUC")
    b.plot(epochs, history["val_balanced_accuracy"], label="val balanced acc @0.5")
    b.set_xlabel("epoch")
    b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
