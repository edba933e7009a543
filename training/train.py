"""Train a real-vs-generated face classifier.

    python -m training.train --data ../shared/data/faces/manifest.csv --out runs/facecheck
    python -m training.train --arch reference --data ../shared/data/faces/manifest.csv --out runs/reference
    (the same as `facecheck train ...`)

The run folder gets: config.json (every resolved option), model.keras (best epoch by validation
AUC, no optimizer state), contract.json (input size, resize, temperature, threshold),
metrics.json, history.csv and curves.png. Temperature and threshold are fitted on the validation
split after training; the test split is never looked at here.
"""

from __future__ import annotations

import argparse
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

import numpy as np

from facecheck import metrics as M
from facecheck.contract import MODEL_FILE, Contract
from facecheck.predictor import Predictor
from facecheck.system import cpu_name
from training.calibrate import calibrate

# Multipliers on each (source, label) group's sampling share, which starts proportional to the
# square root of the group's size. omi (StyleGAN2, the generator family users meet most) is
# sampled more; the two shortcut-carrying sources (UTKFace's tight crops, the CFD inversions'
# white backdrops) less.
DEFAULT_SOURCE_WEIGHTS = "omi=2.5,utkface=0.7,omi_cfd_inversions=0.6"


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="facecheck train", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True,
                    help="manifest CSV (uses its split column), Kaggle 140k root, or real/fake folder")
    ap.add_argument("--val-data", help="validation data if not the --data manifest's val split")
    ap.add_argument("--out", required=True, help="run folder to create")
    ap.add_argument("--arch", default="facecheck", choices=("facecheck", "reference"))
    ap.add_argument("--policy", help="augmentation policy (default: the architecture's own recipe)")
    ap.add_argument("--epochs", type=int, default=115, help="maximum epochs")
    ap.add_argument("--patch-epochs", type=int, default=75,
                    help="first N epochs train on random --patch-size squares cut from each "
                         "augmented 128-pixel crop (no resampling, so pixel-level traces are kept): "
                         "cheaper steps, hence more of them in the same time; the last epochs "
                         "always see whole crops")
    ap.add_argument("--patch-size", type=int, default=64)
    ap.add_argument("--steps-per-epoch", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3, help="peak learning rate")
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--warmup-epochs", type=float, default=1.0)
    ap.add_argument("--patience", type=int, default=40, help="early-stopping patience (epochs)")
    ap.add_argument("--ema", type=float, default=0.99,
                    help="momentum of the weight moving average that is validated and kept (0 = off)")
    ap.add_argument("--source-weights", default=DEFAULT_SOURCE_WEIGHTS,
                    help="comma list source=multiplier on sampling shares ('' for none)")
    ap.add_argument("--cache-size", type=int, default=160,
                    help="side of the decoded square kept in memory before random crops")
    ap.add_argument("--crop-rule", default="face-box", choices=("face-box", "centre-square"),
                    help="what the model is trained to judge: detector face crops (default; what the "
                         "predictor feeds it) or the whole centred square")
    ap.add_argument("--limit", type=int, default=0, help="use at most N images per split (tests)")
    ap.add_argument("--border-jitter", type=float, default=0.5,
                    help="share of training crops given a 1-5 %% foreign border on each side, "
                         "so the generated picture's own edge carries no label "
                         "(training.augment._border_jitter; 0 turns it off)")
    ap.add_argument("--test-time-flip", action=argparse.BooleanOptionalAction, default=False,
                    help="average each face's logit with its mirror image's at inference (doubles "
                         "the classification cost; off by default: the browser's 10 ms budget)")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--no-cache", action="store_true", help="do not read/write the decode cache")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    if args.policy is None:
        args.policy = "reference" if args.arch == "reference" else "facecheck"
    return args


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


