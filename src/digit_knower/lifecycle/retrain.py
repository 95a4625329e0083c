"""`digit-knower retrain`: a candidate model from the serving one, taught by the users' labelled drawings.

1. Read every labelled one-digit prediction from DATABASE_URL whose label is trusted (`feedback`
   says which), and split it for good: about 80% to learn from, 20% held out.
2. Fine-tune the serving model (the parent) on MNIST plus the feedback (`finetune`).
3. Score parent and candidate on the MNIST test set, the feedback holdout and the mouse-style
   robustness set (`scoring`), and judge the candidate (`gate`), including how many of the
   robustness set's answers it changes.
4. Put the candidate in the registry folder with its card (lineage, figures, verdict) and
   register it in `model_versions`; with --promote, promote it when the gate passes.

With DIGIT_KNOWER_RETENTION_DAYS set, the pictures past it are dropped first (`Store.prune`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, replace
from datetime import timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

from digit_knower.data.download import DataError
from digit_knower.data.mnist import load_mnist
from digit_knower.lifecycle import feedback, gate, scoring
from digit_knower.lifecycle.models_command import who
from digit_knower.reader.predictor import CARD_FILE, ModelNotFoundError
from digit_knower.serving.registry import Registry
from digit_knower.settings import get_settings
from digit_knower.store import DatabaseError, Deployment, Store
from digit_knower.training import evaluate, finetune
from digit_knower.training.export import TrainingFailed

# In a source checkout (src/digit_knower/lifecycle/retrain.py), the repository's root.
REPO_ROOT = Path(__file__).resolve().parents[3]

EXIT_REFUSED = 3  # the candidate was made and kept, but the gate refused to promote it


class NotEnoughFeedback(Exception):
    """Too few labelled predictions to learn from, or to judge a candidate by."""


@dataclass(frozen=True)
class Retrained:
    card: dict[str, Any]
    folder: Path
    parent: gate.Scores
    candidate: gate.Scores
    verdict: gate.Verdict
    promoted: Deployment | None


def retrain(
    store: Store,
    registry: Registry,
    data_dir: Path,
    cfg: finetune.FineTuneConfig,
    *,
    cache_dir: Path,
    min_feedback: int,
    promote: bool,
    by: str,
) -> Retrained:
    """The whole loop, once: a candidate in the registry, registered, and promoted if asked and fit."""
    rows = store.labelled_feedback()
    untrusted = store.untrusted_labels()
    if len(rows) < min_feedback:
        raise NotEnoughFeedback(_too_few(len(rows), min_feedback, store.where, untrusted))
    parent_version = store.serving_version() or registry.baseline_version
    parent = registry.load(parent_version)  # ModelNotFoundError when its folder is gone or broken
    parent_dir = registry.folder(parent_version)
    store.register_model(registry.baseline.card)  # a rollback may return to it
    if parent_version == registry.baseline_version:
        registry.keep_baseline()  # so that every machine can roll back to it, whatever it ships

    split = feedback.split(rows)
    mnist = load_mnist(data_dir)
    hands = finetune.real_hands_for(parent.card, data_dir)
    sets = scoring.EvaluationSets.build(mnist.test, split.holdout)
    staging = registry.staging()
    try:
        tuned = finetune.fine_tune(
            parent_dir, parent.card, mnist, split.train, cfg, staging, cache_dir, hands=hands
        )
        print("scoring the parent and the candidate …", flush=True)
        parent_scored = scoring.score(parent_dir, sets)
        parent_scores = parent_scored.scores
        scored = scoring.score(staging, sets)
        change = scored.change_from(parent_scored)
        verdict = gate.judge(parent_scores, scored.scores, change)
        card = _card(tuned, scored, sets, parent_version, parent_scores, verdict, split, mnist.sha256, cfg)
        card["lineage"]["feedback_untrusted_left_out"] = untrusted
        card["gate"]["changed_answers"] = change.to_card()
        (staging / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
        folder = registry.add(staging, tuned.version)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    store.register_model(card)
    promoted = None
    if promote and verdict.passed:
        reason = f"retrain --promote: {verdict.summary()} ({_figures(parent_scores, scored.scores)})"
        promoted = store.promote(tuned.version, by=by, reason=reason)
    return Retrained(card, folder, parent_scores, scored.scores, verdict, promoted)


def _card(
    tuned: finetune.FineTuned,
    scored: scoring.Scored,
    sets: scoring.EvaluationSets,
    parent_version: str,
    parent_scores: gate.Scores,
    verdict: gate.Verdict,
    split: feedback.FeedbackSplit,
    data_sha256: dict[str, str],
    cfg: finetune.FineTuneConfig,
) -> dict[str, Any]:
    matrix = evaluate.confusion_matrix(sets.mnist_test.labels, scored.test_predicted)
    return {
        **tuned.card,
        "test_accuracy": scored.scores.mnist_test.accuracy,
        "per_class_accuracy": evaluate.per_class_accuracy(matrix),
        "confusion_matrix": matrix.tolist(),
        "lineage": {
            "parent_version": parent_version,
            **split.lineage(),
            "data_sha256": data_sha256,
            "seed": cfg.seed,
            "code_version": code_version(),
        },
        "evaluation": {"parent": parent_scores.to_card(), "candidate": scored.scores.to_card()},
        "gate": {"passed": verdict.passed, "failures": list(verdict.failures)},
    }


def _figures(parent: gate.Scores, candidate: gate.Scores) -> str:
    return ", ".join(
        f"{gate.SET_TITLES[name]} {_pct(getattr(candidate, name))} against {_pct(getattr(parent, name))}"
        for name in gate.SET_NAMES
    )


def code_version() -> str:
    """The package version, plus the git commit (and `.dirty`) when run from a checkout."""
    try:
        version = metadata.version("digit-knower")
    except metadata.PackageNotFoundError:
        version = "unknown"
    if (REPO_ROOT / ".git").exists():
        try:
            described = subprocess.run(
                ["git", "-C", str(REPO_ROOT), "describe", "--always", "--dirty=.dirty", "--abbrev=12"],
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            described = ""
        if described:
            return f"{version}+g{described}"
    return version


def _too_few(rows: int, minimum: int, where: str, untrusted: int = 0) -> str:
    left_out = (
        f" ({untrusted} more labelled by untrusted sources are left out: see `digit-knower keys`)"
        if untrusted
        else ""
    )
    if rows == 0:
        return (
            f"there are no trusted labelled predictions in the {where}{left_out}: nothing to learn "
            "from. Label some predictions (with a trusted key: PUT /v1/predictions/{id}/label) first."
        )
    return (
        f"only {rows} trusted labelled prediction{'s' if rows != 1 else ''} in the {where}{left_out}; "
        f"retraining needs at least {minimum} (--min-feedback, or DIGIT_KNOWER_RETRAIN_MIN_FEEDBACK)"
    )


# --- the command --------------------------------------------------------------------------------


def side_by_side(result: Retrained) -> str:
    """Parent and candidate on the three sets, with the change in points."""
    parent_version = result.card["lineage"]["parent_version"]
    rows = [("", "parent", "candidate", ""), ("", parent_version, result.card["version"], "change")]
    for name in gate.SET_NAMES:
        before, after = getattr(result.parent, name), getattr(result.candidate, name)
        change = "" if before.accuracy is None else f"{100 * (after.accuracy - before.accuracy):+.2f}"
        rows.append((f"{gate.SET_TITLES[name]} ({before.total:,})", _pct(before), _pct(after), change))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(
            [row[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))]
        ).rstrip()
        for row in rows
    )


def _pct(score: gate.Score) -> str:
    return "n/a" if score.accuracy is None else f"{score.accuracy:.2%}"


def main(args: argparse.Namespace) -> int:
    settings = get_settings()
    defaults = finetune.FineTuneConfig()
    cfg = replace(
        defaults,
        steps=args.steps or defaults.steps,
        feedback_share=defaults.feedback_share if args.feedback_share is None else args.feedback_share,
        seed=args.seed,
        threads=args.threads or defaults.threads,
    )
    problem = _check_options(cfg, args.min_feedback)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        with Store.from_settings(settings) as store:
            store.ensure_schema()
            if settings.retention_days is not None:
                dropped = store.prune(timedelta(days=settings.retention_days))
                print(
                    f"retention: dropped the pictures of {dropped} predictions older than "
                    f"{settings.retention_days:g} days",
                    flush=True,
                )
            result = retrain(
                store,
                Registry.from_settings(settings),
                Path(args.data_dir),
                cfg,
                cache_dir=settings.cache_dir,
                min_feedback=args.min_feedback,
                promote=args.promote,
                by=args.by or f"{who()} (retrain --promote)",
            )
    except NotEnoughFeedback as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (DatabaseError, ModelNotFoundError, finetune.ParentUnusable) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except TrainingFailed as err:  # the ONNX export disagreed with torch: nothing is registered
        print(f"error: retraining failed: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # e.g. the registry folder is not writable, or the disk is full
        print(f"error: {err.strerror or err}: {err.filename or settings.model_registry}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    return report(result, args.promote, settings.model_refresh_s)


def report(result: Retrained, asked_to_promote: bool, refresh_s: float) -> int:
    print()
    print(side_by_side(result))
    print()
    lineage = result.card["lineage"]
    print(
        f"candidate {result.card['version']} in {result.folder}, registered; fine-tuned in "
        f"{result.card['train_seconds']:.0f} s on MNIST and {lineage['feedback_train_rows']} labelled "
        f"predictions ({lineage['feedback_holdout_rows']} held out)"
    )
    if result.promoted is not None:
        print(
            f"{result.verdict.summary()}: {result.card['version']} now serves; every web and API "
            f"process switches to it within {refresh_s:g} s"
        )
        return 0
    if not result.verdict.passed:
        for failure in result.verdict.failures:
            print(f"gate: {failure}")
        print("not promoted" if asked_to_promote else "it would not be promoted")
        return EXIT_REFUSED if asked_to_promote else 0
    print(f"the gate passes; promote it with: digit-knower models promote {result.card['version']}")
    return 0


def _check_options(cfg: finetune.FineTuneConfig, min_feedback: int) -> str | None:
    if cfg.steps < 1 or cfg.threads < 1:
        return "--steps and --threads must be at least 1"
    if not 0 <= cfg.feedback_share < 1:
        return f"--feedback-share must be at least 0 and below 1, not {cfg.feedback_share}"
    if min_feedback < 1:
        return f"--min-feedback must be at least 1, not {min_feedback}"
    return None
