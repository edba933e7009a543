"""The options of `facecheck train` and where their values come from.

    facecheck train --recipe facecheck-v2 --data ../shared/data/faces/manifest.csv --out runs/v2
    facecheck train --config runs/v2/config.json --out runs/v2-again     # replay a run
    facecheck train --resume runs/v2                                      # continue it

The defaults are facecheck-v1's recipe. A recipe (training/recipes/NAME.json, or any JSON file)
sets the options that differ from them; a run's config.json holds every option it was started
with, so `--config` replays it. Both name options as the run's config.json does (`patch_epochs`
for --patch-epochs); a recipe may also say what it is for in a "description". The command line
wins over a recipe or config, which wins over the defaults. Paths in a recipe (init_from, data)
are relative to the working directory: the repository root, where the Makefile runs.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from training.data import describe

RECIPES_DIR = Path(__file__).resolve().parent / "recipes"

# Multipliers on each (source, label) group's sampling share, which starts proportional to the
# square root of the group's size. omi (StyleGAN2, the generator family users meet most) is
# sampled more; the two shortcut-carrying sources (UTKFace's tight crops, the CFD inversions'
# white backdrops) less.
DEFAULT_SOURCE_WEIGHTS = "omi=2.5,utkface=0.7,omi_cfd_inversions=0.6"

# What a run's config.json holds besides its options (run_config): the record of the run, which
# `--config` passes over. "note" is a hand-written remark (models/facecheck-v2/config.json has one).
RUN_RECORD_KEYS = frozenset({"contract", "train_counts", "val_counts", "sampling_shares",
                             "skipped_undecodable", "no_face_found_kept_whole", "started_utc", "note"})
# Options that say where a run goes or where its values came from: never taken from a file.
NOT_FROM_FILES = frozenset({"out", "resume", "recipe", "config"})

OPTIONS: tuple[tuple[str, dict], ...] = (
    ("--data", dict(help="manifest CSV (uses its split column), Kaggle 140k root, or real/fake folder")),
    ("--val-data", dict(help="validation data if not the --data manifest's val split")),
    ("--out", dict(help="run folder to create")),
    ("--resume", dict(metavar="RUN",
                      help="continue the interrupted run in this folder from its last finished epoch, "
                           "with the options it was started with (every other option is ignored)")),
    ("--recipe", dict(metavar="NAME",
                      help="start from this recipe's settings: a name in training/recipes/ "
                           "(facecheck-v2, facecheck-v2-stage1, reference) or a JSON file")),
    ("--config", dict(metavar="CONFIG_JSON",
                      help="replay a run: every option from its saved config.json (give --out)")),
    ("--arch", dict(default="facecheck", choices=("facecheck", "reference", "lite0"),
                    help="lite0: EfficientNet-Lite0 from its ImageNet weights "
                         "(`make backbone` fetches them)")),
    ("--input-size", dict(type=int, default=128, help="side of the model's input square, in pixels")),
    ("--train-from", dict(default="all",
                          help="lite0 only: which layers learn. all; head (frozen ImageNet features, a "
                               "linear head); or blockN (block N onwards, 0-15). BatchNorm statistics "
                               "stay ImageNet's in every case (small batches would spoil them)")),
    ("--policy", dict(help="augmentation policy (default: the architecture's own recipe)")),
    ("--epochs", dict(type=int, default=115, help="maximum epochs")),
    ("--patch-epochs", dict(type=int, default=75,
                            help="first N epochs train on random --patch-size squares cut from each "
                                 "augmented 128-pixel crop (no resampling, so pixel-level traces are "
                                 "kept): cheaper steps, hence more of them in the same time; the last "
                                 "epochs always see whole crops")),
    ("--patch-size", dict(type=int, default=64)),
    ("--steps-per-epoch", dict(type=int, default=200)),
    ("--batch-size", dict(type=int, default=32)),
    ("--lr", dict(type=float, default=2e-3, help="peak learning rate")),
    ("--weight-decay", dict(type=float, default=0.01)),
    ("--warmup-epochs", dict(type=float, default=1.0)),
    ("--patience", dict(type=int, default=40, help="early-stopping patience (epochs)")),
    ("--ema", dict(type=float, default=0.99,
                   help="momentum of the weight moving average that is validated and kept (0 = off)")),
    ("--source-weights", dict(default=DEFAULT_SOURCE_WEIGHTS,
                              help="comma list source=multiplier on sampling shares ('' for none)")),
    ("--exclude-sources", dict(default="",
                               help="comma list of sources left out of training AND validation")),
    ("--holdout-sources", dict(default="",
                               help="comma list of sources left out of training but kept in validation, "
                                    "where they count for the selection score and the threshold: "
                                    "unseen sources stand for the photos users will bring")),
    ("--init-from", dict(metavar="MODEL_DIR",
                         help="start from this model's weights (same architecture) instead of random ones")),
    ("--select", dict(default="auc", choices=("auc", "worst-real-auc"),
                      help="which validation score picks the kept epoch and drives early stopping: "
                           "overall ROC AUC, or the lowest AUC of any one real source against all "
                           "fakes (a run that accuses one kind of real photo scores low)")),
    ("--quality-match", dict(default="0,0", metavar="REAL,FAKE",
                             help="shares of real and of generated training crops given an extra quality "
                                  "drop (downscale, noise, JPEG; training.augment._quality_drop), e.g. "
                                  "0.15,0.45: more fakes than reals, so that picture quality carries "
                                  "no label")),
    ("--max-false-accusation", dict(type=float, default=0.05,
                                    help="the threshold is the lowest at which no real source in "
                                         "validation has more than this share of its pictures called "
                                         "generated")),
    ("--max-unsure", dict(type=float, default=0.10,
                          help="the unsure band holds at most this share of any validation source")),
    ("--cache-size", dict(type=int, default=160,
                          help="side of the decoded square kept in memory before random crops")),
    ("--crop-rule", dict(default="face-box", choices=("face-box", "centre-square"),
                         help="what the model is trained to judge: detector face crops (default; what "
                              "the predictor feeds it) or the whole centred square")),
    ("--limit", dict(type=int, default=0, help="use at most N images per split (tests)")),
    ("--border-jitter", dict(type=float, default=0.5,
                             help="share of training crops given a 1-5 %% foreign border on each side, "
                                  "so the generated picture's own edge carries no label "
                                  "(training.augment._border_jitter; 0 turns it off)")),
    ("--backdrop-swap", dict(type=float, default=0.0,
                             help="share of training crops (both classes) whose flat backdrop, if "
                                  "any, is replaced by a busy blurred field or a gradient "
                                  "(training.augment._swap_backdrop; issue #27's studio shortcut)")),
    ("--test-time-flip", dict(action=argparse.BooleanOptionalAction, default=False,
                              help="average each face's logit with its mirror image's at inference "
                                   "(doubles the classification cost; off by default: the browser's "
                                   "10 ms budget)")),
    ("--seed", dict(type=int, default=1337)),
    ("--no-cache", dict(action="store_true", help="do not read/write the decode cache")),
    ("--quiet", dict(action="store_true")),
)

# Each option's add_argument keywords, by the name a recipe or config.json gives it.
OPTION_SPECS = {flag[2:].replace("-", "_"): kwargs for flag, kwargs in OPTIONS}


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="facecheck train",
                                 description="Train a real-vs-generated face classifier.")
    for flag, kwargs in OPTIONS:
        ap.add_argument(flag, **kwargs)
    return ap


def parse_args(argv=None) -> argparse.Namespace:
    """The run's options: the command line over a recipe or saved config over the defaults; with
    --resume, the interrupted run's own."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.resume:
        args = _resumed(args)
    else:
        preset = _preset(parser, args)
        if preset:  # parsed again, so that flags given on the command line still win
            parser.set_defaults(**preset)
            args = parser.parse_args(argv)
        if args.config and not args.out:
            parser.error("--out is required with --config: a replay writes a new run folder")
        if not (args.data and args.out):
            parser.error("--data and --out are required (or --resume RUN)")
    if args.policy is None:
        args.policy = "reference" if args.arch == "reference" else "facecheck"
    return args


