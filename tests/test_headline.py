"""benchmarks/headline.py: the README's side-by-side table, from saved floors.json files."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import headline  # noqa: E402


def _floors(version, real_acc, fake_acc, auc):
    by_src = {"allage": {"by_class": {"real": {"acc": real_acc}}, "auc": None},
              "rvf10k": {"by_class": {"real": {"acc": real_acc}, "fake": {"acc": fake_acc}}, "auc": auc}}
    cc = {"hardfakevsrealfaces": {"by_class": {"real": {"acc": real_acc}, "fake": {"acc": fake_acc}},
                                  "auc": auc}}
    overall = {"balanced_accuracy": (real_acc + fake_acc) / 2, "auc": auc, "unsure_share": 0.0}
    return {"model": {"model_version": version},
            "sets": {"faces-test": {"sources": by_src, "overall": overall},
                     "crosscheck": {"sources": cc, "overall": overall}},
            "floors": [{"status": "PASS"}, {"status": "FAIL"}]}


def test_models_side_by_side(tmp_path, capsys):
    for name, args in (("a", ("va", 0.5, 0.9, 0.8)), ("b", ("vb", 0.97, 0.6, 0.95))):
        (tmp_path / name).mkdir()
        (tmp_path / name / "floors.json").write_text(json.dumps(_floors(*args)))
    headline.main([f"old={tmp_path / 'a'}", f"new={tmp_path / 'b'}"])
    out = capsys.readouterr().out
    assert "old (`va`)" in out and "new (`vb`)" in out
    assert "| `faces-test` allage reals: real-acc | 50.0% | 97.0% |" in out
    assert "| `faces-test` rvf10k fakes: fake-acc | 90.0% | 60.0% |" in out
    assert "| floors of issue #15 passed | 1 / 2 | 1 / 2 |" in out


def test_readme_table_is_replaced_in_place(tmp_path):
    readme = "# FaceCheck\n\ntext\n<!-- HEADLINE: old -->\n| a | b |\n|---|---|\n| x | 1 |\n\nafter\n"
    out = headline.replace_table(readme, "python benchmarks/headline.py n=f", "| new |\n|---|")
    assert out == ("# FaceCheck\n\ntext\n<!-- HEADLINE: python benchmarks/headline.py n=f -->\n"
                   "| new |\n|---|\n\nafter\n")
    with pytest.raises(ValueError, match="HEADLINE"):
        headline.replace_table("no marker\n", "c", "| t |")


def test_models_measured_under_different_floors_say_which(tmp_path, capsys):
    for name, issue in (("a", "15"), ("b", "27")):
        (tmp_path / name).mkdir()
        doc = dict(_floors("v" + name, 0.9, 0.9, 0.9), floors_issue=issue)
        (tmp_path / name / "floors.json").write_text(json.dumps(doc))
    headline.main([f"old={tmp_path / 'a'}", f"new={tmp_path / 'b'}"])
    assert "| floors passed (of the issue named) | 1 / 2 (#15) | 1 / 2 (#27) |" in capsys.readouterr().out


def test_a_source_one_model_lacks_reads_as_a_dash(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "floors.json").write_text(json.dumps(_floors("va", 0.9, 0.8, 0.9)))
    grown = _floors("vb", 0.9, 0.8, 0.9)
    grown["sets"]["crosscheck"]["sources"]["stylegan3"] = {"by_class": {"fake": {"acc": 0.5}}, "auc": None}
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "floors.json").write_text(json.dumps(grown))
    headline.main([f"old={tmp_path / 'a'}", f"new={tmp_path / 'b'}"])
    assert "| `crosscheck` stylegan3 fakes: fake-acc | - | 50.0% |" in capsys.readouterr().out
