"""benchmarks/floors.py: the counting rules, the fairness flag and the floor checks on small
synthetic inputs, and one end-to-end run through `facecheck scan` on the pool."""

from __future__ import annotations

import copy
import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from benchmarks.floors import (
    FLOORS,
    FLOORS_27,
    check_floors,
    fairness,
    roc_auc,
    score_by_source,
    score_set,
    stratified_limit,
    utk_groups,
)
from tests.helpers import ROOT


def _row(label, verdict, p=None, source="s"):
    if p is None and verdict not in ("no-face", "too-small", "error"):
        p = {"fake": 0.9, "unsure": 0.45, "real": 0.1}[verdict]
    return {"label": label, "verdict": verdict, "p_fake": p, "source": source}


def test_unsure_is_right_for_reals_and_wrong_for_fakes():
    rows = [_row("real", "real"), _row("real", "unsure"), _row("real", "fake"), _row("real", "unsure"),
            _row("fake", "fake"), _row("fake", "unsure"), _row("fake", "real"), _row("fake", "fake")]
    s = score_set(rows)
    assert s["real_acc"] == 0.75  # real + 2 unsure right, 1 accused
    assert s["fake_acc"] == 0.5  # unsure fake is not caught
    assert s["balanced_accuracy"] == 0.625
    assert s["accuracy"] == 5 / 8
    assert s["unsure"] == 3 and s["unsure_share"] == 3 / 8
    assert s["by_class"]["real"]["unsure_share"] == 0.5
    assert s["by_class"]["fake"]["unsure_share"] == 0.25


def test_unjudged_pictures_are_counted_apart_and_excluded():
    rows = [_row("real", "real"), _row("real", "no-face"), _row("real", "too-small"),
            _row("fake", "fake"), _row("fake", "error"), _row("fake", "no-face")]
    s = score_set(rows)
    assert s["n"] == 6 and s["judged"] == 2 and s["unjudged"] == 4
    assert (s["no_face"], s["too_small"], s["error"]) == (2, 1, 1)
    assert s["real_acc"] == 1.0 and s["fake_acc"] == 1.0  # over judged pictures only
    assert s["by_class"]["fake"]["no_face"] == 1 and s["by_class"]["real"]["too_small"] == 1
    assert s["unsure_share"] == 0.0
    assert s["auc"] == 1.0


def test_auc_matches_sklearn_with_ties_and_needs_both_classes():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    p = np.round(rng.random(200) * 0.5 + 0.3 * y, 1)  # rounded: many ties
    labels = ["fake" if v else "real" for v in y]
    assert roc_auc(labels, list(p)) == pytest.approx(roc_auc_score(y, p))
    assert roc_auc(["real", "real"], [0.1, 0.9]) is None
    only_real = score_set([_row("real", "real"), _row("real", "fake")])
    assert only_real["auc"] is None and only_real["fake_acc"] is None
    assert only_real["balanced_accuracy"] is None and only_real["real_acc"] == 0.5


def test_score_by_source_splits_sources():
    rows = [_row("real", "real", source="a"), _row("real", "fake", p=0.6, source="b"),
            _row("fake", "fake", p=0.9, source="b")]
    res = score_by_source(rows)
    assert set(res["sources"]) == {"a", "b"}
    # the real is accused, yet p_fake still ranks the two right: AUC comes from p_fake
    assert res["sources"]["b"]["real_acc"] == 0.0 and res["sources"]["b"]["auc"] == 1.0
    assert res["overall"]["n"] == 3


def test_utk_groups_from_file_names():
    assert utk_groups("data/UTKFace/unlabeled/100_1_0_20170112215032192.jpg.chip.jpg") == {
        "age": "60+", "gender": "female", "race": "White"}
    assert utk_groups("12_0_3_x.jpg") == {"age": "0-12", "gender": "male", "race": "Indian"}
    assert utk_groups("13_1_1_x.jpg")["age"] == "13-19"
    assert utk_groups("39_0_2_x.jpg")["age"] == "20-39"
    assert utk_groups("40_0_4_x.jpg") == {"age": "40-59", "gender": "male", "race": "other"}
    assert utk_groups("39_1_20170116174525125.jpg") == {"age": "20-39", "gender": "female"}


