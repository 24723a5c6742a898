"""`python -m model_training`: train (with users' corrections, if asked), evaluate on the MNIST test split, write the
artifacts."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from model_training.corrections import DEFAULT_WEIGHT

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "models"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m model_training",
        description="Train a digit model on MNIST, evaluate it on the test split and export it "
        "(.keras, .tflite, metrics.json, plots).",
    )
    parser.add_argument(
        "--arch",
        choices=("cnn", "mlp"),
        default="cnn",
        help="cnn: two small CNNs with augmentation, served as the mean of their answers (default); "
        "mlp: the seed tutorial's model and recipe",
    )
    parser.add_argument(
        "--epochs", type=int, help="epochs to train each model (default: the architecture's recipe: cnn 15, mlp 5)"
    )
    parser.add_argument("--batch-size", type=int, help="examples per step (default: cnn 128, mlp 64)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the artifacts (default: models/)")
    parser.add_argument(
        "--data",
        type=Path,
        default=os.environ.get("MNIST_NPZ") or None,
        help="a local mnist.npz (default: $MNIST_NPZ, else Keras's download)",
    )
    parser.add_argument(
        "--seed", type=int, default=1, help="random seed (default: 1; the second CNN takes the next one)"
    )
    parser.add_argument("--limit", type=int, help="train on the first N training examples only (quick tries, tests)")
    parser.add_argument(
        "--corrections",
        metavar="DATABASE_URL",
        help="also train on the digits users corrected in this feedback database (the bot's DATABASE_URL), and "
        "compare the model replaced with the new one on the MNIST test split and the real photos",
    )
    parser.add_argument(
        "--corrections-weight",
        type=int,
        default=DEFAULT_WEIGHT,
        metavar="N",
        help=f"copies of each corrected digit trained on per epoch (default: {DEFAULT_WEIGHT})",
    )
    args = parser.parse_args(argv)
    for name in ("epochs", "batch_size", "limit", "corrections_weight"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be a positive whole number")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter hides the progress

    from model_training.artifacts import (
        export_model,
        plot_confusion_matrix,
        plot_learning_curves,
        served_model,
        tflite_agreement,
        write_metrics,
    )
    from model_training.calibration import calibrate_models
    from model_training.comparison import (
        corrections_report,
        format_comparison,
        measuring_sets,
        model_scores,
        replaced_model_scores,
    )
    from model_training.corrections import CorrectionsError, read_corrections
    from model_training.data import MnistDataError, load_mnist, to_model_input
    from model_training.evaluation import evaluate
    from model_training.recipes import RECIPES
    from model_training.train import train

    corrections = None
    try:
        if args.corrections:
            corrections = read_corrections(args.corrections, args.corrections_weight)
            if not len(corrections.labels):
                skipped = f" ({corrections.skipped} skipped: their digits do not match the verdict's)"
                raise CorrectionsError(
                    f"the database holds no corrected answer to train on{skipped if corrections.skipped else ''}"
                )
        data = load_mnist(args.data)
    except (CorrectionsError, MnistDataError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    x_test = to_model_input(data.x_test)
    measured_on = before = None
    if corrections is not None:
        measured_on = measuring_sets(x_test, data.y_test)
        before = replaced_model_scores(args.out, measured_on)  # now, before the new model takes its place
    recipe = RECIPES[args.arch]
    epochs = args.epochs or recipe.epochs
    batch_size = args.batch_size or recipe.batch_size
    runs = [
        train(
            recipe,
            data,
            epochs=epochs,
            batch_size=batch_size,
            seed=args.seed + member.seed_offset,
            limit=args.limit,
            member=member,
            corrections=corrections,
        )
        for member in recipe.members
    ]
    alone = [evaluate(run.model, x_test, data.y_test).accuracy for run in runs]
    model = served_model([run.model for run in runs], args.arch)
    held_out = [(run.model, run.validation) for run in runs if run.validation]
    calibration = calibrate_models(held_out, model, x_test, data.y_test) if len(held_out) == len(runs) else None
    scores = evaluate(model, x_test, data.y_test)
    keras_path, tflite_path = export_model(model, args.out)
    agreement = tflite_agreement(tflite_path, x_test, scores.probabilities)
    report = corrections_report(corrections, before, model_scores(tflite_path, measured_on)) if measured_on else None
    title = f"{args.arch}: {scores.accuracy:.2%} on the MNIST test split"
    plots = [plot_learning_curves(runs, args.out, title), plot_confusion_matrix(scores, args.out, title)]
    metrics_path = write_metrics(
        args.out,
        arch=args.arch,
        model=model,
        runs=runs,
        alone=alone,
        scores=scores,
        calibration=calibration,
        corrections=report,
        agreement=agreement,
        batch_size=batch_size,
        seed=args.seed,
        data_source=data.source,
        data_sha256=data.sha256,
        files=[keras_path, tflite_path, *plots],
    )
    written = ", ".join(str(path) for path in (keras_path, tflite_path, metrics_path, *plots))
    print(
        f"{args.arch}: test accuracy {scores.accuracy:.2%} (loss {scores.loss:.4f}), "
        f"{len(runs)} model{'s' if len(runs) > 1 else ''} of {runs[0].epochs_run} epochs trained in "
        f"{sum(run.training_seconds for run in runs):.0f} s, "
        f"tflite agrees on {agreement:.2%}; wrote {written}"
    )
    if report:
        print(format_comparison(report))
    return 0