def build_train_dataset(images, samples, shares, augment, batch_size, seed, patch_batches=0,
                        patch_size=64):
    """Augmented, class-balanced batches, endless. With patch_batches, the first that many batches
    hold random patch_size squares cut from the augmented crops (the model is fully convolutional
    with a global-pooling head, so it trains on any size), then whole crops for good."""
    import tensorflow as tf

    groups = sorted(shares)
    datasets, weights = [], []
    labels = np.array([s.label for s in samples], np.float32)
    for i, g in enumerate(groups):
        idx = np.array([k for k, s in enumerate(samples) if (s.source, s.label) == g])
        ds = tf.data.Dataset.from_tensor_slices((images[idx], labels[idx]))
        ds = ds.shuffle(len(idx), seed=seed + i, reshuffle_each_iteration=True).repeat()
        datasets.append(ds)
        weights.append(shares[g])
    mixed = tf.data.Dataset.sample_from_datasets(datasets, weights=weights, seed=seed)

    def augmented(offset, patch=0):
        def one(i, xy):
            key = tf.stack([tf.constant(seed, tf.int64), i + offset])
            x = augment(xy[0], key)
            if patch:  # a random square of the augmented crop, at its own pixels
                x = tf.image.stateless_random_crop(x, (patch, patch, 3), key + 7)
            return x, xy[1][None]
        return mixed.enumerate().map(one, num_parallel_calls=tf.data.AUTOTUNE)

    # Whole crops after any patches, with fresh augmentation draws (their own index range).
    ds = augmented(patch_batches * batch_size).batch(batch_size, drop_remainder=True)
    if patch_batches:
        patches = augmented(0, patch_size).batch(batch_size, drop_remainder=True)
        ds = patches.take(patch_batches).concatenate(ds)
    return ds.prefetch(tf.data.AUTOTUNE)


def eval_inputs(images, contract):
    """Decoded crops resized with the contract's op: what inference feeds the model."""
    from facecheck.preprocess import resize

    out = []
    for start in range(0, len(images), 256):
        out.append(resize(images[start : start + 256], contract.input_size, contract).numpy())
    return np.concatenate(out)


def per_source(y, p, sources, threshold):
    res = {}
    for src in sorted(set(sources)):
        m = np.array([s == src for s in sources])
        res[src] = M.binary_report(y[m], p[m], threshold)
    return res