def _utk(race, verdict, age=30, gender=0):
    return {"name": f"{age}_{gender}_{race}_2017.jpg.chip.jpg", "verdict": verdict}


def test_fairness_flags_a_group_over_the_limit():
    # 200 White faces, 1 accused; 40 Black faces, 4 accused (10%), 16 unsure.
    rows = [_utk(0, "fake" if i < 1 else "real") for i in range(200)]
    rows += [_utk(1, "fake" if i < 4 else ("unsure" if i < 20 else "real")) for i in range(40)]
    rows += [_utk(2, "no-face")]
    fair = fairness(rows)
    assert fair["judged"] == 240 and fair["accused"] == 5
    assert fair["average"] == pytest.approx(5 / 240)
    assert fair["limit"] == pytest.approx(5 / 240 + 0.05)  # 2.1% + 5 pts beats 2 x 2.1%
    by = {(g["attribute"], g["group"]): g for g in fair["groups"]}
    assert by[("race", "Black")]["rate"] == 0.10 and by[("race", "Black")]["flagged"]
    assert not by[("race", "White")]["flagged"]
    assert by[("race", "Asian")]["judged"] == 0 and by[("race", "Asian")]["n"] == 1
    assert fair["flagged"] == ["race Black"]
    # unsure is not an accusation: the same faces unsure instead of fake are not flagged
    calm = fairness([dict(r, verdict="unsure") if r["name"].split("_")[2] == "1" else r for r in rows])
    assert calm["flagged"] == []


def test_fairness_ignores_small_groups_and_uses_twice_the_average():
    rows = [_utk(0, "fake" if i < 20 else "real") for i in range(200)]  # 10%
    rows += [_utk(1, "fake" if i < 12 else "real") for i in range(29)]  # 41%, but only 29 faces
    fair = fairness(rows)
    assert fair["flagged"] == []
    assert fair["limit"] == pytest.approx(2 * fair["average"])  # 2 x 14% beats 14% + 5 pts
    rows.append(_utk(1, "fake"))  # now 30 faces: flagged
    assert fairness(rows)["flagged"] == ["race Black"]


def _results():
    """Synthetic results that meet every floor."""
    def src(real_acc=None, fake_acc=None, auc=None, unsure=0.0, n_real=100, n_fake=100):
        ba = None if real_acc is None or fake_acc is None else (real_acc + fake_acc) / 2
        return {"n_real": n_real if real_acc is not None else 0,
                "n_fake": n_fake if fake_acc is not None else 0, "real_acc": real_acc,
                "fake_acc": fake_acc, "balanced_accuracy": ba, "auc": auc, "unsure_share": unsure}

    faces = {"overall": src(0.96, 0.9, 0.96),
             "sources": {"rvf10k": src(0.9, 0.9, 0.94), "realorfake": src(0.91), "lfw": src(0.97),
                         "omi": src(fake_acc=0.86)}}
    cc = {"overall": src(0.95, 0.9, 0.98),
          "sources": {"hardfakevsrealfaces": src(0.93, 0.9, 0.98), "taiwanese_studio": src(0.96)}}
    deg = {"overall": src(0.93, 0.88), "sources": {"hardfakevsrealfaces": src(0.92, 0.87)}}
    fair = fairness([_utk(0, "real")] * 40)
    return {"sets": {"faces-test": faces, "crosscheck": cc, "crosscheck-jpeg50": deg,
                     "crosscheck-down0.5": copy.deepcopy(deg)}, "fairness": fair}


def _status(floors):
    return {f["name"]: f["status"] for f in floors}


