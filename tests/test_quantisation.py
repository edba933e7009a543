"""benchmarks/quantisation.py: browser vs Python per face, and its table."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import quantisation  # noqa: E402


def _result(verdict, *ps):
    return {"verdict": verdict, "faces": [{"p_fake": p} for p in ps]}


def test_compare_counts_every_face_and_every_verdict_that_differs():
    python = {"a.jpg": _result("fake", 0.90, 0.20), "b.jpg": _result("real", 0.10),
              "c.jpg": _result("no-face")}
    js = {"items": [{"path": "a.jpg", "result": _result("fake", 0.92, 0.20)},
                    {"path": "b.jpg", "result": _result("unsure", 0.40)},
                    {"path": "c.jpg", "result": _result("no-face")}]}
    row = quantisation.compare(python, js)
    assert row["faces"] == 3 and row["files"] == 3 and row["verdicts_differ"] == 1
    assert abs(row["max_dp"] - 0.30) < 1e-9 and abs(row["mean_dp"] - (0.02 + 0 + 0.30) / 3) < 1e-9


def test_render_names_each_variant():
    row = {"files": 34, "faces": 40, "max_dp": 0.0123, "mean_dp": 0.002, "verdicts_differ": 1,
           "weights_bytes": 6_600_000, "zipped_bytes": 6_230_000}
    text = quantisation.render(Path("runs/x"), {"float16": row, "*/head_1/*": row}, "cmd")
    assert "| float16 | 34 | 40 | 0.0123 | 0.0020 | 1 | 6.60 | 6.23 |" in text
    assert "| float16, `*/head_1/*` uint8 |" in text
