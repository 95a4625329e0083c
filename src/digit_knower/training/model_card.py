"""The model card: what a trained model folder says about itself, its plots, and its registration.

`model_card.json` travels with the ONNX file. It names the version (served, logged with every
prediction, registered in the database), how the model was made (architecture, configuration,
seed, data checksums, library versions, timings) and how good it is: on the MNIST test set, and
as a reader of people's drawings (calibration, drawings turned away, non-digits caught). The
plots beside it show the training curves, the confusion matrix and the calibration.

Training and retraining write cards; serving only reads them (`Predictor`).
"""

from __future__ import annotations

import hashlib
import json
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from digit_knower.reader.classes import DIGITS, softmax
from digit_knower.reader.predictor import CARD_FILE, Predictor
from digit_knower.training import calibrate, evaluate

# The test-side sets the card's reader figures are measured on (bench/reader_quality.py runs
# the full-size sets).
CARD_MOUSE_STYLE_PER_POLARITY = 300
CARD_NONDIGITS = 1500


def library_versions() -> dict[str, str]:
    import onnx
    import onnxruntime
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }


def model_version(onnx_path: Path, created: datetime) -> str:
    """Unique per trained model: the date plus the start of the ONNX file's hash."""
    digest = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    return f"dk-{created:%Y%m%d}-{digest[:8]}"


def build(
    onnx_path: Path,
    *,
    test_logits: np.ndarray,
    test_labels: np.ndarray,
    architecture: str,
    parameters: int,
    config: dict[str, Any],
    seed: int,
    threads: int,
    data_sha256: dict[str, str],
    history: list[dict[str, float]],
    val_accuracy: float,
    reader: dict[str, Any],
    onnx_max_prob_diff: float,
) -> dict[str, Any]:
    """The card of a model just exported to `onnx_path`. `test_logits` are the calibrated logits
    (the temperature applied) of the MNIST test set, scored once, here."""
    created = datetime.now(UTC).replace(microsecond=0)
    matrix = evaluate.confusion_matrix(test_labels, test_logits[:, :DIGITS].argmax(1))
    right = test_logits[:, :DIGITS].argmax(1) == test_labels
    temperature = reader["temperature"]
    return {
        "version": model_version(onnx_path, created),
        "created_at": created.isoformat(),
        "architecture": architecture,
        "parameters": parameters,
        "hyperparameters": json.loads(json.dumps(config)),  # as the file holds it: tuples become lists
        "seed": seed,
        "threads": threads,
        "data_sha256": data_sha256,
        "library_versions": library_versions(),
        "val_accuracy": val_accuracy,
        "test_accuracy": float(np.trace(matrix) / matrix.sum()),
        "per_class_accuracy": evaluate.per_class_accuracy(matrix),
        "confusion_matrix": matrix.tolist(),
        "onnx_max_prob_diff": onnx_max_prob_diff,
        "reader": {
            **reader,
            # Calibration on the MNIST test set: the confidence before the temperature (raw
            # logits = calibrated logits x temperature) and after.
            "test_ece_before_temperature": _ece(test_logits * temperature, right),
            "test_ece": _ece(test_logits, right),
        },
        "history": history,
    }


def _ece(logits: np.ndarray, right: np.ndarray) -> float:
    return calibrate.ece(softmax(logits[:, :DIGITS]).max(axis=1), right)


def served(model_dir: Path, card: dict[str, Any]) -> Predictor:
    """The reader as it will serve the model in `model_dir`: the card is written first, since the
    Predictor reads its thresholds from it."""
    write(card, model_dir)
    return Predictor.from_dir(model_dir, threads=card["threads"])


