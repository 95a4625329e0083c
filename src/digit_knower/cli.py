"""`digit-knower`: the one command line for training, evaluating, serving, the learning loop and the
database.

Each subcommand imports its module only when it runs, so `serve` and `api` never
import torch, and `--help` is instant.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError

from digit_knower.settings import SHIPPED_MODEL_DIR, get_settings


def _train(args: argparse.Namespace) -> int:
    from digit_knower.training import train

    return train.main(args)


def _evaluate(args: argparse.Namespace) -> int:
    from digit_knower.training import evaluate

    return evaluate.main(args)


def _serve(args: argparse.Namespace) -> int:
    from digit_knower.web import serve_command as launch

    return launch.main(args)


def _api(args: argparse.Namespace) -> int:
    from digit_knower.api import api_command as launch

    return launch.main(args)


def _retrain(args: argparse.Namespace) -> int:
    from digit_knower.lifecycle import retrain

    return retrain.main(args)


def _models(args: argparse.Namespace) -> int:
    from digit_knower.lifecycle import models_command as models_cli

    return models_cli.main(args)


def _db(args: argparse.Namespace) -> int:
    from digit_knower.store import db_command as store_cli

    return store_cli.main(args)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except None: there the help text says what happens."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    settings = get_settings()
    parser = argparse.ArgumentParser(
        prog="digit-knower",
        description="Draw a digit, and the machine reads it. Train the CNN on MNIST, "
        "score it, and serve it as a web page or a REST API, logging every prediction.",
        formatter_class=_HelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler, help: str, description: str) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            help=help,
            description=description,
            formatter_class=_HelpFormatter,
        )
        p.set_defaults(handler=handler)
        return p

    p = add(
        "train",
        _train,
        "train the CNN on MNIST and export it to ONNX",
        "Train the CNN on MNIST (downloading and verifying the data if needed), mixed with the "
        "same digits redrawn as people draw them and with drawings that are no digit (made once, "
        "on every core, and cached in DIGIT_KNOWER_CACHE_DIR). Hold out a validation split for "
        "every training-time choice (the temperature that calibrates the confidence, the "
        "reader's thresholds), score the test sets once at the end, export a self-contained ONNX "
        "file, check it against torch, and write the model card and plots. Needs the 'train' "
        "extra (torch).",
    )
    p.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="passes over the MNIST training split (default: 12, the tuned preset; 1 is the quick preset)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same model")
    p.add_argument(
        "--batch-size", type=int, default=None, help="mini-batch size, all three sources (default: 256)"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=SHIPPED_MODEL_DIR,
        help="folder for the ONNX file, weights, card and plots",
    )
    p.add_argument(
        "--data-dir", type=Path, default=settings.data_dir, help="MNIST folder (env DIGIT_KNOWER_DATA_DIR)"
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads, and processes making the drawings (default: 2, measured faster "
        "than 1 on this 2-core machine)",
    )
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=settings.cache_dir,
        help="where the drawings are kept once made: training's redrawn digits and non-digits, and "
        "the test-side drawings of the model card (env DIGIT_KNOWER_CACHE_DIR)",
    )

    p = add(
        "evaluate",
        _evaluate,
        "score a model folder on the MNIST test set with ONNX Runtime",
        "Run a model folder's ONNX file with ONNX Runtime on the 10,000 MNIST test images and "
        "print the accuracy, the per-class accuracy and the confusion matrix.",
    )
    p.add_argument(
        "--model-dir",
        type=Path,
        default=settings.model_dir,
        help="folder holding digit_cnn.onnx (env DIGIT_KNOWER_MODEL_DIR)",
    )
    p.add_argument(
        "--data-dir", type=Path, default=settings.data_dir, help="MNIST folder (env DIGIT_KNOWER_DATA_DIR)"
    )

    p = add(
        "serve",
        _serve,
        "start the web page (Streamlit)",
        "Start the Streamlit page where a person draws a digit, presses Predict, sees the "
        "answer and can give the true label, with the history and live accuracy below. It runs "
        "headless (open the printed URL yourself) with no file watcher. Predictions go to "
        "DATABASE_URL (PostgreSQL: run `digit-knower db upgrade` first), or else to the embedded "
        "SQLite file; the model comes from DIGIT_KNOWER_MODEL_DIR (default: the shipped model).",
    )
    p.add_argument("--host", default="0.0.0.0", help="address to listen on")
    p.add_argument("--port", type=int, default=8501, help="port to listen on")

    p = add(
        "api",
        _api,
        "start the REST API (FastAPI + uvicorn)",
        "Start the REST API (uvicorn) on the same inference core and the same store as the web "
        "page. Endpoints under /v1, OpenAPI docs at /docs, liveness at /healthz, readiness at "
        "/readyz. Uses DATABASE_URL (or the embedded SQLite file) and DIGIT_KNOWER_MODEL_DIR; "
        "set DIGIT_KNOWER_API_KEY to require that key in the X-API-Key header (the docs too), "
        "DIGIT_KNOWER_API_DOCS=false to serve no docs, and DIGIT_KNOWER_API_READ_TIMEOUT_S "
        "(default 15) for how long a client may take to send its request. A PostgreSQL "
        "schema that is out of date stops start-up: run `digit-knower db upgrade` first. A "
        "database that is down does not: predictions wait in a local outbox.",
    )
    p.add_argument("--host", default="0.0.0.0", help="address to listen on")
    p.add_argument("--port", type=int, default=8000, help="port to listen on")
    p.add_argument(
        "--workers", type=int, default=1, help="uvicorn worker processes (each loads the model once)"
    )

    p = add(
        "retrain",
        _retrain,
        "retrain the serving model on the users' labelled drawings; compare; promote",
        "Fine-tune the serving model (the parent) on MNIST plus every labelled one-digit prediction "
        "in DATABASE_URL (the 28x28 input the model saw, and the true label). A hash of each "
        "prediction's id puts it, for good, in training (about 80%) or in the feedback holdout "
        "(20%). The candidate goes into DIGIT_KNOWER_MODEL_REGISTRY with its card and is "
        "registered; a table compares parent and candidate on the MNIST test set, the feedback "
        "holdout and the mouse-style robustness set. The gate passes when the candidate is at most "
        "0.1 point worse on MNIST, at most 0.2 points worse on the robustness set, and strictly "
        "better on the holdout. Exit status: 0 done, 1 failed, 2 bad input or too few labelled "
        "predictions, 3 --promote refused by the gate (the candidate is kept). Needs the 'train' "
        "extra (torch).",
    )
    p.add_argument(
        "--promote", action="store_true", help="promote the candidate when the gate passes (it then serves)"
    )
    p.add_argument(
        "--min-feedback",
        type=int,
        default=settings.retrain_min_feedback,
        help="stop, saying so, with fewer labelled predictions (env DIGIT_KNOWER_RETRAIN_MIN_FEEDBACK)",
    )
    p.add_argument("--steps", type=int, default=None, help="fine-tuning steps (default: 300)")
    p.add_argument(
        "--feedback-share",
        type=float,
        default=None,
        help="share of every batch drawn from the feedback; the rest is MNIST (default: 0.1)",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="random seed; the same seed and data give the same model"
    )
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: 2)")
    p.add_argument(
        "--data-dir", type=Path, default=settings.data_dir, help="MNIST folder (env DIGIT_KNOWER_DATA_DIR)"
    )
    p.add_argument("--by", default=None, help="who promotes, for the history (default: user@host)")

    p = add(
        "models",
        _models,
        "list the model versions; promote one, or roll back",
        "Every registered model version with its figures and live accuracy, and which one serves. "
        "The serving choice lives in the database: every web and API process follows a promotion "
        "or a rollback within DIGIT_KNOWER_MODEL_REFRESH_S seconds, without a restart. Model "
        "folders come from DIGIT_KNOWER_MODEL_REGISTRY (or, for the shipped model, "
        "DIGIT_KNOWER_MODEL_DIR).",
    )
    models_sub = p.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    models_sub.add_parser(
        "list",
        help="every version: figures, live accuracy, which one serves",
        description="Every registered version, newest first: MNIST test accuracy, the holdout and "
        "mouse-style figures of its retrain, live accuracy on labelled predictions, and which serves.",
        formatter_class=_HelpFormatter,
    )
    for name, text in [
        ("promote", "make VERSION the serving model everywhere (its folder must load)"),
        ("rollback", "serve again the model that served before the current one"),
    ]:
        a = models_sub.add_parser(name, help=text, description=text, formatter_class=_HelpFormatter)
        if name == "promote":
            a.add_argument("version", help="a version from `digit-knower models list`")
        a.add_argument("--reason", default="", help="why, for the history")
        a.add_argument("--by", default=None, help="who, for the history (default: user@host)")

    p = add(
        "db",
        _db,
        "manage the prediction database (migrations) and the local outbox",
        "Manage the database named by DATABASE_URL (or the embedded SQLite file) with Alembic, "
        "and the local outbox of records waiting for it (in DIGIT_KNOWER_STATE_DIR).",
    )
    db_sub = p.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    for name, text in [
        ("upgrade", "apply all migrations up to the newest (run this first, and after every upgrade)"),
        ("downgrade", "revert migrations down to a revision (default: one step)"),
        ("current", "print the database's revision and whether it is up to date"),
    ]:
        a = db_sub.add_parser(name, help=text, description=text, formatter_class=_HelpFormatter)
        if name in ("upgrade", "downgrade"):
            a.add_argument(
                "revision",
                nargs="?",
                default="head" if name == "upgrade" else "-1",
                help="Alembic revision id, 'head', 'base', or a relative step like -1",
            )
    _add_db_flush(db_sub)
    _add_db_outbox(db_sub)
    return parser


def _add_db_flush(db_sub: argparse._SubParsersAction) -> None:
    a = db_sub.add_parser(
        "flush",
        help="write the records queued in the local outbox to the database now",
        description="Write the predictions, labels and model cards queued in the local outbox for "
        "this database, in order. The page and the API do this by themselves within seconds of the "
        "database coming back; this is for when neither runs. Exit status 1 when the database "
        "cannot be reached (after --wait).",
        formatter_class=_HelpFormatter,
    )
    a.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="while the database cannot be reached, keep trying this long; 0 tries once",
    )


def _add_db_outbox(db_sub: argparse._SubParsersAction) -> None:
    outbox = db_sub.add_parser(
        "outbox",
        help="list the outbox; retry or drop dead letters and records for other databases",
        description="The local outbox keeps records the database could not take yet, each tagged "
        "with the database it is meant for (user, host, port and name; never the password). "
        "Records meant for another database (the state folder was used with another DATABASE_URL) "
        "are left alone. A record the database refuses for good (a constraint it will never "
        "satisfy) is set aside as a dead letter after 3 tries, and the records behind it go on. "
        "Exit status 1 when the outbox cannot be read or an id is unknown, 2 for wrong usage.",
        formatter_class=_HelpFormatter,
    )
    sub = outbox.add_subparsers(dest="outbox_command", required=True, metavar="WHAT")
    sub.add_parser(
        "list",
        help="what waits, for which database, and every dead letter with its reason",
        description="Print how many records wait for this database and for others, and every dead "
        "letter: its id, what it is, and why the database refused it.",
        formatter_class=_HelpFormatter,
    )
    for name, text in [
        (
            "retry",
            "queue dead letters again (a prediction's labels come along), or have records meant "
            "for another database written to this one (--database)",
        ),
        (
            "drop",
            "delete dead letters for good (a prediction's labels go too), or the records meant for "
            "another database (--database)",
        ),
    ]:
        a = sub.add_parser(name, help=text, description=text + ".", formatter_class=_HelpFormatter)
        a.add_argument("ids", nargs="*", type=int, metavar="ID", help="dead letter ids, as `list` shows them")
        a.add_argument("--all", action="store_true", default=None, help="every dead letter")
        a.add_argument(
            "--database",
            metavar="FINGERPRINT",
            help="the records meant for this other database, as `list` names it "
            "(e.g. postgresql://user@host:5432/name)",
        )


def main(argv: list[str] | None = None) -> int:
    problem = settings_problem()
    if problem:
        print(f"digit-knower: {problem}", file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    return args.handler(args) or 0


def settings_problem() -> str | None:
    """One line naming each setting in the environment (or .env) that is not valid, or None."""
    try:
        get_settings()
    except ValidationError as err:
        return "; ".join(
            f"{'.'.join(map(str, e['loc']))}={e['input']!r} is not valid: {e['msg']}" for e in err.errors()
        )
    return None


if __name__ == "__main__":
    sys.exit(main())
