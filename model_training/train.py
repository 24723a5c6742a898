"""Train an architecture on MNIST, evaluate it on the test split, and write its artifacts."""

from __future__ import annotations

import time
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from model_training.augmentation import distort_batch
from model_training.data import MnistData, to_model_input
from model_training.outliers import outlier_tensors
from model_training.recipes import Recipe


@dataclass(frozen=True)
class TrainingRun:
    model: keras.Sequential
    history: dict[str, list[float]]
    epochs_run: int
    best_epoch: int | None  # 1-based epoch whose weights were kept; None without a validation split
    training_seconds: float
    train_examples: int
    outlier_examples: int
    validation_examples: int


def train(
    recipe: Recipe, data: MnistData, *, epochs: int, batch_size: int, seed: int, limit: int | None
) -> TrainingRun:
    keras.utils.set_random_seed(seed)
    x_all, y_all = data.x_train[:limit], data.y_train[:limit]
    validation_size = min(recipe.validation_size, len(x_all) // 10)
    cut = len(x_all) - validation_size
    x_train, y_train = to_model_input(x_all[:cut]), keras.utils.to_categorical(y_all[:cut], 10)
    outlier_count = round(recipe.outlier_share * len(x_train))
    if outlier_count:
        x_train = np.concatenate([x_train, outlier_tensors(outlier_count, seed)])
        y_train = np.concatenate([y_train, np.full((outlier_count, 10), 0.1, dtype=y_train.dtype)])
    validation = None
    if validation_size:
        validation = (to_model_input(x_all[cut:]), keras.utils.to_categorical(y_all[cut:], 10))

    model = recipe.build()
    steps_per_epoch = -(-len(x_train) // batch_size)
    model.compile(
        optimizer=recipe.make_optimizer(steps_per_epoch * epochs),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    keep_best = keras.callbacks.EarlyStopping(
        monitor="val_accuracy", mode="max", patience=epochs, restore_best_weights=True
    )
    started = time.perf_counter()
    history = model.fit(
        _training_batches(x_train, y_train, recipe, batch_size, seed),
        epochs=epochs,
        validation_data=validation,
        callbacks=[keep_best] if validation else [],
        shuffle=False,  # the dataset reshuffles itself every epoch
        verbose=2,
    )
    training_seconds = time.perf_counter() - started
    return TrainingRun(
        model=model,
        history={name: [float(value) for value in values] for name, values in history.history.items()},
        epochs_run=len(history.history["loss"]),
        best_epoch=keep_best.best_epoch + 1 if validation else None,
        training_seconds=training_seconds,
        train_examples=len(x_train) - outlier_count,
        outlier_examples=outlier_count,
        validation_examples=validation_size,
    )


def _training_batches(x: np.ndarray, y: np.ndarray, recipe: Recipe, batch_size: int, seed: int) -> tf.data.Dataset:
    batches = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
    )
    if recipe.distortion is not None:
        distortion = recipe.distortion
        batch_seeds = tf.data.Dataset.random(seed=seed).batch(2)
        batches = tf.data.Dataset.zip(batches, batch_seeds).map(
            lambda images_labels, batch_seed: (
                distort_batch(images_labels[0], distortion, batch_seed),
                images_labels[1],
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return batches.prefetch(tf.data.AUTOTUNE)
