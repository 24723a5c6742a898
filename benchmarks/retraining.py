"""Retraining on users' corrections, end to end on a small run: a model; chat pictures of digits it has never seen,
read by the bot, and those it reads wrong kept as users' corrections in a feedback database; the same training again
with them (`python -m model_training --corrections`), which prints the model replaced and the new one side by side;
and both on other chat pictures of the same kind, which is what corrections should teach.

    .venv/bin/python benchmarks/retraining.py [--limit 6000] [--epochs 3] [--pictures 3000] [--out build/retraining]

The small run's models are far from the shipped one: compare before with after, not with the README's numbers.
The defaults take about 20 minutes on a busy 2-core machine, most of them rendering the 6,000 chat pictures.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from bot.errors import DigitBotError  # noqa: E402
from bot.feedback.store import FeedbackStore, StoredAnswer, model_version, quantize  # noqa: E402
from bot.recognizer import Recognizer  # noqa: E402
from model_training.artifacts import TFLITE_FILE  # noqa: E402
from model_training.chat_pictures import rendered_examples  # noqa: E402
from model_training.cli import main as train_main  # noqa: E402
from model_training.data import MNIST_NPZ  # noqa: E402

FIRST_UNUSED = 50_000  # MNIST training digits from here on are trained on by no run of up to 50,000
HELD_OUT = 55_000  # ... and from here on, they are the other pictures of the corrections' kind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=6000, help="MNIST training digits of each run (default: 6000)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs of each run (default: 3)")
    parser.add_argument("--pictures", type=int, default=3000, help="chat pictures users send, and as many held out")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "build" / "retraining")
    arguments = parser.parse_args()
    shutil.rmtree(arguments.out, ignore_errors=True)
    training = ["--arch", "cnn", "--limit", str(arguments.limit), "--epochs", str(arguments.epochs)]
    training += ["--data", str(MNIST_NPZ), "--out", str(arguments.out)]

    started = time.perf_counter()
    train_main(training)
    print(f"\nthe model before: {time.perf_counter() - started:.0f} s")
    with np.load(MNIST_NPZ) as mnist:
        images, labels = mnist["x_train"], mnist["y_train"]
    sent = rendered_examples(images[FIRST_UNUSED:], labels[FIRST_UNUSED:], arguments.pictures, seed=1)
    held_out = rendered_examples(images[HELD_OUT:], labels[HELD_OUT:], arguments.pictures, seed=2)
    model_path = arguments.out / TFLITE_FILE
    database_url = f"sqlite:///{arguments.out / 'feedback.sqlite3'}"
    corrected = keep_corrections(Recognizer(model_path), model_path, sent, database_url)
    print(f"{corrected} of {len(sent)} chat pictures read wrong and corrected by their senders")
    before = read_right(Recognizer(model_path), held_out)

    started = time.perf_counter()
    train_main([*training, "--corrections", database_url])
    print(f"\nthe model after: {time.perf_counter() - started:.0f} s")
    after = read_right(Recognizer(model_path), held_out)
    print(f"other chat pictures of the corrections' kind ({len(held_out)}): before {before:.2%}, after {after:.2%}")


def keep_corrections(
    recognizer: Recognizer, model_path: Path, pictures: list[tuple[str, int, bytes]], database_url: str
) -> int:
    """Each picture the bot answers wrong, kept as the bot keeps it and corrected by its sender; how many."""
    store = FeedbackStore.open(database_url)
    version = model_version(model_path)
    corrected = 0
    try:
        for index, (_, label, picture) in enumerate(pictures):
            try:
                prediction = recognizer.read(picture)
            except DigitBotError:
                continue  # refused: the sender got advice, not an answer to correct
            if prediction.number == str(label):
                continue
            user_key = store.user_key("discord", index)
            inputs = tuple(quantize(model_input) for model_input in prediction.model_inputs)
            answer = StoredAnswer("discord", user_key, prediction.number, prediction.confidence, version, inputs)
            store.record_answer(answer)
            store.rate(answer.id, user_key, str(label))
            corrected += 1
    finally:
        store.close()
    return corrected


def read_right(recognizer: Recognizer, pictures: list[tuple[str, int, bytes]]) -> float:
    right = 0
    for _, label, picture in pictures:
        try:
            right += recognizer.read(picture).number == str(label)
        except DigitBotError:
            continue
    return right / len(pictures)


if __name__ == "__main__":
    main()
