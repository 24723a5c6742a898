"""Training on users' corrections: which answers count, each digit labelled by the verdict and repeated by its weight,
added to training only (never the validation or the MNIST test split), and learned."""

from __future__ import annotations

import datetime
import json

import numpy as np
import pytest

from bot.feedback.store import Correction, FeedbackStore
from bot.runtime import LiteRTRunner
from bot.settings import DEFAULT_MODEL_PATH
from model_training.artifacts import METRICS_FILE, TFLITE_FILE
from model_training.cli import main as train_main
from model_training.corrections import DEFAULT_WEIGHT, CorrectionsError, corrected_digits, labelled_digits
from model_training.data import file_sha256, load_mnist, to_model_input
from model_training.recipes import RECIPES
from model_training.train import train
from tests.feedback_answers import rated_answer

FIRST_UNUSED = 50_000  # MNIST training digits from here on are in no test's training subset


def correction(answer: str, verdict: str, inputs: tuple[np.ndarray, ...], model: str = "model-a") -> Correction:
    return Correction(
        datetime.datetime(2026, 11, 29, 12, tzinfo=datetime.UTC), "discord", answer, verdict, 0.9, model, inputs
    )


def digit(value: int) -> np.ndarray:
    return np.full((28, 28), value, np.uint8)


def test_each_digit_of_a_corrected_answer_is_labelled_by_the_verdicts_digit_in_its_place():
    corrections = [
        correction("7", "1", (digit(1),)),
        correction("2014", "2024", (digit(2), digit(3), digit(4), digit(5)), model="model-b"),
    ]
    corrected = corrected_digits(corrections, weight=3)
    assert corrected.labels.tolist() == [1, 2, 0, 2, 4]
    assert corrected.images[:, 0, 0].tolist() == [1, 2, 3, 4, 5]
    assert (corrected.answers, corrected.skipped, corrected.weight) == (2, 0, 3)
    assert corrected.by_model == {"model-a": 1, "model-b": 1}


def test_answers_whose_digits_do_not_match_the_verdicts_are_skipped():
    corrections = [
        correction("204", "2024", (digit(3), digit(4), digit(5))),  # the bot missed a digit
        correction("11", "4", (digit(6), digit(7))),  # the bot split one digit in two
        correction("3", "8", (digit(8),)),
    ]
    corrected = corrected_digits(corrections)
    assert corrected.labels.tolist() == [8] and corrected.images[0, 0, 0] == 8
    assert (corrected.answers, corrected.skipped) == (1, 2)


def test_each_digit_is_trained_on_weight_times_as_model_input():
    corrected = labelled_digits([(digit(0), 3), (digit(255), 9)], weight=4)
    tensors, labels = corrected.training_tensors()
    assert tensors.shape == (8, 28, 28, 1) and tensors.dtype == np.float32
    assert labels.tolist() == [3] * 4 + [9] * 4
    assert tensors[:4].max() == 0.0 and tensors[4:].min() == 1.0
    assert corrected.summary() | {"by_model": None} == {
        "answers": 2,
        "digits": 2,
        "skipped": 0,
        "weight": 4,
        "training_examples": 8,
        "by_model": None,
    }


@pytest.mark.parametrize(
    ("image", "label", "complaint"),
    [(np.zeros((28, 28), np.float32), 3, "uint8 28×28"), (digit(0)[:20], 3, "uint8 28×28"), (digit(0), 10, "0-9")],
)
def test_a_digit_that_is_no_model_input_is_refused(image, label, complaint):
    with pytest.raises(CorrectionsError, match=complaint):
        labelled_digits([(image, label)])


def test_a_weight_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        labelled_digits([(digit(0), 3)], weight=0)


@pytest.fixture(scope="module")
def mnist(mnist_npz):
    return load_mnist(mnist_npz)