def test_floors_all_pass_on_good_results():
    floors = check_floors(_results())
    assert all(f["status"] == "PASS" for f in floors), [f for f in floors if f["status"] != "PASS"]
    names = _status(floors)
    for name in ("faces test rvf10k real-acc", "faces test lfw real-acc", "faces test omi fake-acc",
                 "faces test rvf10k fake-acc", "faces test overall ROC AUC", "faces test rvf10k ROC AUC",
                 "crosscheck hardfakevsrealfaces real-acc", "crosscheck hardfakevsrealfaces fake-acc",
                 "crosscheck hardfakevsrealfaces ROC AUC", "crosscheck taiwanese_studio real-acc",
                 "jpeg50 hardfakevsrealfaces balanced-acc drop vs clean",
                 "down0.5 hardfakevsrealfaces balanced-acc drop vs clean",
                 "fairness: UTKFace groups over the limit", "faces-test omi unsure share",
                 "crosscheck taiwanese_studio unsure share"):
        assert name in names
    assert "faces test omi real-acc" not in names  # omi has no reals


@pytest.mark.parametrize("path, value, name", [
    (("faces-test", "lfw", "real_acc"), 0.9499, "faces test lfw real-acc"),
    (("faces-test", "rvf10k", "real_acc"), 0.8799, "faces test rvf10k real-acc"),
    (("faces-test", "realorfake", "real_acc"), 0.8999, "faces test realorfake real-acc"),
    (("faces-test", "omi", "fake_acc"), 0.8499, "faces test omi fake-acc"),
    (("faces-test", "rvf10k", "auc"), 0.9299, "faces test rvf10k ROC AUC"),
    (("crosscheck", "hardfakevsrealfaces", "auc"), 0.9699, "crosscheck hardfakevsrealfaces ROC AUC"),
    (("crosscheck", "taiwanese_studio", "real_acc"), 0.9499, "crosscheck taiwanese_studio real-acc"),
    (("crosscheck", "taiwanese_studio", "unsure_share"), 0.1501, "crosscheck taiwanese_studio unsure share"),
    (("faces-test", "omi", "unsure_share"), 0.1501, "faces-test omi unsure share"),
])
def test_a_value_just_past_its_floor_fails(path, value, name):
    res = _results()
    set_name, src, metric = path
    res["sets"][set_name]["sources"][src][metric] = value
    status = _status(check_floors(res))
    assert status[name] == "FAIL"
    assert sum(s == "FAIL" for s in status.values()) == 1


def test_rvf10k_floor_is_its_own_and_other_reals_need_95():
    res = _results()
    res["sets"]["faces-test"]["sources"]["rvf10k"]["real_acc"] = 0.89  # fine for rvf10k
    res["sets"]["faces-test"]["sources"]["lfw"]["real_acc"] = 0.94  # not fine for lfw
    status = _status(check_floors(res))
    assert status["faces test rvf10k real-acc"] == "PASS"
    assert status["faces test lfw real-acc"] == "FAIL"


def test_overall_auc_and_degradation_drop():
    res = _results()
    res["sets"]["faces-test"]["overall"]["auc"] = 0.949
    # clean hardfakevsrealfaces balanced accuracy is 91.5%: 87.4% is a 4.1-point drop
    res["sets"]["crosscheck-jpeg50"]["sources"]["hardfakevsrealfaces"]["balanced_accuracy"] = 0.874
    res["sets"]["crosscheck-down0.5"]["sources"]["hardfakevsrealfaces"]["balanced_accuracy"] = 0.876
    floors = {f["name"]: f for f in check_floors(res)}
    assert floors["faces test overall ROC AUC"]["status"] == "FAIL"
    jpeg = floors["jpeg50 hardfakevsrealfaces balanced-acc drop vs clean"]
    assert jpeg["status"] == "FAIL" and jpeg["value"] == pytest.approx(0.041)
    assert floors["down0.5 hardfakevsrealfaces balanced-acc drop vs clean"]["status"] == "PASS"


def test_fairness_floor_fails_when_a_group_is_flagged_and_missing_data_is_not_a_pass():
    res = _results()
    res["fairness"] = fairness([_utk(0, "real")] * 100 + [_utk(1, "fake")] * 10 + [_utk(1, "real")] * 30)
    assert _status(check_floors(res))["fairness: UTKFace groups over the limit"] == "FAIL"
    res = _results()
    del res["sets"]["crosscheck"]["sources"]["taiwanese_studio"]
    assert _status(check_floors(res))["crosscheck taiwanese_studio real-acc"] == "n/a"


