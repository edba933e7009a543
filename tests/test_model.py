import numpy as np
import pytest

from facecheck.contract import Contract
from facecheck.images import load_image
from facecheck.predictor import Predictor
from facecheck.preprocess import model_input
from tests.conftest import fixture_faces
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
    import keras

    keras.utils.set_random_seed(0)
    x, y = _fixture_batch()
    m = build_model("facecheck")
    m.compile(optimizer=keras.optimizers.Adam(1e-3),
              loss=keras.losses.BinaryCrossentropy(from_logits=True))
    first = float(m.evaluate(x, y, verbose=0))
    m.fit(x, y, epochs=12, batch_size=16, verbose=0)
    last = float(m.evaluate(x, y, verbose=0))
    assert last < first * 0.8, (first, last)


def test_save_reload_predict_agree(tiny_model):
    p1 = Predictor.load(tiny_model)
    p2 = Predictor.load(tiny_model)
    images = [load_image(f) for f in fixture_faces("fake")[:3] + fixture_faces("real")[:3]]
    a = [r["p_fake"] for r in p1.predict_many(images)]
    b = [r["p_fake"] for r in p2.predict_many(images)]
    single = [p1.predict(img)["p_fake"] for img in images]
    assert np.allclose(a, b, atol=1e-6)
    assert np.allclose(a, single, atol=1e-5), "batched and single predictions must agree"
    assert all(0.0 <= v <= 1.0 for v in a)
    # The saved model carries no optimizer state.
    assert not (tiny_model / "best.weights.h5").exists()


def test_predictor_output_shape(tiny_model):
    pred = Predictor.load(tiny_model)
    res = pred.predict(load_image(fixture_faces("real")[0]))
    assert set(res) == {"faces", "p_fake", "verdict"}
    assert res["verdict"] in ("fake", "real")
    (face,) = res["faces"]
    assert face["box"] == [0, 0, 300, 300]
    assert face["p_fake"] == res["p_fake"]
    expected = "fake" if res["p_fake"] >= pred.contract.threshold else "real"
    assert res["verdict"] == expected


@pytest.mark.parametrize("shape,box", [((300, 300), (0, 0, 300, 300)),
                                       ((200, 400), (100, 0, 200, 200)),
                                       ((401, 100), (0, 150, 100, 100))])
def test_crop_box_is_the_centred_square(shape, box):
    from facecheck.preprocess import crop_box

    assert crop_box(*shape, Contract()) == box


def test_shipped_model_on_the_fixture_faces():
    """The committed model, through the real predictor, on 32 cross-check images it never saw
    (31 of 32 right when it was shipped); runs without ../shared."""
    from facecheck.predictor import SHIPPED_MODEL_DIR

    pred = Predictor.load(SHIPPED_MODEL_DIR)
    assert pred.contract.test_time_flip and pred.contract.architecture == "facecheck"
    right = 0
    for label in ("real", "fake"):
        results = pred.predict_many([load_image(f) for f in fixture_faces(label)])
        right += sum(r["verdict"] == label for r in results)
    assert right >= 29, f"{right}/32 fixture faces right"