def inverted_digits(mnist, start: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """MNIST training digits in black on white: a kind of input no MNIST-trained model reads (under 10% right)."""
    return 255 - mnist.x_train[start : start + count], mnist.y_train[start : start + count]


def test_corrections_are_learned_in_proportion_to_their_weight(mnist):
    """300 corrections of one kind: weighted 5, the model reads other digits of that kind; weighted 1, hardly."""
    images, labels = inverted_digits(mnist, FIRST_UNUSED, 300)
    held_out, held_out_labels = inverted_digits(mnist, FIRST_UNUSED + 5000, 1000)
    read_right = {}
    for weight in (1, 5):
        run = train(
            RECIPES["mlp"],
            mnist,
            epochs=1,
            batch_size=64,
            seed=1,
            limit=2000,
            corrections=labelled_digits(zip(images, labels, strict=True), weight),
        )
        assert (run.train_examples, run.correction_examples) == (2000, 300 * weight)
        answers = run.model.predict(to_model_input(held_out), verbose=0).argmax(axis=1)
        read_right[weight] = (answers == held_out_labels).mean()
    assert read_right[1] < 0.3 and read_right[5] > 0.5, read_right


def test_corrections_go_to_training_only_never_to_the_held_out_digits(mnist):
    images, labels = inverted_digits(mnist, FIRST_UNUSED, 200)
    run = train(
        RECIPES["cnn"],
        mnist,
        epochs=1,
        batch_size=128,
        seed=1,
        limit=1000,
        corrections=labelled_digits(zip(images, labels, strict=True), 2),
    )
    assert run.correction_examples == 400 and run.validation_examples == 100
    held_out_tensors, _ = run.validation
    # Inverted digits are mostly white; every held-out digit (MNIST, European, posted) is mostly black.
    assert held_out_tensors.mean(axis=(1, 2, 3)).max() < 0.5


@pytest.fixture(scope="module")
def corrections_database(tmp_path_factory, mnist):
    """301 corrected answers (300 single black-on-white digits, one number), one skipped, and some not corrected."""
    url = f"sqlite:///{tmp_path_factory.mktemp('feedback') / 'digit-bot.sqlite3'}"
    images, labels = inverted_digits(mnist, FIRST_UNUSED, 304)
    store = FeedbackStore.open(url)
    try:
        for image, label in zip(images[:300], labels[:300], strict=True):
            rated_answer(store, str((label + 1) % 10), str(label), [image])
        rated_answer(store, "1111", "".join(map(str, labels[300:])), images[300:])
        rated_answer(store, "111", "2024", images[300:303])  # the bot missed a digit: skipped
        for image in mnist.x_train[:5]:  # marked right, or never rated: not corrections
            rated_answer(store, "0", "right", [image])
            rated_answer(store, "0", None, [image])
    finally:
        store.close()
    return url


def test_training_with_corrections_reports_before_and_after(tmp_path, mnist, mnist_npz, corrections_database, capsys):
    arguments = ["--arch", "mlp", "--limit", "2000", "--epochs", "1", "--data", str(mnist_npz), "--out", str(tmp_path)]
    assert train_main([*arguments, "--corrections", corrections_database]) == 0

    metrics = json.loads((tmp_path / METRICS_FILE).read_text())
    report = metrics["corrections"]
    assert {key: report[key] for key in ("answers", "digits", "skipped", "weight", "training_examples")} == {
        "answers": 301,
        "digits": 304,
        "skipped": 1,
        "weight": DEFAULT_WEIGHT,
        "training_examples": 304 * DEFAULT_WEIGHT,
    }
    assert report["by_model"] == {"model-hash": 301}
    assert (metrics["train_examples"], metrics["correction_examples"]) == (2000, 304 * DEFAULT_WEIGHT)
    assert np.array(metrics["confusion_matrix"]).sum() == 10000, "the MNIST test split is the test split alone"

    before, after = report["before"], report["after"]
    assert before["model"] == str(DEFAULT_MODEL_PATH) and after["model"] == str(tmp_path / TFLITE_FILE)
    assert before["sha256"] == file_sha256(DEFAULT_MODEL_PATH)
    for scores in (before, after):
        assert scores["accuracy"].keys() == {"mnist-test", "real-photos", "real-photos-extra"}
    assert after["accuracy"]["mnist-test"] == pytest.approx(metrics["test_accuracy"], abs=0.001)
    printed = capsys.readouterr().out
    assert "304 digits of 301 corrected answers" in printed
    rows = {line.split()[0]: line.split()[1:] for line in printed.splitlines() if line.startswith("  ")}
    assert rows["mnist-test"] == [f"{before['accuracy']['mnist-test']:.2%}", f"{after['accuracy']['mnist-test']:.2%}"]

    held_out, held_out_labels = inverted_digits(mnist, FIRST_UNUSED + 5000, 1000)
    answers = LiteRTRunner(tmp_path / TFLITE_FILE).predict(to_model_input(held_out)).argmax(axis=1)
    assert (answers == held_out_labels).mean() > 0.5, "the exported model learned the corrections' kind"


def test_a_database_without_corrections_stops_before_training(tmp_path, mnist_npz, capsys):
    url = f"sqlite:///{tmp_path / 'digit-bot.sqlite3'}"
    store = FeedbackStore.open(url)
    rated_answer(store, "7", "right", [np.zeros((28, 28), np.uint8)])
    store.close()
    assert train_main(["--data", str(mnist_npz), "--out", str(tmp_path), "--corrections", url]) == 1
    assert capsys.readouterr().err == "error: the database holds no corrected answer to train on\n"
    assert not (tmp_path / METRICS_FILE).exists()


def test_a_missing_database_stops_before_training(tmp_path, mnist_npz, capsys):
    path = tmp_path / "digit-bot.sqlite3"
    assert train_main(["--data", str(mnist_npz), "--out", str(tmp_path), "--corrections", f"sqlite:///{path}"]) == 1
    assert capsys.readouterr().err == f"error: no feedback database at {path}: the bot makes it when it first starts\n"
    assert not path.exists()
