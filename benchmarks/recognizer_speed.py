"""Prints per-picture time (decode / preprocess / inference) and peak memory, beside the seed pipeline, for single
digits and a 12 MP photo of a 6-digit number (whose inference column is the model's batch of every way to cut it).

Run: .venv/bin/python benchmarks/recognizer_speed.py [--repeat N]. Compare the ratios within one run:
this machine is shared and its absolute timings are noisy.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from bot.recognizer import Recognizer  # noqa: E402
from bot.settings import DEFAULT_MODEL_PATH  # noqa: E402
from model_training.chat_pictures import render_chat_picture  # noqa: E402
from model_training.data import MNIST_NPZ  # noqa: E402
from model_training.number_pictures import Writing, number_picture  # noqa: E402

TARGETS_MS = {"12 MP JPEG": 15.0, "1 MP JPEG": 5.0, "512 px PNG": 2.0, "12 MP, 6 dig.": 25.0}
MEMORY_TARGET_MB = 120.0


def make_pictures() -> dict[str, bytes]:
    """A 12 MP phone photo, the same photo at 1 MP, and a 512 px drawing, of MNIST test digits; a 12 MP photo of a
    6-digit number."""
    with np.load(MNIST_NPZ) as npz:
        digits, labels = npz["x_test"][:8], npz["y_test"][:8]
    rng = np.random.default_rng(7)
    photo = render_chat_picture(digits[0], "big_photo", rng)
    one_megapixel = Image.open(io.BytesIO(photo)).convert("RGB").resize((1155, 866), Image.Resampling.LANCZOS)
    drawing = Image.open(io.BytesIO(render_chat_picture(digits[1], "drawing_png", rng))).resize((512, 512))
    return {
        "12 MP JPEG": photo,
        "1 MP JPEG": _encoded(one_megapixel, "JPEG", quality=90),
        "512 px PNG": _encoded(drawing, "PNG"),
        "12 MP, 6 dig.": number_picture(digits[2:], labels[2:].tolist(), "big_photo", Writing(), rng),
    }


def _encoded(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def time_recognizer(recognizer: Recognizer, data: bytes, repeat: int) -> dict[str, float]:
    recognizer.read(data)  # warm-up: first calls allocate
    decode, preprocess, inference, total = [], [], [], []
    for _ in range(repeat):
        started = time.perf_counter()
        timings = recognizer.read(data).timings
        total.append((time.perf_counter() - started) * 1000)
        decode.append(timings.decode_ms)
        preprocess.append(timings.preprocess_ms)
        inference.append(timings.inference_ms)
    return {
        name: statistics.median(values)
        for name, values in (("decode", decode), ("preprocess", preprocess), ("inference", inference), ("total", total))
    }


def time_seed_pipeline(model, data: bytes, repeat: int) -> dict[str, float]:
    """The tutorial's way: convert('L'), resize to 28x28, / 255, model.predict."""

    def seed_read() -> tuple[float, float, float]:
        started = time.perf_counter()
        image = Image.open(io.BytesIO(data)).convert("L")
        decoded = time.perf_counter()
        tensor = (np.asarray(image.resize((28, 28)), dtype=np.float32) / 255.0).reshape(1, 28, 28, 1)
        preprocessed = time.perf_counter()
        model.predict(tensor, verbose=0)
        done = time.perf_counter()
        return (decoded - started) * 1000, (preprocessed - decoded) * 1000, (done - preprocessed) * 1000

    seed_read()
    samples = [seed_read() for _ in range(repeat)]
    decode, preprocess, inference = (statistics.median(column) for column in zip(*samples, strict=True))
    total = statistics.median(sum(sample) for sample in samples)
    return {"decode": decode, "preprocess": preprocess, "inference": inference, "total": total}


def peak_memory_of_predict(picture: bytes) -> float:
    """MB at the peak of `python -m bot predict` on one picture, in a fresh process (no TensorFlow).

    A small parent starts it: a child forked from this big benchmark process would count our pages too.
    """
    measure = (
        "import resource, subprocess, sys; "
        "subprocess.run(sys.argv[1:], check=True, capture_output=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    with tempfile.NamedTemporaryFile(suffix=".jpg") as file:
        file.write(picture)
        file.flush()
        environment = {**os.environ, "MODEL_PATH": str(DEFAULT_MODEL_PATH)}
        command = [sys.executable, "-c", measure, sys.executable, "-m", "bot", "predict", file.name]
        result = subprocess.run(command, cwd=PROJECT_ROOT, env=environment, check=True, capture_output=True, text=True)
    return int(result.stdout) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="reads per picture (default: 30)")
    args = parser.parse_args()
    pictures = make_pictures()
    memory_mb = peak_memory_of_predict(pictures["12 MP JPEG"])

    recognizer = Recognizer(DEFAULT_MODEL_PATH)
    ours = {name: time_recognizer(recognizer, data, args.repeat) for name, data in pictures.items()}
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    seed_model = keras.saving.load_model(DEFAULT_MODEL_PATH.with_suffix(".keras"))
    seed = {name: time_seed_pipeline(seed_model, data, max(args.repeat // 3, 5)) for name, data in pictures.items()}

    print(f"median ms per picture over {args.repeat} reads (seed: TensorFlow model.predict, as in the tutorial)")
    print(
        f"{'picture':<12} {'bytes':>9} | {'decode':>7} {'prep':>7} {'infer':>7} {'total':>7} {'target':>7} | "
        f"{'seed total':>10} {'speed-up':>8}"
    )
    for name, data in pictures.items():
        mine, theirs = ours[name], seed[name]
        verdict = "met" if mine["total"] <= TARGETS_MS[name] else "MISSED"
        print(
            f"{name:<12} {len(data):>9} | {mine['decode']:>7.2f} {mine['preprocess']:>7.2f} "
            f"{mine['inference']:>7.3f} {mine['total']:>7.2f} {TARGETS_MS[name]:>5.0f} {verdict:<6}| "
            f"{theirs['total']:>10.1f} {theirs['total'] / mine['total']:>7.0f}x"
        )
    verdict = "met" if memory_mb <= MEMORY_TARGET_MB else "MISSED"
    print(
        f"peak memory of `python -m bot predict` on the 12 MP JPEG: {memory_mb:.0f} MB "
        f"(target {MEMORY_TARGET_MB:.0f} MB: {verdict})"
    )


if __name__ == "__main__":
    main()