def reader_test_figures(model_dir: Path, card: dict[str, Any], test: Any, cache_dir: Path) -> dict[str, Any]:
    """The reader as served (preprocessing, segmentation, verdicts) on the test-side sets: MNIST
    test digits, mouse-style redrawings of them, and non-digits drawn for the test (drawn once and
    kept in `cache_dir`)."""
    from digit_knower.training import reader_quality as quality

    predictor = served(model_dir, card)
    mnist = quality.mnist_figures(predictor, test)
    mouse = quality.cached(cache_dir, quality.mouse_style, test, CARD_MOUSE_STYLE_PER_POLARITY)
    mouse_read = quality.read(predictor, mouse)
    nondigits = quality.cached(cache_dir, quality.nondigit_set, test, CARD_NONDIGITS)
    nondigits_read = quality.read(predictor, nondigits)
    return {
        "test_accuracy_through_reader": mnist["accuracy"],
        "test_not_verdict_digit": mnist["not_verdict_digit"],
        "test_mouse_style_accuracy": quality.accuracy(mouse_read, mouse.labels),
        "test_mouse_style_turned_away": 1 - quality.share(mouse_read, ("digit",)),
        "test_nondigits_caught": quality.share(nondigits_read, ("not_a_digit", "unsure")),
        "test_sets": (
            f"MNIST test (10,000); {len(mouse)} mouse-style redrawings of test digits "
            f"({CARD_MOUSE_STYLE_PER_POLARITY} per polarity); {len(nondigits)} non-digits drawn for the test"
        ),
    }


def real_hands_figures(model_dir: Path, card: dict[str, Any], pen: Any, omniglot: Any) -> dict[str, Any]:
    """The reader as served on real people's handwriting, validation data only: the pen digits'
    validation rows drawn as curves and as polylines (read right; refused as "not a digit"), and
    Omniglot's validation letters (turned away: "not a digit" or "unsure")."""
    from digit_knower.training import reader_quality as quality

    predictor = served(model_dir, card)
    figures: dict[str, Any] = {}
    for stroke, curve in (("curves", True), ("polylines", False)):
        drawings = quality.pen_digit_set(pen, curve=curve)
        read = quality.read(predictor, drawings)
        figures[f"val_pen_{stroke}_read_right"] = quality.read_right(read, drawings.labels)
        figures[f"val_pen_{stroke}_refused"] = quality.share(read, ("not_a_digit",))
    letters = quality.omniglot_set(omniglot)
    turned_away = quality.share(quality.read(predictor, letters), ("not_a_digit", "unsure"))
    figures["val_omniglot_turned_away"] = turned_away
    return figures


def sources(cfg: Any, data_sha256: dict[str, Any], figures: dict[str, Any]) -> dict[str, Any]:
    """Each source training read: what it is, its checksum, its share of each batch, and its figures
    (from the last epoch's validation, and the reader's on the validation sets)."""
    from digit_knower.training.data_mix import mix

    shares = {name: count / cfg.batch_size for name, count in mix(cfg.batch_size, cfg).items()}
    table = {
        "mnist": ("MNIST training digits, augmented", "mnist", {"val_accuracy": "val_accuracy"}),
        "redrawn": (
            "the same digits redrawn with a mouse, pen or marker",
            "mnist",
            {"val_accuracy": "val_redrawn_accuracy"},
        ),
        "nondigits": (
            "synthetic non-digits: scribbles, letters, symbols, shapes, marks (digits run together: unsure)",
            None,
            {"val_called_not_a_digit": "val_nondigits_found", "val_turned_away": "val_nondigits_caught"},
        ),
        "pen": (
            "UCI pen digits (training rows), drawn as canvas strokes",
            "pendigits",
            {
                "val_accuracy": "val_pen_accuracy",
                "val_curves_read_right": "val_pen_curves_read_right",
                "val_curves_refused": "val_pen_curves_refused",
                "val_polylines_read_right": "val_pen_polylines_read_right",
                "val_polylines_refused": "val_pen_polylines_refused",
            },
        ),
        "omniglot": (
            "Omniglot letters drawn with a mouse, as non-digits",
            "omniglot",
            {"val_called_not_a_digit": "val_omniglot_found", "val_turned_away": "val_omniglot_turned_away"},
        ),
    }
    return {
        name: {
            "what": what,
            "sha256": data_sha256.get(key) if key else None,
            "share": round(shares[name], 4),
            "figures": {label: figures[field] for label, field in wanted.items() if field in figures},
        }
        for name, (what, key, wanted) in table.items()
        if name in shares
    }