def test_floors_can_be_changed_in_one_place():
    floors = copy.deepcopy(FLOORS)
    floors["faces_fake_acc"]["default"] = 0.87
    assert _status(check_floors(_results(), floors))["faces test omi fake-acc"] == "FAIL"


def test_issue_27_floors_are_stricter_and_cover_the_new_generators():
    res = _results()
    res["sets"]["crosscheck"]["sources"]["generated_photos"] = {
        "n_real": 0, "n_fake": 600, "real_acc": None, "fake_acc": 0.94, "balanced_accuracy": None,
        "auc": None, "unsure_share": 0.0}
    old, new = _status(check_floors(res)), _status(check_floors(res, FLOORS_27))
    assert old["faces test rvf10k real-acc"] == "PASS" and new["faces test rvf10k real-acc"] == "FAIL"
    assert old["faces test overall ROC AUC"] == "PASS" and new["faces test overall ROC AUC"] == "FAIL"
    assert "crosscheck generated_photos fake-acc" not in old
    assert new["crosscheck generated_photos fake-acc"] == "FAIL"
    assert new["crosscheck stylegan3 fake-acc"] == "n/a"  # not measured is not a pass


def test_issue_27_fairness_caps_every_group_at_five_percent():
    # average 4.2 %: the relative limit (9.2 %) lets a 7.5 % group through, the 5 % cap does not
    rows = [_utk(0, "fake" if i < 7 else "real") for i in range(200)] + [
        _utk(1, "fake" if i < 3 else "real") for i in range(40)]
    assert fairness(rows)["flagged"] == []
    capped = fairness(rows, **FLOORS_27["fairness"])
    assert capped["limit"] == 0.05 and capped["flagged"] == ["race Black"]


def test_stratified_limit_keeps_every_stratum():
    items = [{"source": s, "label": lab, "i": i} for i, (s, lab) in enumerate(
        [("a", "real")] * 50 + [("b", "fake")] * 3 + [("c", "real")] * 50)]
    picked = stratified_limit(items, 10)
    assert len(picked) == 10
    assert {(it["source"], it["label"]) for it in picked} == {("a", "real"), ("b", "fake"), ("c", "real")}
    assert [it["i"] for it in picked] == sorted(it["i"] for it in picked)
    assert picked == stratified_limit(items, 10)  # seeded
    assert stratified_limit(items, 0) == items


@pytest.mark.pool
@pytest.mark.slow
def test_floors_end_to_end(shared_data, tmp_path):
    out = tmp_path / "floors"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "floors.py"), "--data", str(shared_data),
                           "--limit", "40", "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    md = (out / "floors.md").read_text()
    report = json.loads((out / "floors.json").read_text())
    assert (out / "predictions.csv").exists()
    assert md in proc.stdout
    faces_sources = {"rvf10k", "utkface", "realorfake", "omi", "omi_cfd_inversions", "scut_fbp5500",
                     "congress_portraits", "allage_faces", "selfies", "lfw"}
    assert set(report["sets"]["faces-test"]["sources"]) == faces_sources
    cross_sources = {"hardfakevsrealfaces", "taiwanese_studio", "generated_photos", "stylegan3"}
    for name in ("crosscheck", "crosscheck-jpeg50", "crosscheck-down0.5"):
        assert set(report["sets"][name]["sources"]) == cross_sources
    for src in faces_sources | cross_sources:
        assert f"| {src} |" in md
    assert report["fairness"]["n"] == 40
    with open(out / "predictions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 5 * 40  # faces-test, crosscheck x 3 conditions, utkface val+test
    # a UTKFace test picture sampled in both faces-test and utkface-valtest is scanned once
    assert 4 * 40 <= report["images_scanned"] <= 5 * 40
    assert {r["verdict"] for r in rows} <= {"fake", "unsure", "real", "no-face", "too-small", "error"}
    assert {f["status"] for f in report["floors"]} <= {"PASS", "FAIL", "n/a"}
    assert "## Floors:" in md and "## Fairness" in md
