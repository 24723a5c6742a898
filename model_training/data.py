"""Loading MNIST, from Keras's download or from a local `.npz` with the same keys."""

from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MNIST_KEYS = ("x_train", "y_train", "x_test", "y_test")
# The team's offline data (MNIST, real photos for measuring only), beside the repository unless told otherwise.
SHARED_DATA = Path(os.environ.get("DIGIT_BOT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
MNIST_NPZ = Path(os.environ.get("MNIST_NPZ", SHARED_DATA / "mnist.npz"))
REAL_PHOTOS = SHARED_DATA / "real-photos"
REAL_PHOTOS_EXTRA = SHARED_DATA / "real-photos-extra"  # European-style 1s and crossed 7s


class MnistDataError(Exception):
    """MNIST could not be loaded; the message says what to do about it."""


@dataclass(frozen=True)
class MnistData:
    x_train: np.ndarray  # (60000, 28, 28) uint8
    y_train: np.ndarray  # (60000,) uint8
    x_test: np.ndarray  # (10000, 28, 28) uint8
    y_test: np.ndarray  # (10000,) uint8
    source: str
    sha256: str | None  # of the local file; None for Keras's download


def load_mnist(path: Path | None = None) -> MnistData:
    """MNIST from `path` (a Keras-style `mnist.npz`), or Keras's own loader when `path` is None."""
    if path is None:
        return _load_with_keras()
    return _load_npz(Path(path))


def _load_with_keras() -> MnistData:
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as error:  # the download can fail in many ways (DNS, proxy, HTTP, truncation)
        raise MnistDataError(
            f"could not download MNIST through Keras ({type(error).__name__}: {error}); "
            "pass --data PATH or set MNIST_NPZ to a local mnist.npz"
        ) from error
    return _checked(x_train, y_train, x_test, y_test, source="keras.datasets.mnist", sha256=None)


def _load_npz(path: Path) -> MnistData:
    if not path.is_file():
        raise MnistDataError(f"no MNIST file at {path}: pass --data PATH or set MNIST_NPZ to a mnist.npz")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [key for key in MNIST_KEYS if key not in npz.files]
            if missing:
                raise MnistDataError(f"{path} is not a Keras mnist.npz: it lacks {', '.join(missing)}")
            arrays = {key: npz[key] for key in MNIST_KEYS}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise MnistDataError(f"{path} is not a readable .npz file ({error}); download mnist.npz again") from error
    return _checked(**arrays, source=str(path), sha256=file_sha256(path))


def _checked(x_train, y_train, x_test, y_test, *, source: str, sha256: str | None) -> MnistData:
    for name, images, labels in (("train", x_train, y_train), ("test", x_test, y_test)):
        if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) != len(labels):
            raise MnistDataError(f"{source}: the {name} split has images {images.shape} and labels {labels.shape}")
        if labels.size and (labels.min() < 0 or labels.max() > 9):
            raise MnistDataError(f"{source}: the {name} labels are not digits 0-9")
    return MnistData(
        x_train.astype(np.uint8),
        y_train.astype(np.uint8),
        x_test.astype(np.uint8),
        y_test.astype(np.uint8),
        source,
        sha256,
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) → float32 (N, 28, 28, 1) in [0, 1]: exactly the seed tutorial's `x / 255`."""
    return (images.reshape(-1, 28, 28, 1) / 255.0).astype(np.float32)
