"""The classifier architectures (training/model.py): their shapes, and that the default one learns."""

import keras
import numpy as np

from facecheck.contract import Contract
from facecheck.images import load_image
from facecheck.preprocess import model_input
from tests.helpers import fixture_faces
from training.model import build_model


def test_facecheck_architecture_is_compact_and_full_resolution_first():
    m = build_model("facecheck")
    assert m.input_shape == (None, 128, 128, 3)
    assert m.output_shape == (None, 1)
    assert m.count_params() <= 1_000_000
    convs = [layer for layer in m.layers if layer.__class__.__name__ == "Conv2D"]
    first = convs[0]
    assert first.strides == (1, 1)
    assert first.output.shape[1:3] == (128, 128), "no downsampling before the first convolution"
    assert any(layer.__class__.__name__ == "GlobalAveragePooling2D" for layer in m.layers)


def test_reference_architecture_matches_the_reference_project():
    m = build_model("reference")
    assert m.input_shape == (None, 128, 128, 3)
    assert m.output_shape == (None, 2)
    assert m.count_params() == 7_412_962
    kinds = [layer.__class__.__name__ for layer in m.layers[2:]]
    assert kinds == [
        "Conv2D", "BatchNormalization", "Conv2D", "MaxPooling2D", "Dropout",
        "Conv2D", "BatchNormalization", "MaxPooling2D", "Dropout", "Flatten",
        "Dense", "BatchNormalization", "Dropout", "Dense",
    ]
    assert [layer.filters for layer in m.layers if hasattr(layer, "filters")] == [64, 32, 64]
    assert m.layers[-1].activation.__name__ == "softmax"


def _fixture_batch():
    contract = Contract()
    xs, ys = [], []
    for label, y in (("real", 0), ("fake", 1)):
        for path in fixture_faces(label)[:8]:
            xs.append(model_input(load_image(path), contract)[0])
            ys.append(y)
    return np.stack(xs), np.array(ys, np.float32)[:, None]


def test_default_model_loss_falls_when_trained_on_fixture_faces():
    keras.utils.set_random_seed(0)
    x, y = _fixture_batch()
    m = build_model("facecheck")
    m.compile(optimizer=keras.optimizers.Adam(1e-3),
              loss=keras.losses.BinaryCrossentropy(from_logits=True))
    # Training-mode loss: BatchNorm's moving averages lag far behind in a handful of steps.
    hist = m.fit(x, y, epochs=15, batch_size=16, verbose=0).history["loss"]
    assert hist[-1] < hist[0] * 0.8, hist
