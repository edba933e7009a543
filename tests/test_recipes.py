"""Recipes and replayed runs of `facecheck train` (training/config.py): option parsing only, no
training, no TensorFlow."""

import json

import pytest

from facecheck.contract import Contract
from tests.helpers import ROOT
from training.config import RECIPES_DIR, RUN_RECORD_KEYS, parse_args, recipe_names, run_config
from training.data import Sample

RUN = ["--data", "pool/manifest.csv", "--out", "runs/x"]
STAGE1_EXCLUDED = "scut_fbp5500,congress_portraits,allage_faces,selfies,lfw"
# The flags the Makefile's `train` (stage 1), `finetune` and `train-reference` targets gave before
# they named recipes: each recipe must stand for exactly these.
MAKEFILE_FLAGS = {
    "facecheck-v2-stage1": ["--exclude-sources", STAGE1_EXCLUDED],
    "facecheck-v2": ["--init-from", "models/facecheck-v1", "--holdout-sources", "congress_portraits",
                     "--quality-match", "0.15,0.45",
                     "--source-weights", "omi=2.5,utkface=0.7,omi_cfd_inversions=0.6,rvf10k=1.6,realorfake=2",
                     "--epochs", "36", "--patch-epochs", "18", "--lr", "6e-4", "--patience", "36",
                     "--select", "worst-real-auc", "--test-time-flip"],
    "facecheck-v3": ["--arch", "lite0", "--input-size", "160", "--train-from", "all",
                     "--holdout-sources", "congress_portraits", "--quality-match", "0.15,0.45",
                     "--source-weights", "omi=2.5,utkface=0.7,omi_cfd_inversions=0.6,rvf10k=1.6,realorfake=2",
                     "--epochs", "8", "--patch-epochs", "0", "--steps-per-epoch", "200", "--lr", "5e-4",
                     "--warmup-epochs", "0.5", "--patience", "8", "--select", "worst-real-auc",
                     "--no-test-time-flip"],
    "reference": ["--arch", "reference", "--epochs", "12", "--steps-per-epoch", "100", "--patience", "5"],
}


def options(args) -> dict:
    """The options that shape a run, less where their values were read from."""
    return {k: v for k, v in vars(args).items() if k not in ("recipe", "config")}


@pytest.mark.parametrize("name", sorted(MAKEFILE_FLAGS))
def test_each_recipe_gives_the_flags_the_makefile_gave(name):
    assert options(parse_args(["--recipe", name, *RUN])) == options(parse_args([*MAKEFILE_FLAGS[name], *RUN]))
    assert options(parse_args(["--recipe", str(RECIPES_DIR / f"{name}.json"), *RUN])) == options(
        parse_args(["--recipe", name, *RUN])), "a recipe's path works as its name does"


def test_every_shipped_recipe_is_pinned():
    assert recipe_names() == sorted(MAKEFILE_FLAGS)


def test_the_shipped_models_were_trained_with_their_recipes():
    """facecheck-v2's saved config is its recipe; facecheck-v1's is the defaults, which stage 1
    keeps, less the real sources the pool did not have yet."""
    v2 = parse_args(["--config", str(ROOT / "models" / "facecheck-v2" / "config.json"), "--out", "runs/x"])
    recipe = parse_args(["--recipe", "facecheck-v2", "--data", v2.data, "--out", "runs/x"])
    assert options(v2) == options(recipe)
    v1 = parse_args(["--config", str(ROOT / "models" / "facecheck-v1" / "config.json"), "--out", "runs/x",
                     "--exclude-sources", STAGE1_EXCLUDED])
    stage1 = parse_args(["--recipe", "facecheck-v2-stage1", "--data", v1.data, "--out", "runs/x"])
    assert options(v1) == options(stage1)


def test_command_line_flags_override_the_recipe():
    args = parse_args(["--recipe", "facecheck-v2", "--epochs", "5", "--select", "auc", "--no-test-time-flip",
                       *RUN])
    assert (args.epochs, args.select, args.test_time_flip) == (5, "auc", False)
    assert (args.patch_epochs, args.init_from, args.lr) == (18, "models/facecheck-v1", 6e-4), "the rest stays"


def test_config_of_a_saved_run_replays_its_options(tmp_path):
    args = parse_args(["--recipe", "reference", "--seed", "7", "--limit", "3", *RUN])
    samples = [Sample("a.jpg", 0, "calm"), Sample("b.jpg", 1, "gan")]
    info = {"skipped_undecodable": {"train": 0, "val": 1}, "no_face_found_kept_whole": {"train": 0, "val": 0},
            "decode_seconds": 1.5}
    config = run_config(args, Contract(), samples, samples, {("calm", 0): 0.5, ("gan", 1): 0.5}, info)
    assert set(config) - set(vars(args)) <= RUN_RECORD_KEYS, "the record is told apart from the options"
    saved = tmp_path / "config.json"
    saved.write_text(json.dumps(config, indent=2, default=str) + "\n")  # as train.main writes it

    replay = parse_args(["--config", str(saved), "--out", "runs/again"])
    assert options(replay) == {**options(args), "out": "runs/again"}
    assert replay.config == str(saved) and replay.recipe is None
    assert parse_args(["--config", str(saved), "--out", "runs/again", "--seed", "8"]).seed == 8


@pytest.mark.parametrize("recipe, named", [
    ({"epochs": 3, "patch_epoch": 2}, "'patch_epoch'"),     # a typo
    ({"select": "best"}, "select"),                         # not one of its choices
    ({"epochs": "36"}, "epochs"),                           # a string for a number
    ({"out": "runs/y"}, "'out'"),                           # where a run goes is no recipe's
])
def test_a_recipe_key_or_value_it_cannot_take_is_an_error_naming_it(tmp_path, capsys, recipe, named):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(recipe))
    with pytest.raises(SystemExit):
        parse_args(["--recipe", str(path), *RUN])
    assert named in capsys.readouterr().err


def test_an_unknown_recipe_name_lists_the_recipes(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--recipe", "facecheck-v9", *RUN])
    assert "facecheck-v2-stage1" in capsys.readouterr().err
