"""Train an architecture on MNIST, evaluate it on the test split, and write its artifacts."""

from __future__ import annotations

import time
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from model_training.augmentation import distort_batch
from model_training.corrections import CorrectedDigits
from model_training.data import MnistData, to_model_input
from model_training.digit_pairs import digit_pairs
from model_training.outliers import outlier_tensors
from model_training.posted_digits import posted_tensors
from model_training.recipes import Member, Recipe
from model_training.writing_styles import european_variants, skipped_strokes


@dataclass(frozen=True)
class TrainingRun:
    model: keras.Sequential
    seed: int
    history: dict[str, list[float]]
    epochs_run: int
    best_epoch: int | None  # 1-based epoch whose weights were kept; None without a validation split
    training_seconds: float  # fitting alone
    preparation_seconds: float  # making the European, posted and doodle examples, once before fitting
    train_examples: int  # MNIST digits trained on
    european_examples: int  # European 1s and crossed 7s drawn onto some of them
    posted_examples: int  # some of them rendered as posted photos and framed by bot.imaging
    outlier_examples: int
    pair_examples: int  # two training digits framed as one
    skipped_examples: int  # training digits again, with a gap across
    correction_examples: int  # users' corrected digits, each counted as often as it is trained on per epoch
    validation_examples: int  # MNIST digits held out
    validation_extra_examples: int  # European and posted versions of held-out digits, validated on as well
    validation: tuple[np.ndarray, np.ndarray] | None  # all held-out (N, 28, 28, 1) tensors and their labels


def train(
    recipe: Recipe,
    data: MnistData,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    limit: int | None,
    member: Member | None = None,
    corrections: CorrectedDigits | None = None,
) -> TrainingRun:
    """Fit the recipe's model (as its `member` is taught) on MNIST's training split (and `corrections`, to training
    only, never validation)."""
    member = member or Member()
    keras.utils.set_random_seed(seed)
    preparation_started = time.perf_counter()
    x_all, y_all = data.x_train[:limit], data.y_train[:limit]
    validation_size = min(recipe.validation_size, len(x_all) // 10)
    cut = len(x_all) - validation_size
    train_digits = _digits_as_served(x_all[:cut], y_all[:cut], recipe, seed)
    x_train, labels = train_digits.tensors, train_digits.labels
    skipped_count = 0
    if member.skipped_share:
        x_skipped, y_skipped = skipped_strokes(x_all[:cut], y_all[:cut], member.skipped_share, seed)
        x_train, labels = np.concatenate([x_train, x_skipped]), np.concatenate([labels, y_skipped])
        skipped_count = len(y_skipped)
    y_train = keras.utils.to_categorical(labels, 10)
    outlier_count = round(recipe.outlier_share * train_digits.mnist)
    pair_count = round(member.pair_share * train_digits.mnist)
    if outlier_count + pair_count:  # neither is a digit: taught as equally likely to be any
        x_train = np.concatenate(
            [x_train, outlier_tensors(outlier_count, seed), digit_pairs(x_all[:cut], pair_count, seed)]
        )
        y_train = np.concatenate([y_train, np.full((outlier_count + pair_count, 10), 0.1, dtype=y_train.dtype)])
    correction_count = 0
    if corrections is not None:
        x_corrected, y_corrected = corrections.training_tensors()
        x_train = np.concatenate([x_train, x_corrected])
        y_train = np.concatenate([y_train, keras.utils.to_categorical(y_corrected, 10).astype(y_train.dtype)])
        correction_count = len(y_corrected)
    validation = held_out = None
    if validation_size:
        # Other seeds than training's: the held-out digits get pictures of their own.
        held_out = _digits_as_served(x_all[cut:], y_all[cut:], recipe, seed + 1)
        validation = (held_out.tensors, keras.utils.to_categorical(held_out.labels, 10))

    preparation_seconds = time.perf_counter() - preparation_started

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
        seed=seed,
        history={name: [float(value) for value in values] for name, values in history.history.items()},
        epochs_run=len(history.history["loss"]),
        best_epoch=keep_best.best_epoch + 1 if validation else None,
        training_seconds=training_seconds,
        preparation_seconds=preparation_seconds,
        train_examples=train_digits.mnist,
        european_examples=train_digits.european,
        posted_examples=train_digits.posted,
        outlier_examples=outlier_count,
        pair_examples=pair_count,
        skipped_examples=skipped_count,
        correction_examples=correction_count,
        validation_examples=validation_size,
        validation_extra_examples=held_out.european + held_out.posted if held_out else 0,
        validation=(held_out.tensors, held_out.labels) if held_out else None,
    )


@dataclass(frozen=True)
class DigitTensors:
    tensors: np.ndarray  # float32 (N, 28, 28, 1), MNIST digits first
    labels: np.ndarray  # (N,) digits
    mnist: int
    european: int
    posted: int


def _digits_as_served(images: np.ndarray, labels: np.ndarray, recipe: Recipe, seed: int) -> DigitTensors:
    """MNIST digits as they are, European variants of some 1s and 7s, and some of both as posted photos.

    Both extras are made once per run, before training: a posted photo costs milliseconds to render and frame.
    """
    european, european_labels = european_variants(images, labels, recipe.european_share, seed)
    pool = np.concatenate([images, np.round(european[..., 0] * 255).astype(np.uint8)])
    pool_labels = np.concatenate([labels, european_labels])
    chosen = np.random.default_rng(seed).choice(len(pool), round(recipe.posted_share * len(images)), replace=False)
    chosen.sort()
    posted, kept = posted_tensors(pool[chosen], seed)
    return DigitTensors(
        tensors=np.concatenate([to_model_input(images), european, posted]),
        labels=np.concatenate([labels, european_labels, pool_labels[chosen][kept]]).astype(np.uint8),
        mnist=len(images),
        european=len(european),
        posted=len(posted),
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