def _resumed(args: argparse.Namespace) -> argparse.Namespace:
    """Every option from the run's saved config (options it predates keep the given values), in
    the folder it now lies in."""
    saved = json.loads((Path(args.resume) / "config.json").read_text())
    known = vars(args)
    args = argparse.Namespace(**{k: saved.get(k, v) for k, v in known.items()})
    args.resume, args.out = str(Path(saved["out"])), saved["out"]
    if Path(args.out).resolve() != Path(known["resume"]).resolve():
        args.out = args.resume = known["resume"]
    return args


def recipe_path(name: str) -> Path:
    """A recipe's file: `name` itself when it is a path to a JSON file, else training/recipes/NAME.json."""
    path = Path(name)
    return path if path.suffix == ".json" else RECIPES_DIR / f"{name}.json"


def recipe_names() -> list[str]:
    return sorted(p.stem for p in RECIPES_DIR.glob("*.json"))


def _preset(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict:
    """The option values --recipe or --config gives (none without either), checked."""
    if args.recipe and args.config:
        parser.error("give --recipe or --config, not both")
    if args.recipe:
        path = recipe_path(args.recipe)
        if not path.is_file():
            parser.error(f"no recipe {args.recipe!r} (recipes: {', '.join(recipe_names())})")
        values = _read_json(parser, path)
        values.pop("description", None)
        return _checked(parser, values, f"recipe {args.recipe}")
    if args.config:
        saved = _read_json(parser, Path(args.config))
        values = {k: v for k, v in saved.items() if k not in RUN_RECORD_KEYS | NOT_FROM_FILES}
        return _checked(parser, values, f"config {args.config}")
    return {}


def _read_json(parser: argparse.ArgumentParser, path: Path) -> dict:
    try:
        values = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        parser.error(f"cannot read {path}: {e}")
    if not isinstance(values, dict):
        parser.error(f"{path}: expected a JSON object of option values")
    return values


def _checked(parser: argparse.ArgumentParser, values: dict, origin: str) -> dict:
    """The values, each checked against its option (a whole number given for a float option made
    a float); an unknown key, or a value its option would not take, stops with the key's name."""
    out = {}
    for key, value in values.items():
        if key in NOT_FROM_FILES:
            parser.error(f"{origin}: {key!r} is not read from a file (give --{key} on the command line)")
        spec = OPTION_SPECS.get(key)
        if spec is None:
            parser.error(f"{origin}: unknown key {key!r} (options are named as in a run's "
                         "config.json, e.g. patch_epochs for --patch-epochs)")
        if not _fits(spec, value):
            parser.error(f"{origin}: {key} = {value!r} is not a value --{key.replace('_', '-')} takes")
        out[key] = float(value) if spec.get("type") is float and value is not None else value
    return out


def _fits(spec: dict, value) -> bool:
    """Whether an option given as OPTIONS' `spec` takes this JSON value as its default."""
    if spec.get("action") in ("store_true", argparse.BooleanOptionalAction):
        return isinstance(value, bool)
    if value is None:
        return spec.get("default") is None
    if spec.get("type") in (int, float):
        number = float if spec["type"] is float else int
        return isinstance(value, int | number) and not isinstance(value, bool)
    return isinstance(value, str) and value in spec.get("choices", (value,))


def run_config(args: argparse.Namespace, contract, train_samples, val_samples, shares: dict,
               info: dict) -> dict:
    """A run's config.json: every resolved option (what `--config` and `--resume` read back), then
    the record of the run (RUN_RECORD_KEYS): its contract, split counts, sampling shares and
    what decoding skipped."""
    return {**vars(args), "contract": asdict(contract),
            "train_counts": {f"{k[0]}/{k[1]}": v for k, v in sorted(describe(train_samples).items())},
            "val_counts": {f"{k[0]}/{k[1]}": v for k, v in sorted(describe(val_samples).items())},
            "sampling_shares": {f"{k[0]}/{'fake' if k[1] else 'real'}": round(v, 4)
                                for k, v in sorted(shares.items())},
            **{k: v for k, v in info.items() if k != "decode_seconds"},
            "started_utc": datetime.now(UTC).isoformat(timespec="seconds")}
