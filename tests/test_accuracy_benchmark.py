"""benchmarks/accuracy.py scores `facecheck scan`'s CSV the way `evaluate` scores its predictions."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import accuracy  # noqa: E402


def test_scan_csv_scored_like_evaluate(tmp_path):
    rows = [("a.jpg", "real", "real"), ("b.jpg", "real", "unsure"), ("c.jpg", "real", "fake"),
            ("d.jpg", "fake", "fake"), ("e.jpg", "fake", "unsure"), ("f.jpg", "fake", "real"),
            ("g.jpg", "real", "no-face"), ("unlabelled.jpg", None, "fake")]
    csv_path = tmp_path / "scan.csv"
    csv_path.write_text("path,faces,p_fake,verdict,error\n" + "".join(
        f"{tmp_path / name},1,0.5,{verdict},\n" for name, _, verdict in rows))
    labels = {str((tmp_path / name).resolve()): label for name, label, _ in rows if label}
    # right: a (real), b (real called unsure: not an accusation), d (fake caught)
    assert accuracy.score_scan_csv(csv_path, labels) == (3, 7)


def _reports(counts):
    return {key: {"conditions": {"clean": {"overall": {"n": n, "n_total": n}}}}
            for key, n in counts.items()}


def test_reused_reports_over_older_data_are_flagged():
    same = _reports({("shipped", "faces-test"): 1887, ("shipped", "crosscheck"): 2489,
                     ("reference", "faces-test"): 1887, ("reference", "crosscheck"): 2489})
    assert accuracy._older_data_note(same, "reference") == []
    older = _reports({("shipped", "faces-test"): 1887, ("shipped", "crosscheck"): 2489,
                      ("reference", "faces-test"): 1487, ("reference", "crosscheck"): 2489})
    note = accuracy._older_data_note(older, "reference")
    assert "faces-test 1487 vs 1887" in note[0] and "crosscheck" not in note[0]
    assert accuracy._older_data_note(older, "shipped") == []
