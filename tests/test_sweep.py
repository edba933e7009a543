"""benchmarks/sweep.py: the per-source table over runs and the per-recipe summary over seeds."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import sweep  # noqa: E402


def _score(threshold, auc, caught, real):
    return {"threshold": threshold, "unsure_from": None, "rows": {
        "faces/all": {"auc": auc, "n": 10},
        "faces/rvf10k": {"auc": auc, "caught": caught, "called_real": real, "n": 10},
        "crosscheck/taiwanese_studio": {"called_real": real, "n": 5}}}


def test_runs_side_by_side_and_seeds_summarised_per_recipe():
    scores = {"v2": _score(0.85, 0.95, 0.62, 0.946), "e-s0": _score(0.89, 0.94, 0.50, 0.90),
              "e-s1": _score(0.88, 0.96, 0.60, 1.0)}
    text = sweep.render(scores, "python benchmarks/sweep.py v2 e-s0 e-s1")
    assert "| measure | v2 | e-s0 | e-s1 | e mean (min-max) |" in text
    assert "| threshold | 0.850 | 0.890 | 0.880 |  |" in text
    assert "| faces/rvf10k AUC | 0.950 | 0.940 | 0.960 | 0.950 (0.940-0.960) |" in text
    assert "| faces/rvf10k caught | 62.0 | 50.0 | 60.0 | 55.0 (50.0-60.0) |" in text
    assert "| crosscheck/taiwanese_studio real | 94.6 | 90.0 | 100.0 | 95.0 (90.0-100.0) |" in text
    # AUCs first, then fakes caught, then reals not accused
    order = [line.split(" |")[0] for line in text.splitlines() if line.startswith("| faces/rvf10k")]
    assert order == ["| faces/rvf10k AUC", "| faces/rvf10k caught", "| faces/rvf10k real"]


def test_a_measure_one_run_lacks_is_left_out_of_the_auc_rows():
    scores = {"a": _score(0.5, 0.9, 0.5, 0.9), "b": _score(0.5, 0.9, 0.5, 0.9)}
    del scores["b"]["rows"]["faces/rvf10k"]["auc"]
    cols = sweep.columns(scores)
    assert ("faces/rvf10k", "auc") not in cols and ("faces/all", "auc") in cols


def _sets():
    import numpy as np

    y = np.array([0] * 40 + [1] * 20)
    src = np.array(["a"] * 20 + ["b"] * 20 + ["f"] * 20)
    return {name: (None, y, src) for name in ("val", "faces")}


def test_an_ensemble_averages_logits_and_picks_its_threshold_on_val():
    import numpy as np

    sets = _sets()
    y = sets["val"][1]
    rng = np.random.default_rng(0)
    # member 1 confuses real source "a" with fakes, member 2 real source "b": together they do not
    p1 = np.where(y == 1, 0.9, 0.1).astype(float)
    p2 = p1.copy()
    p1[:20] = rng.uniform(0.85, 0.95, 20)
    p2[20:40] = rng.uniform(0.85, 0.95, 20)
    members = [{"val": p1, "faces": p1}, {"val": p2, "faces": p2}]
    ps, threshold, unsure_from = sweep.ensemble(members, sets)
    z = (np.log(p1 / (1 - p1)) + np.log(p2 / (1 - p2))) / 2
    assert np.allclose(ps["faces"], 1 / (1 + np.exp(-z)))
    assert unsure_from <= threshold < 0.9  # every fake caught, no real source accused
    rows = sweep.rows_at(ps, sets, threshold)
    assert set(rows["val/all"]) == {"auc", "caught", "n"} and "val/a" not in rows
    assert rows["faces/f"]["caught"] == 1.0 and rows["faces/a"]["called_real"] == 1.0
    # each member alone must push its threshold above its fakes to spare its confused source
    _, t1, _ = sweep.ensemble([members[0]], sets)
    assert t1 > 0.9


def test_ensemble_specs_name_their_runs_and_weights():
    assert sweep.parse_spec("runs/a") == [(Path("runs/a"), 1.0)]
    assert sweep.parse_spec("models/v2@0.3+runs/b@0.7") == [(Path("models/v2"), 0.3), (Path("runs/b"), 0.7)]


def test_weights_move_the_ensemble_towards_a_member():
    import numpy as np

    sets = _sets()
    p1, p2 = np.full(60, 0.9), np.full(60, 0.1)
    members = [{"val": p1, "faces": p1}, {"val": p2, "faces": p2}]
    ps, _, _ = sweep.ensemble(members, sets, [3, 1])
    z = 0.75 * np.log(9) + 0.25 * np.log(1 / 9)
    assert np.allclose(ps["faces"], 1 / (1 + np.exp(-z)))
