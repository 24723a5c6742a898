"""Loading MNIST: the shared file, and one clear line for every way a path can be wrong."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from model_training.cli import main as train_main
from model_training.data import MnistDataError, load_mnist, to_model_input


def test_loads_the_shared_npz_with_mnist_shapes(mnist_npz):
    data = load_mnist(mnist_npz)
    assert data.x_train.shape == (60000, 28, 28) and data.x_train.dtype == np.uint8
    assert data.y_train.shape == (60000,)
    assert data.x_test.shape == (10000, 28, 28)
    assert sorted(np.unique(data.y_test)) == list(range(10))
    assert data.sha256 == "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64"


def test_model_input_is_the_seed_tutorials_x_over_255(mnist_npz):
    data = load_mnist(mnist_npz)
    batch = to_model_input(data.x_test[:5])
    assert batch.shape == (5, 28, 28, 1) and batch.dtype == np.float32
    np.testing.assert_allclose(batch[..., 0], data.x_test[:5] / 255.0, rtol=1e-6)


def _write_zip_without_mnist_keys(path):
    np.savez(path, images=np.zeros((2, 28, 28), np.uint8))


def _write_garbage(path):
    path.write_bytes(b"this is not a zip file at all")


def _write_truncated_npz(path, source):
    path.write_bytes(source.read_bytes()[:5000])


@pytest.mark.parametrize(
    ("make_file", "expected_words"),
    [
        (None, "no MNIST file"),
        (_write_zip_without_mnist_keys, "lacks x_train"),
        (_write_garbage, "not a readable .npz"),
        (_write_truncated_npz, "not a readable .npz"),
    ],
    ids=["missing", "wrong-keys", "garbage", "truncated"],
)
def test_a_bad_path_is_one_clear_error(tmp_path, mnist_npz, make_file, expected_words):
    path = tmp_path / "mnist.npz"
    if make_file is _write_truncated_npz:
        make_file(path, mnist_npz)
    elif make_file is not None:
        make_file(path)
    with pytest.raises(MnistDataError, match=expected_words):
        load_mnist(path)


def test_a_wrong_shape_is_refused(tmp_path):
    path = tmp_path / "mnist.npz"
    np.savez(
        path,
        x_train=np.zeros((3, 32, 32), np.uint8),
        y_train=np.zeros(3, np.uint8),
        x_test=np.zeros((1, 28, 28), np.uint8),
        y_test=np.zeros(1, np.uint8),
    )
    with pytest.raises(MnistDataError, match="train split"):
        load_mnist(path)


def test_the_command_prints_one_line_and_exits_1_for_a_bad_path(tmp_path, capsys):
    assert train_main(["--data", str(tmp_path / "nowhere.npz"), "--out", str(tmp_path / "out")]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith("error: no MNIST file")
    assert "Traceback" not in captured.err


def test_a_failed_download_says_what_to_do(monkeypatch):
    import keras

    def unreachable():
        raise OSError("network is unreachable")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", unreachable)
    with pytest.raises(MnistDataError, match="--data PATH or set MNIST_NPZ"):
        load_mnist(None)


def test_zip_errors_are_caught_as_bad_files(tmp_path):
    path = tmp_path / "mnist.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x_train.npy", b"not an npy")
    with pytest.raises(MnistDataError):
        load_mnist(path)