def main(argv=None):
    args = parse_args(argv)
    import keras
    import tensorflow as tf

    from training.augment import make_augment
    from training.data import decode, describe, face_crops, list_samples
    from training.model import build_model, output_kind

    keras.utils.set_random_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    contract = Contract(architecture=args.arch, output=output_kind(args.arch), crop_rule=args.crop_rule,
                        test_time_flip=args.test_time_flip)
    multipliers = {}
    for item in filter(None, args.source_weights.split(",")):
        k, v = item.split("=")
        multipliers[k.strip()] = float(v)

    train_s = list_samples(args.data, "train")
    val_s = list_samples(args.val_data or args.data, "val")
    if args.limit:
        rng = np.random.default_rng(args.seed)
        train_s = [train_s[i] for i in sorted(rng.permutation(len(train_s))[: args.limit])]
        val_s = [val_s[i] for i in sorted(rng.permutation(len(val_s))[: args.limit])]
    t0 = time.time()
    train_x, train_s, train_fail = decode(train_s, args.cache_size, cache=not args.no_cache,
                                          progress=not args.quiet)
    val_x, val_s, val_fail = decode(val_s, args.cache_size, cache=not args.no_cache,
                                    progress=not args.quiet)
    # Cut every image to its face the way the predictor will (the contract's crop rule).
    train_x, train_noface = face_crops(train_x, train_s, contract, args.cache_size,
                                       cache=not args.no_cache, progress=not args.quiet)
    val_x, val_noface = face_crops(val_x, val_s, contract, args.cache_size,
                                   cache=not args.no_cache, progress=not args.quiet)
    decode_s = time.time() - t0
    shares = sampling_shares(train_s, multipliers)
    config = {
        **vars(args),
        "contract": contract.__dict__,
        "train_counts": {f"{k[0]}/{k[1]}": v for k, v in sorted(describe(train_s).items())},
        "val_counts": {f"{k[0]}/{k[1]}": v for k, v in sorted(describe(val_s).items())},
        "sampling_shares": {f"{k[0]}/{'fake' if k[1] else 'real'}": round(v, 4)
                            for k, v in sorted(shares.items())},
        "skipped_undecodable": {"train": len(train_fail), "val": len(val_fail)},
        "no_face_found_kept_whole": {"train": train_noface, "val": val_noface},
        "started_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (out / "config.json").write_text(json.dumps(config, indent=2, default=str) + "\n")
    log = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr, flush=True))
    log(f"train {len(train_s)} images, val {len(val_s)}; skipped {len(train_fail) + len(val_fail)}"
        f" undecodable; decode {decode_s:.0f}s")
    log("sampling shares: " + ", ".join(f"{k}={v}" for k, v in config["sampling_shares"].items()))

    augment = make_augment(contract, args.policy, args.border_jitter)
    patch_epochs = min(args.patch_epochs, args.epochs - 1) if args.arch == "facecheck" else 0
    train_ds = build_train_dataset(train_x, train_s, shares, augment, args.batch_size, args.seed,
                                   patch_epochs * args.steps_per_epoch, args.patch_size)
    val_in = eval_inputs(val_x, contract)
    val_y = np.array([s.label for s in val_s])
    val_src = [s.source for s in val_s]
    # During patch epochs validation only watches progress (early stopping and the best
    # checkpoint wait for whole crops), so a fixed quarter of the split will do: the full split
    # every epoch cost about 3 s of a 20 s patch epoch on 2 cores.
    val_quarter = np.sort(np.random.default_rng(args.seed).permutation(len(val_s))[: max(1, len(val_s) // 4)])

    # Patch epochs need a model that takes any input size; the saved one takes the contract's.
    model = build_model(args.arch, None if patch_epochs else contract.input_size)
    total_steps = args.epochs * args.steps_per_epoch
    warmup = int(args.warmup_epochs * args.steps_per_epoch)
    schedule = keras.optimizers.schedules.CosineDecay(
        args.lr * 0.05, max(1, total_steps - warmup), alpha=0.01,
        warmup_target=args.lr, warmup_steps=warmup)
    if args.arch == "reference":
        # The reference recipe: Adam, categorical cross-entropy on a two-way softmax.
        optimizer = keras.optimizers.Adam(1e-3)
        loss = keras.losses.SparseCategoricalCrossentropy()
        train_ds = train_ds.map(lambda x, y: (x, tf.cast(y[:, 0], tf.int32)))
    else:
        optimizer = keras.optimizers.AdamW(schedule, weight_decay=args.weight_decay,
                                           use_ema=args.ema > 0, ema_momentum=args.ema or 0.99)
        loss = keras.losses.BinaryCrossentropy(from_logits=True)
    model.compile(optimizer=optimizer, loss=loss)

    class ValidationScores(keras.callbacks.Callback):
        """Validation AUC / balanced accuracy / per-source accuracy after every epoch."""

        def __init__(self):
            super().__init__()
            self.t = time.time()
            self.predictor = None

        def on_epoch_end(self, epoch, logs=None):
            if self.predictor is None:  # one traced function for the whole run; no flip, for speed
                self.predictor = Predictor(self.model, replace(contract, test_time_flip=False))
            part = val_quarter if epoch < patch_epochs else slice(None)  # a view, not a copy
            z = self.predictor.logits(val_in[part])
            p = M.sigmoid(z)
            y = val_y[part]
            rep = M.binary_report(y, p, 0.5)
            logs["val_auc"] = rep["auc"]
            logs["val_balanced_accuracy"] = rep["balanced_accuracy"]
            logs["val_loss"] = M.nll(y, z, 1.0)
            logs["seconds"] = time.time() - self.t
            src = per_source(y, p, np.asarray(val_src)[part], 0.5)
            log(f"epoch {epoch + 1}{' (val quarter)' if epoch < patch_epochs else ''}: "
                f"loss {logs['loss']:.4f} val_auc {rep['auc']:.4f} "
                f"val_bacc {rep['balanced_accuracy']:.4f} | "
                + " ".join(f"{k}:{v['accuracy']:.2f}" for k, v in src.items())
                + f" | {logs['seconds']:.0f}s")

    best_weights = out / "best.weights.h5"

    class BestWholeCropEpoch(keras.callbacks.Callback):
        """Save the weights of the best epoch by validation AUC, among whole-crop epochs only
        (patch epochs are validated on a quarter of the split, and the model ships whole crops)."""

        best = -np.inf

        def on_epoch_end(self, epoch, logs=None):
            if epoch >= patch_epochs and logs["val_auc"] > self.best:
                self.best = logs["val_auc"]
                self.model.save_weights(best_weights)
    callbacks = [
        # Validate and keep the moving average of the weights: steadier than the raw weights.
        *([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if optimizer.use_ema else []),
        ValidationScores(),
        BestWholeCropEpoch(),
        # Not during patch epochs: the validation crops are whole, so those scores lag.
        keras.callbacks.EarlyStopping(monitor="val_auc", mode="max", patience=args.patience,
                                      start_from_epoch=patch_epochs),
        keras.callbacks.CSVLogger(out / "history.csv"),
    ]
    t0 = time.time()
    history = model.fit(train_ds, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
                        callbacks=callbacks, verbose=0)
    train_s_elapsed = time.time() - t0
    images_seen = len(history.history["loss"]) * args.steps_per_epoch * args.batch_size

    # Keep the best epoch, in a fresh model without optimizer state (a third of the size).
    model.load_weights(best_weights)
    clean = build_model(args.arch, contract.input_size)
    clean.set_weights(model.get_weights())

    predictor = Predictor(clean, contract)
    calibration, p = calibrate(predictor, val_in, val_y)
    (out / "calibration.json").write_text(json.dumps(calibration, indent=2) + "\n")
    contract.model_version = f"{out.name}-{datetime.now(UTC):%Y%m%d}"
    clean.save(out / MODEL_FILE)
    contract.save(out)

    best_epoch = patch_epochs + int(np.argmax(history.history["val_auc"][patch_epochs:])) + 1
    metrics = {
        "best_epoch": best_epoch,
        "epochs_run": len(history.history["loss"]),
        "train_seconds": round(train_s_elapsed, 1),
        "train_images_per_second": round(images_seen / train_s_elapsed, 1),
        "decode_seconds": round(decode_s, 1),
        "parameters": clean.count_params(),
        "calibration": {k: v for k, v in calibration.items() if k != "val"},
        "threshold": contract.threshold,
        "val": M.binary_report(val_y, p, contract.threshold),
        "val_per_source": per_source(val_y, p, val_src, contract.threshold),
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
        "hardware": {"machine": platform.machine(), "processor": cpu_name(),
                     "cpus": os.cpu_count(), "gpus": len(tf.config.list_physical_devices("GPU"))},
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__,
                     "python": platform.python_version()},
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    best_weights.unlink()  # only now: everything it fed is saved
    _plot_curves(metrics["history"], out / "curves.png")
    log(f"done in {train_s_elapsed / 60:.1f} min; best epoch {best_epoch}; "
        f"val AUC {metrics['val']['auc']:.4f}, balanced acc {metrics['val']['balanced_accuracy']:.4f}"
        f" at threshold {contract.threshold:.3f}; T={contract.temperature:.3f}; wrote {out}")
    return out


def _plot_curves(history: dict, path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(epochs, history["loss"], label="train loss")
    a.plot(epochs, history["val_loss"], label="val loss (NLL)")
    a.set_xlabel("epoch")
    a.legend()
    b.plot(epochs, history["val_auc"], label="val ROC AUC")
    b.plot(epochs, history["val_balanced_accuracy"], label="val balanced acc @0.5")
    b.set_xlabel("epoch")
    b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
