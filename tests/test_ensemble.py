"""training/ensemble.py: members merged into one model compute exactly the weighted, temperature-scaled
sum of their logits (mirror-averaged in-graph where a member's contract says), and survive saving."""

from dataclasses import replace

import keras
import numpy as np
import pytest

from facecheck.contract import MODEL_FILE, Contract
from training import ensemble


def _member(folder, seed, flip, temperature):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(2, 3, padding="same")(inputs)  # not mirror-symmetric: the flip shows
    x = keras.layers.Flatten()(x)
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    folder.mkdir()
    model.save(folder / MODEL_FILE)
    contract = Contract(input_size=8, test_time_flip=flip, temperature=temperature, model_version=folder.name)
    contract.save(folder)
    return model


def test_the_merged_model_is_the_weighted_sum_of_its_members(tmp_path):
    a = _member(tmp_path / "a", 1, True, 2.0)
    b = _member(tmp_path / "b", 2, False, 0.5)
    model, contract, provenance = ensemble.build([f"{tmp_path / 'a'}@3", f"{tmp_path / 'b'}"], "ens")
    x = np.random.default_rng(0).uniform(0, 255, (5, 8, 8, 3)).astype(np.float32)
    za = (a.predict(x, verbose=0) + a.predict(x[:, :, ::-1], verbose=0)) / 2
    want = 0.75 * za / 2.0 + 0.25 * b.predict(x, verbose=0) / 0.5
    assert np.allclose(model.predict(x, verbose=0), want, atol=1e-5)
    assert not np.allclose(za, a.predict(x, verbose=0), atol=1e-3)  # the mirror average is really taken
    assert (contract.architecture, contract.temperature, contract.test_time_flip) == ("ensemble", 1.0, False)
    assert [m["weight"] for m in provenance] == [3.0, 1.0] and contract.extra["members"] == provenance
    # saved and loaded as the predictors load it
    model.save(tmp_path / MODEL_FILE)
    from facecheck.layers import CUSTOM_OBJECTS

    again = keras.saving.load_model(tmp_path / MODEL_FILE, compile=False, custom_objects=CUSTOM_OBJECTS)
    assert np.allclose(again.predict(x, verbose=0), want, atol=1e-5)


def test_members_must_share_the_crop_contract(tmp_path):
    a = _member(tmp_path / "a", 1, False, 1.0)
    c = Contract(input_size=8, test_time_flip=False)
    with pytest.raises(ValueError, match="crop_scale"):
        ensemble.merge([(a, c, 1.0), (a, replace(c, crop_scale=1.2), 1.0)])
    with pytest.raises(ValueError, match="positive"):
        ensemble.parse_member("runs/x@0")
