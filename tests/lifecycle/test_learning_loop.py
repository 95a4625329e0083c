"""The learning loop end to end, small: a user whose style the shipped model misreads labels 200
drawings through the API into PostgreSQL; `digit-knower retrain --promote` makes, registers and
promotes a candidate; the running API serves it without a restart and reads the user's fresh
drawings better. (The full-size figures come from bench/learning_loop.py.) Then the ways retrain
refuses: no feedback, too little, and a candidate the gate rejects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from digit_knower import Predictor
from digit_knower.cli import main as cli_main
from digit_knower.data.mnist import load_mnist
from digit_knower.lifecycle import feedback
from digit_knower.lifecycle.retrain import EXIT_REFUSED
from digit_knower.reader.predictor import CARD_FILE, MODEL_FILE
from digit_knower.serving import predict_and_log as service
from digit_knower.settings import SHIPPED_MODEL_DIR, get_settings
from digit_knower.store import Store
from digit_knower.store.api_keys import ADMIN_KEY_NAME
from tests.support.api import drawn_one
from tests.support.learning_loop import LoopRun
from tests.support.lifecycle import SHIPPED_VERSION


@pytest.fixture
def loop_store(learning_loop: LoopRun, tmp_path: Path) -> Store:
    with Store(learning_loop.database_url, outbox_path=tmp_path / "outbox.sqlite3") as store:
        yield store


@pytest.mark.postgres
def test_retrain_promotes_a_candidate_that_reads_the_users_style(learning_loop: LoopRun) -> None:
    run = learning_loop
    print(
        f"\nfresh drawings: {run.before.accuracy:.1%} before, {run.after.accuracy:.1%} after; retrain "
        f"{run.retrain_seconds:.0f} s; served {run.switch_seconds:.2f} s after retrain ended"
    )
    assert run.parent == SHIPPED_VERSION and run.candidate != SHIPPED_VERSION
    assert run.before.accuracy <= 0.93  # the simulated user's style really is misread
    assert run.after.accuracy >= 0.97
    assert set(run.before.versions) == {run.parent}
    assert set(run.after.versions) == {run.candidate}  # every answer after the swap: the new model

    out = run.retrain.stdout
    for figure in ("MNIST test set (10,000)", "feedback holdout (", "robustness set (3,000)"):
        assert figure in out
    assert f"the gate passed: {run.candidate} now serves" in out
    assert "fine-tuning" in run.retrain.stderr  # the progress bar


@pytest.mark.postgres
def test_the_candidates_card_names_its_lineage_and_figures(learning_loop: LoopRun, loop_store: Store) -> None:
    registry = Path(learning_loop.env["DIGIT_KNOWER_MODEL_REGISTRY"])
    card = Predictor.from_dir(registry / learning_loop.candidate).card
    lineage = card["lineage"]
    assert lineage["parent_version"] == SHIPPED_VERSION
    assert lineage["feedback_rows"] == 200
    assert lineage["feedback_train_rows"] + lineage["feedback_holdout_rows"] == 200
    newest = loop_store.labelled_feedback()[-1]
    assert lineage["feedback_latest"] == {"id": str(newest.id), "created_at": newest.created_at.isoformat()}
    assert lineage["data_sha256"] == load_mnist(Path(learning_loop.env["DIGIT_KNOWER_DATA_DIR"])).sha256
    assert lineage["seed"] == 0 and lineage["code_version"].startswith("0.1.0")
    assert len(lineage["feedback_sha256"]) == 64

    evaluation = card["evaluation"]
    assert evaluation["candidate"]["mnist_test"]["accuracy"] == card["test_accuracy"]
    assert (
        evaluation["candidate"]["feedback_holdout"]["correct"]
        > evaluation["parent"]["feedback_holdout"]["correct"]
    )
    assert (card["gate"]["passed"], card["gate"]["failures"]) == (True, [])
    changed = card["gate"]["changed_answers"]
    assert changed["total"] == 3000 and changed["changed"] <= 60  # 2% of the reference set
    assert lineage["feedback_untrusted_left_out"] == 0
    # The gate's own bound: the parent's (the shipped model's) MNIST test accuracy less 0.1 point.
    shipped = json.loads((SHIPPED_MODEL_DIR / CARD_FILE).read_text())
    assert card["test_accuracy"] >= shipped["test_accuracy"] - 0.001

    assert {p.name for p in (registry / learning_loop.candidate).iterdir()} == {
        MODEL_FILE,
        CARD_FILE,
        "digit_cnn.pt",
    }
    registered = {m.version: m.card for m in loop_store.registered_models()}
    assert registered[learning_loop.candidate] == card
    # The parent was kept in the registry too, so that every machine can roll back to it.
    assert (registry / SHIPPED_VERSION / MODEL_FILE).is_file()


@pytest.mark.postgres
def test_the_promotion_is_in_the_history_and_each_prediction_logged_its_model(
    learning_loop: LoopRun, loop_store: Store
) -> None:
    deployment = loop_store.deployments()[-1]  # the first one (the Models view test adds more)
    assert (deployment.action, deployment.version, deployment.previous_version) == (
        "promote",
        learning_loop.candidate,
        None,
    )
    assert deployment.by.endswith("(retrain --promote)")
    assert deployment.reason.startswith("retrain --promote: the gate passed (MNIST test set")
    per_model = {m.model_version: m for m in loop_store.stats().per_model}
    assert per_model[SHIPPED_VERSION].predictions == 300  # 200 labelled, 100 fresh before
    # The live statistics count the labelled drawings it read as one digit; it turned the rest away.
    assert per_model[SHIPPED_VERSION].labelled == learning_loop.logged.read_as_one_digit.sum() < 200
    assert per_model[learning_loop.candidate].predictions == 100


# --- what retrain refuses ---------------------------------------------------------------------------


@pytest.fixture
def sqlite_env(tmp_path: Path, mnist_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    """The embedded database of this test's state folder, a registry beside it, and MNIST."""
    monkeypatch.setenv("DIGIT_KNOWER_MODEL_REGISTRY", str(tmp_path / "registry"))
    monkeypatch.setenv("DIGIT_KNOWER_DATA_DIR", str(mnist_dir))
    get_settings.cache_clear()
    with Store.from_settings() as store:
        store.ensure_schema()
        yield store


