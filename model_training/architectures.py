"""The model architectures: a function per architecture returning a named `keras.Sequential`."""

from __future__ import annotations

import keras
from keras import layers

INPUT_SHAPE = (28, 28, 1)


def build_mlp() -> keras.Sequential:
    """The seed tutorial's model, layer for layer: Flatten → Dense(512, relu) → Dense(10, softmax)."""
    return keras.Sequential(
        [
            keras.Input(shape=INPUT_SHAPE),
            layers.Flatten(name="flatten"),
            layers.Dense(512, activation="relu", name="hidden"),
            layers.Dense(10, activation="softmax", name="probabilities"),
        ],
        name="mlp",
    )


def _conv_block(filters: int, name: str) -> list[layers.Layer]:
    # Batch norm follows a bias-free convolution; the TFLite converter folds the pair into one op.
    # Momentum 0.9 (not 0.99) lets its running statistics settle within a short training run too.
    return [
        layers.Conv2D(filters, 3, use_bias=False, name=f"{name}_conv"),
        layers.BatchNormalization(momentum=0.9, name=f"{name}_norm"),
        layers.ReLU(name=f"{name}_relu"),
    ]


def build_cnn() -> keras.Sequential:
    """A small VGG-style CNN: two pairs of 3x3 convolutions with max pooling, then a dense head."""
    return keras.Sequential(
        [
            keras.Input(shape=INPUT_SHAPE),
            *_conv_block(32, "block1a"),
            *_conv_block(32, "block1b"),
            layers.MaxPooling2D(name="pool1"),
            *_conv_block(64, "block2a"),
            *_conv_block(64, "block2b"),
            layers.MaxPooling2D(name="pool2"),
            layers.Flatten(name="flatten"),
            layers.Dense(128, use_bias=False, name="dense"),
            layers.BatchNormalization(momentum=0.9, name="dense_norm"),
            layers.ReLU(name="dense_relu"),
            layers.Dropout(0.3, name="dropout"),
            layers.Dense(10, activation="softmax", name="probabilities"),
        ],
        name="cnn",
    )


ARCHITECTURES = {"cnn": build_cnn, "mlp": build_mlp}
