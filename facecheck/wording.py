"""How a result is said to a person: one wording for the CLI, the server's page and the extension.

The extension's copy is `extension/src/settings.js` (headline, probabilityText, pct, SCOPE); both
are pinned by the same table, `extension/test/wording-cases.json`, read by tests/test_wording.py
and extension/test/settings.test.js.

- A headline per verdict: "Likely generated, 68%" (the probability that the face is generated),
  "Unsure", "Likely real", "No face found", "Too small to judge", "Could not check".
- The probability, wherever details are shown: "Probability generated: 29%"; given the band in
  force, below the threshold it also says what the number means, so that "Likely real" never sits
  beside a bare "58%": "Probability generated: 58%, between 50% and 85%: FaceCheck makes no claim
  either way" (unsure), "Probability generated: 12%, below the 85% needed to call it generated"
  (real).
- Percentages are whole numbers from 1 to 99, rounded half up: a calibrated probability is never
  certainty, so never "0%" or "100%".
- A model's threshold and band edges (technical details, summaries, the options) are percentages
  to a hundredth, without trailing zeros: "85.25%", "35%" (rule_percent).
- A picture's provenance, beside the verdict: one line, "Content Credentials: made with an AI tool"
  or "Picture metadata (unsigned): camera capture" (provenance_text; settings.js provenanceText),
  and its detail as a sentence (provenance_detail).
"""

from __future__ import annotations

import math

# The verdict codes (facecheck.contract.VERDICTS) -> the words a person reads.
HEADLINES = {
    "fake": "Likely generated",
    "unsure": "Unsure",
    "real": "Likely real",
    "no-face": "No face found",
    "too-small": "Too small to judge",
    "error": "Could not check",
}

# What a verdict means and cannot know, shown beside the details of a result: the model knows
# photographs only, so a result on a drawing, cartoon, render or painting says nothing.
SCOPE = ("FaceCheck judges faces made by StyleGAN-type generators, in photographs only: on "
         "drawings, cartoons, renders and paintings a result means nothing. Other AI images, face swaps "
         "and edited photos can read \"Likely real\". A result is evidence, not proof.")


def pct(p: float) -> int:
    """A probability as a whole percentage from 1 to 99, half up (as JavaScript's Math.round)."""
    return min(99, max(1, math.floor(p * 100 + 0.5)))


def rule_percent(x: float) -> str:
    """A threshold or band edge as a percentage to a hundredth, half up, without trailing zeros:
    0.8525 -> "85.25%", 0.853 -> "85.3%", 0.35 -> "35%" (as settings.js rulePercent, and the
    options page's fields)."""
    v = math.floor(x * 10000 + 0.5)
    if v % 100 == 0:
        return f"{v // 100}%"
    return f"{v / 100:.1f}%" if v % 10 == 0 else f"{v / 100:.2f}%"


def headline(verdict: str, p_fake: float | None = None) -> str:
    """The words for a verdict; "Likely generated" carries its probability."""
    words = HEADLINES.get(verdict, HEADLINES["error"])
    if verdict == "fake" and p_fake is not None:
        return f"{words}, {pct(p_fake)}%"
    return words


def probability_text(p_fake: float | None, threshold: float | None = None,
                     unsure_from: float | None = None) -> str:
    """The probability line of a result's details ("" when nothing was judged).

    Given the threshold in force (and the unsure band's lower edge, None for no band), a
    probability below the threshold says what it means: in the band, that FaceCheck makes no claim;
    below it, the figure needed to call it generated ("just below" when the rounded figure reaches
    the threshold's). As settings.js probabilityText(p, {threshold, unsureFrom}).
    """
    if p_fake is None:
        return ""
    bare = f"Probability generated: {pct(p_fake)}%"
    if threshold is None or p_fake >= threshold:
        return bare
    needed = rule_percent(threshold)
    if unsure_from is not None and p_fake >= unsure_from:
        between = f"between {rule_percent(unsure_from)} and {needed}"
        return f"{bare}, {between}: FaceCheck makes no claim either way"
    just = "just " if pct(p_fake) >= math.floor(threshold * 10000 + 0.5) / 100 else ""
    return f"{bare}, {just}below the {needed} needed to call it generated"


# What a picture's provenance (facecheck/provenance.py) claims, in a few words; its detail says the
# rest. Never part of the verdict.
PROVENANCE_SAYS = {
    "ai-generated": "made with an AI tool",
    "ai-edited": "edited with an AI tool",
    "captured": "camera capture",
    "invalid": "present, but they fail validation",
}


def provenance_text(prov: dict | None) -> str:
    """The one line for a provenance ({kind, detail, signed, trusted}): "Content Credentials: made
    with an AI tool", "Picture metadata (unsigned): camera capture"; "" when it claims nothing."""
    says = PROVENANCE_SAYS.get(str((prov or {}).get("kind")))
    if not says:
        return ""
    source = "Content Credentials" if prov.get("signed") is True else "Picture metadata (unsigned)"
    return f"{source}: {says}"


def provenance_detail(prov: dict | None) -> str:
    """The provenance's detail as a sentence: capitalised, with a full stop ("" without one)."""
    detail = (prov or {}).get("detail")
    d = detail.strip() if isinstance(detail, str) else ""
    return f"{d[:1].upper()}{d[1:]}{'' if d.endswith('.') else '.'}" if d else ""
