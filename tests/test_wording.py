"""One wording for a result (facecheck/wording.py), pinned by the table the extension's copy
(extension/src/settings.js) is tested on too (extension/test/settings.test.js)."""

from __future__ import annotations

import json
import shutil
import subprocess

from facecheck.contract import VERDICTS
from facecheck.wording import HEADLINES, SCOPE, headline, pct, probability_text, rule_percent
from tests.helpers import ROOT

TABLE = json.loads((ROOT / "extension" / "test" / "wording-cases.json").read_text())
CASES = TABLE["cases"]


def test_the_shared_case_table():
    assert len(CASES) >= 10
    for c in CASES:
        assert headline(c["verdict"], c["p_fake"]) == c["headline"], c
        assert probability_text(c["p_fake"]) == c["probability"], c
    assert len(TABLE["rule_percents"]) >= 8
    for x, words in TABLE["rule_percents"]:
        assert rule_percent(x) == words, (x, words)


def test_the_probability_says_what_it_means_in_each_band():
    banded = TABLE["banded"]
    kinds = {"at or above": 0, "unsure": 0, "below": 0}
    for c in banded:
        got = probability_text(c["p_fake"], threshold=c["threshold"], unsure_from=c["unsureFrom"])
        assert got == c["probability"], c
        if "makes no claim" in got:
            kinds["unsure"] += 1
        elif "needed to call it generated" in got:
            kinds["below"] += 1
        elif got:
            kinds["at or above"] += 1
    assert min(kinds.values()) >= 2, kinds  # every band is pinned, in both front ends
    # Without a band, as before: the bare figure.
    assert probability_text(0.58) == "Probability generated: 58%"


def test_every_verdict_has_words_and_percentages_stay_within_1_to_99():
    assert set(HEADLINES) == set(VERDICTS)
    assert [pct(p) for p in (0.0, 0.004, 0.005, 0.5, 0.994, 0.995, 1.0)] == [1, 1, 1, 50, 99, 99, 99]
    assert pct(0.015) == 2 and pct(0.685) == 69  # half up, as Math.round


def test_the_js_copy_has_the_same_words():
    js = (ROOT / "extension" / "src" / "settings.js").read_text()
    for words in HEADLINES.values():
        assert f"'{words}'" in js, words
    assert SCOPE.replace('"', "").split(". ")[0].split(": ")[0] in js.replace('"', "")
    node = shutil.which("node")
    if node:  # the JS constant itself, not its source lines
        say = "process.stdout.write(require('./extension/src/settings.js').SCOPE)"
        out = subprocess.run([node, "-e", say], capture_output=True, text=True, cwd=ROOT, timeout=60,
                             check=True)
        assert out.stdout == SCOPE


def test_the_scope_says_the_model_knows_photographs_only():
    assert "photographs only" in SCOPE
    for kind in ("drawings", "cartoons", "renders", "paintings"):
        assert kind in SCOPE, kind
    assert "evidence, not proof" in SCOPE


def test_provenance_reads_as_in_the_extension():
    from facecheck.wording import provenance_detail, provenance_text

    cases = TABLE["provenance"]
    assert {c["provenance"]["kind"] for c in cases if c["provenance"]} >= {
        "ai-generated", "ai-edited", "captured", "invalid", "none"}
    for c in cases:
        assert provenance_text(c["provenance"]) == c["text"], c
        assert provenance_detail(c["provenance"]) == c["detail"], c