def write(card: dict[str, Any], model_dir: Path) -> None:
    (model_dir / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")


def summary(card: dict[str, Any], where: Path | str) -> str:
    reader = card["reader"]
    return (
        f"model {card['version']}: MNIST test accuracy {card['test_accuracy']:.2%} (validation "
        f"{card['val_accuracy']:.2%}); mouse-style drawings {reader['test_mouse_style_accuracy']:.2%}, "
        f"{reader['test_mouse_style_turned_away']:.2%} turned away; non-digits caught "
        f"{reader['test_nondigits_caught']:.2%}; ECE {reader['test_ece_before_temperature']:.2%} -> "
        f"{reader['test_ece']:.2%} (temperature {reader['temperature']:.3f}); "
        f"{card['seconds']['data']:.0f} s data, {card['seconds']['training']:.0f} s training, "
        f"{card['seconds']['export_and_test']:.0f} s export and tests; ONNX vs torch max probability "
        f"difference {card['onnx_max_prob_diff']:.1e}; written to {where}"
    )


def save_plots(card: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _training_curves(plt, card["history"], out)
    _confusion_matrix(plt, matplotlib, np.array(card["confusion_matrix"]), out)


def _training_curves(plt: Any, history: list[dict[str, float]], out: Path) -> None:
    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [h["loss"] for h in history], marker="o")
    ax_loss.set(title="training loss (label-smoothed)", xlabel="epoch", ylabel="loss")
    ax_acc.plot(
        epochs, [100 * h["train_accuracy"] for h in history], marker="o", label="train (augmented mix)"
    )
    ax_acc.plot(epochs, [100 * h["val_accuracy"] for h in history], marker="o", label="validation: MNIST")
    ax_acc.plot(
        epochs, [100 * h["val_redrawn_accuracy"] for h in history], marker="o", label="validation: redrawn"
    )
    ax_acc.plot(
        epochs, [100 * h["val_nondigits_found"] for h in history], marker="o", label="validation: non-digits"
    )
    ax_acc.set(title="accuracy", xlabel="epoch", ylabel="%", ylim=(90, 100))
    ax_acc.legend()
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "training_curves.png", dpi=100)
    plt.close(fig)


def _confusion_matrix(plt: Any, matplotlib: Any, matrix: np.ndarray, out: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    # Log colour scale: the diagonal holds ~1000 per cell, the mistakes a handful.
    image = ax.imshow(matrix + 1, cmap="Blues", norm=matplotlib.colors.LogNorm())
    for (t, p), n in np.ndenumerate(matrix):
        if n:
            ax.text(p, t, str(n), ha="center", va="center", fontsize=7, color="white" if t == p else "black")
    ax.set(xticks=range(DIGITS), yticks=range(DIGITS), xlabel="predicted digit", ylabel="true digit")
    ax.set_title(f"MNIST test set: {np.trace(matrix) / matrix.sum():.2%} correct")
    fig.colorbar(image, ax=ax, label="count + 1")
    fig.tight_layout()
    fig.savefig(out / "confusion_matrix.png", dpi=100)
    plt.close(fig)


def register_in_database(card: dict[str, Any]) -> None:
    """Record the model's metrics in the configured database; a failure only warns."""
    from digit_knower.settings import get_settings

    if not get_settings().database_url:
        return
    try:
        from digit_knower.store import Store

        store = Store.from_settings(get_settings())
        store.ensure_schema()
        store.register_model(card)
        print(f"registered model {card['version']} in the database")
    except Exception as e:  # the model files are written; a database problem must not lose them
        first_line = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"warning: model not registered in the database ({first_line}); the model files are written")
