"""Training end to end on a small subset: every artifact written, and the exported model agrees with Keras."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from bot.runtime import LiteRTRunner
from model_training.architectures import build_cnn, build_mlp
from model_training.artifacts import CONFUSION_FILE, CURVES_FILE, KERAS_FILE, METRICS_FILE, TFLITE_FILE
from model_training.cli import main as train_main
from model_training.data import load_mnist, to_model_input
from model_training.outliers import outlier_tensors
from model_training.recipes import RECIPES

METRICS_FIELDS = {
    "architecture",
    "test_accuracy",
    "test_loss",
    "per_digit_accuracy",
    "confusion_matrix",
    "parameter_count",
    "epochs",
    "best_epoch",
    "outlier_examples",
    "pair_examples",
    "members",
    "european_examples",
    "posted_examples",
    "validation_extra_examples",
    "calibration",
    "batch_size",
    "seed",
    "training_seconds",
    "tflite_agreement",
    "data",
    "versions",
    "date",
    "files",
}


def test_mlp_is_the_seed_tutorials_model_layer_for_layer():
    model = build_mlp()
    assert [type(layer).__name__ for layer in model.layers] == ["Flatten", "Dense", "Dense"]
    hidden, output = model.layers[1], model.layers[2]
    assert (hidden.units, hidden.activation.__name__) == (512, "relu")
    assert (output.units, output.activation.__name__) == (10, "softmax")
    assert model.input_shape == (None, 28, 28, 1)
    assert model.count_params() == 784 * 512 + 512 + 512 * 10 + 10


def test_mlp_recipe_is_the_seed_tutorials():
    recipe = RECIPES["mlp"]
    assert (recipe.epochs, recipe.batch_size, recipe.validation_size, recipe.distortion) == (5, 64, 0, None)
    optimizer = recipe.make_optimizer(100)
    assert isinstance(optimizer, keras.optimizers.Adam)
    assert float(optimizer.learning_rate) == pytest.approx(0.001)  # Keras's default, as in the tutorial


def test_cnn_takes_mnist_and_gives_ten_probabilities():
    model = build_cnn()
    probabilities = np.asarray(model(np.zeros((2, 28, 28, 1), np.float32), training=False))
    assert probabilities.shape == (2, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


@pytest.fixture(scope="module")
def trained_cnn(tmp_path_factory, mnist_npz):
    out = tmp_path_factory.mktemp("cnn")
    status = train_main(
        ["--arch", "cnn", "--limit", "3000", "--epochs", "2", "--data", str(mnist_npz), "--out", str(out)]
    )
    assert status == 0
    return out


def test_a_short_training_writes_every_artifact(trained_cnn, capsys):
    for name in (KERAS_FILE, TFLITE_FILE, METRICS_FILE, CURVES_FILE, CONFUSION_FILE):
        assert (trained_cnn / name).stat().st_size > 0, name
    for name in (CURVES_FILE, CONFUSION_FILE):
        assert (trained_cnn / name).read_bytes().startswith(b"\x89PNG")


def test_metrics_json_has_its_fields(trained_cnn, mnist_npz):
    metrics = json.loads((trained_cnn / METRICS_FILE).read_text())
    assert metrics.keys() >= METRICS_FIELDS
    assert metrics["architecture"] == "cnn" and metrics["epochs"] == 2
    assert metrics["train_examples"] + metrics["validation_examples"] == 3000
    assert metrics["outlier_examples"] == round(0.1 * metrics["train_examples"])  # doodles taught as unsure
    # The shipped model is two CNNs served as one, the mean of their answers; the second one alone is also taught
    # two digits framed as one (as unsure) and digits with a gap across where the pen skipped.
    first, second = metrics["members"]
    assert (first["seed"], second["seed"]) == (metrics["seed"], metrics["seed"] + 1)
    assert first["pair_examples"] == first["skipped_examples"] == 0
    assert second["pair_examples"] == round(0.1 * metrics["train_examples"])
    assert second["skipped_examples"] == round(0.05 * metrics["train_examples"])
    assert metrics["parameter_count"] == 2 * build_cnn().count_params()
    assert metrics["european_examples"] > 0 and metrics["posted_examples"] > 0
    calibration = metrics["calibration"]
    assert min(calibration["temperatures"]) > 0 and 0.3 <= calibration["confidence_threshold"] <= 0.95
    assert calibration["expected_calibration_error"]["validation"].keys() == {"before", "after"}
    assert 0.5 < metrics["test_accuracy"] <= 1.0
    assert sorted(metrics["per_digit_accuracy"]) == [str(digit) for digit in range(10)]
    assert np.array(metrics["confusion_matrix"]).sum() == 10000
    assert metrics["data"]["sha256"] == load_mnist(mnist_npz).sha256
    assert metrics["tflite_agreement"] >= 0.9999


def test_keras_and_tflite_files_load_back_and_agree(trained_cnn, mnist_test_split):
    images, _ = mnist_test_split
    batch = to_model_input(images[:2000])
    keras_probabilities = np.asarray(keras.saving.load_model(trained_cnn / KERAS_FILE).predict(batch, verbose=0))
    tflite_probabilities = LiteRTRunner(trained_cnn / TFLITE_FILE).predict(batch)
    assert (keras_probabilities.argmax(1) == tflite_probabilities.argmax(1)).mean() >= 0.9999
    np.testing.assert_allclose(keras_probabilities, tflite_probabilities, atol=1e-4)


def test_the_served_model_is_the_mean_of_its_two_models(trained_cnn, mnist_test_split):
    images, _ = mnist_test_split
    batch = to_model_input(images[:200])
    served = keras.saving.load_model(trained_cnn / KERAS_FILE)
    members = [layer for layer in served.layers if isinstance(layer, keras.Sequential)]
    assert len(members) == 2
    mean = np.mean([np.asarray(member(batch, training=False)) for member in members], axis=0)
    np.testing.assert_allclose(np.asarray(served(batch, training=False)), mean, atol=1e-6)


def test_the_mlp_trains_with_the_seed_recipe(tmp_path, mnist_npz):
    status = train_main(
        ["--arch", "mlp", "--limit", "2000", "--epochs", "1", "--data", str(mnist_npz), "--out", str(tmp_path)]
    )
    assert status == 0
    metrics = json.loads((tmp_path / METRICS_FILE).read_text())
    assert metrics["architecture"] == "mlp" and metrics["batch_size"] == 64
    assert metrics["validation_examples"] == 0 and metrics["best_epoch"] is None
    assert metrics["calibration"] is None and metrics["european_examples"] == 0
    assert metrics["test_accuracy"] > 0.8


def test_outliers_are_doodles_framed_as_the_bot_frames_pictures():
    doodles = outlier_tensors(12, seed=3)
    assert doodles.shape == (12, 28, 28, 1) and doodles.dtype == np.float32
    assert doodles.min() == 0.0 and 0.9 <= doodles.max() <= 1.0
    assert (doodles[:, :2].max(), doodles[:, -2:].max()) == (0.0, 0.0)  # MNIST's empty margin
    np.testing.assert_array_equal(doodles, outlier_tensors(12, seed=3))
