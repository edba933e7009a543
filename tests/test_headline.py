"""benchmarks/headline.py: the README's side-by-side table, from saved floors.json files."""

import json
import sys
from pathlib import Path

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
