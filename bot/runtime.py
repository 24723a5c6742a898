"""Runs the exported model: the LiteRT interpreter on the `.tflite` file, or TensorFlow when LiteRT is missing."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

import numpy as np


class ModelRunner(Protocol):
    def predict(self, batch: np.ndarray) -> np.ndarray:
        """float32 (N, 28, 28, 1) in [0, 1] → float32 (N, 10) probabilities."""


class LiteRTRunner:
    """The `.tflite` model in the LiteRT interpreter; one interpreter shared by every thread, behind a lock."""

    def __init__(self, model_path: Path, num_threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(model_path=str(model_path), num_threads=num_threads)
        self._input_index = self._interpreter.get_input_details()[0]["index"]
        self._output_index = self._interpreter.get_output_details()[0]["index"]
        self._batch_size: int | None = None
        self._lock = threading.Lock()  # an interpreter keeps its tensors in place: one call at a time

    def predict(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        with self._lock:
            if self._batch_size != len(batch):
                self._interpreter.resize_tensor_input(self._input_index, list(batch.shape))
                self._interpreter.allocate_tensors()
                self._batch_size = len(batch)
            self._interpreter.set_tensor(self._input_index, batch)
            self._interpreter.invoke()
            return self._interpreter.get_tensor(self._output_index).copy()


class KerasRunner:
    """The `.keras` model in TensorFlow: heavier to import and slower per call, but needs no LiteRT."""

    def __init__(self, model_path: Path) -> None:
        import keras

        self._model = keras.saving.load_model(model_path, compile=False)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(self._model(np.asarray(batch, dtype=np.float32), training=False))


def litert_available() -> bool:
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError:
        return False
    return True


def load_runner(model_path: Path) -> ModelRunner:
    """The fastest runner for `model_path`: a `.tflite` goes to LiteRT, or to its `.keras` twin without LiteRT."""
    model_path = Path(model_path)
    if model_path.suffix == ".tflite" and not litert_available():
        model_path = model_path.with_suffix(".keras")
    if not model_path.is_file():
        raise FileNotFoundError(f"no model file at {model_path}")
    if model_path.suffix == ".tflite":
        return LiteRTRunner(model_path)
    return KerasRunner(model_path)