def log_labelled(store: Store, count: int, label: int = 1, by: str = ADMIN_KEY_NAME) -> None:
    """`count` drawings of a 1, each read by the shipped model (rightly), labelled `label` by `by`
    (by default: 1, by the admin key, whose labels are trusted)."""
    predictor = Predictor.load()
    for _ in range(count):
        _, record = service.predict_and_log(predictor, store, drawn_one(), source="api", owner=by)
        store.set_true_label(record.id, label, by=by)


def test_retrain_without_labelled_predictions_stops_with_a_clear_message(
    sqlite_env: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main(["retrain"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: there are no trusted labelled predictions in the SQLite file")
    assert "Label some predictions" in err
    assert sqlite_env.registered_models() == []


def test_retrain_with_fewer_than_the_minimum_stops_and_names_the_setting(
    sqlite_env: Store, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    log_labelled(sqlite_env, 3)
    assert cli_main(["retrain", "--min-feedback", "5"]) == 2
    assert "only 3 trusted labelled predictions" in capsys.readouterr().err

    monkeypatch.setenv("DIGIT_KNOWER_RETRAIN_MIN_FEEDBACK", "4")
    get_settings.cache_clear()
    assert cli_main(["retrain"]) == 2
    err = capsys.readouterr().err
    assert "retraining needs at least 4 (--min-feedback, or DIGIT_KNOWER_RETRAIN_MIN_FEEDBACK)" in err


def test_a_candidate_no_better_on_the_holdout_is_kept_but_not_promoted_and_the_gate_says_why(
    sqlite_env: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    log_labelled(sqlite_env, 60)  # the shipped model reads all of them already: nothing to gain

    assert cli_main(["retrain", "--promote", "--min-feedback", "50", "--steps", "10"]) == EXIT_REFUSED

    out = capsys.readouterr().out
    assert "gate: feedback holdout: 100.00% is not better than the parent's 100.00%" in out
    assert out.rstrip().endswith("not promoted")
    assert sqlite_env.serving_version() is None
    [candidate] = [m for m in sqlite_env.registered_models() if m.version != SHIPPED_VERSION]
    assert candidate.card["gate"]["passed"] is False
    assert (Path(get_settings().model_registry) / candidate.version / MODEL_FILE).is_file()


@pytest.fixture
def postgres_env(postgres, tmp_path: Path, mnist_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    """`sqlite_env` on a fresh database of the real PostgreSQL server."""
    url = postgres.create_migrated_database()
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DIGIT_KNOWER_MODEL_REGISTRY", str(tmp_path / "registry"))
    monkeypatch.setenv("DIGIT_KNOWER_DATA_DIR", str(mnist_dir))
    get_settings.cache_clear()
    with Store.from_settings() as store:
        store.ensure_schema()
        yield store


@pytest.mark.postgres
def test_300_wrong_labels_from_an_untrusted_source_are_neither_learned_nor_promoted(
    postgres_env: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    store = postgres_env
    store.create_api_key("mallory", ["predict", "label"])  # a key with the label scope, not trusted
    log_labelled(store, 60)  # a trusted labeller's right labels
    log_labelled(store, 250, label=7, by="mallory")  # every 1 called a 7
    log_labelled(store, 50, label=7, by="page:0f3c")  # and by an anonymous page visitor
    trusted = store.labelled_feedback()

    status = cli_main(["retrain", "--promote", "--min-feedback", "50", "--steps", "10"])

    assert status == EXIT_REFUSED
    assert store.serving_version() is None  # nothing promoted
    [candidate] = [m for m in store.registered_models() if m.version != SHIPPED_VERSION]
    lineage = candidate.card["lineage"]
    assert (lineage["feedback_rows"], lineage["feedback_untrusted_left_out"]) == (60, 300)
    assert lineage["feedback_sha256"] == feedback.split(trusted).sha256  # the 60 trusted rows alone
    # The feedback holdout held trusted labels only: the parent reads every one of them right.
    holdout = candidate.card["evaluation"]["parent"]["feedback_holdout"]
    assert holdout["correct"] == holdout["total"] == lineage["feedback_holdout_rows"] > 0
    # And the candidate still reads the drawings the poison called 7 as what they are.
    model = Predictor.from_dir(Path(get_settings().model_registry) / candidate.version)
    assert model.predict(drawn_one()).digit == 1
    assert "not promoted" in capsys.readouterr().out
