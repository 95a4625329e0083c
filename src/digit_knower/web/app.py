"""The Digit Knower page: draw a digit, press Predict, say what it really was, watch the stats.

Streamlit runs this file top to bottom on every interaction. It only arranges the page: the
predictor reads digits, the store keeps records, `views` draws charts. Actions (Predict,
Submit label) come before the history and stats in the script, so those always show the
row that was just written.

An answer on screen belongs to the pictures it was read from. Once the page holds other
pictures (Clear, a new stroke, a new or removed upload), the answer greys out and its label
picker goes, so a label can only land on the drawing whose answer the person sees.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import streamlit as st
from PIL import UnidentifiedImageError

from digit_knower import EmptyImageError, InvalidImageError, Prediction, Predictor
from digit_knower.reader.picture import ACCEPTED_NAMES, UnsupportedFormatError
from digit_knower.reader.predictor import ModelNotFoundError
from digit_knower.reader.verdict import article, describe, named, ranked
from digit_knower.serving import predict_and_log as service
from digit_knower.serving.startup import Services, build_services
from digit_knower.settings import Settings, get_settings
from digit_knower.store import (
    DatabaseError,
    DatabaseUnavailableError,
    SchemaOutOfDateError,
    Store,
)
from digit_knower.web import canvas, models_view, views

DRAW_FIRST = "Draw a digit first: the canvas is still empty."
READ_AGAIN = "Press Predict to read the new drawing."
NOT_A_PICTURE = (
    f"This file is not a picture: the page reads {ACCEPTED_NAMES} pictures. "
    "Save the drawing as one of those and upload it again."
)
TOP = 3  # the likeliest digits shown next to a one-digit answer


@dataclass(frozen=True)
class ShownResult:
    """The prediction on screen, the id of its record so a label can be attached, and the
    digest of the pictures the page held when it was read (`pictures_digest`)."""

    prediction: Prediction
    record_id: uuid.UUID
    latency_ms: float
    read_from: str


def pictures_digest(drawing: bytes | None, upload: bytes | None) -> str:
    """One digest of all the page holds to be read: the canvas's drawing and the uploaded file.

    The canvas sends its picture whenever a stroke ends or Clear is pressed, so this digest
    changes exactly when what the person sees changes: the answer read from other pictures is
    then out of date, whenever the click that changed them arrived.
    """
    digest = hashlib.sha256()
    for picture in (drawing, upload):
        # A fixed-length entry for each, so that no two pairs of pictures share a digest.
        digest.update(b"\0" * 33 if picture is None else b"\1" + hashlib.sha256(picture).digest())
    return digest.hexdigest()


# --- resources: created once per server process, keyed so a changed setting gets its own ----


@st.cache_resource(show_spinner="Loading the model and opening the database…")
def load_services(settings: Settings) -> Services:
    """The model and the store this page serves with, built as the API builds its own (keyed by
    the settings' values)."""
    return build_services(settings)


# --- actions ---------------------------------------------------------------------------------


def predict_and_show(predictor: Predictor, store: Store, picture: bytes, held: str) -> None:
    """Read the picture, log the prediction, and keep it on screen as read from the pictures
    `held` (their digest). Bad input leaves a message."""
    st.session_state.pop("result", None)
    try:
        prediction, record = service.predict_and_log(predictor, store, picture, source="web")
    except EmptyImageError as error:
        st.session_state["notice"] = str(error)
        return
    except InvalidImageError as error:
        st.session_state["problem"] = problem_words(error)
        return
    st.session_state["result"] = ShownResult(prediction, record.id, record.latency_ms, read_from=held)


def problem_words(error: InvalidImageError) -> str:
    """Why a picture cannot be read, in words: the core's own for most, which name the format or
    the size; for bytes that are no picture at all, the page's, which name no Python class."""
    if not isinstance(error, UnsupportedFormatError) and isinstance(error.__cause__, UnidentifiedImageError):
        return NOT_A_PICTURE
    return str(error)


def upload_limit_mb() -> int:
    """The uploader's size limit in MB: Streamlit's server.maxUploadSize (`serve` sets it)."""
    return int(st.get_option("server.maxUploadSize"))


def too_big_words(size: int, limit_mb: int) -> str | None:
    """Why a file of `size` bytes is refused, in words with the limit; None when it fits."""
    if size <= limit_mb * 2**20:
        return None
    return (
        f"The file is {size / 2**20:.1f} MB: the page takes pictures up to {limit_mb} MB. Send a smaller one."
    )


def submit_label(store: Store, result: ShownResult, label: int) -> None:
    try:
        store.set_true_label(result.record_id, label)
    except DatabaseError as error:
        st.warning(f"The label was not saved: {error}")
        return
    verdict = "the model was right" if label == result.prediction.digit else "the model was wrong"
    st.success(
        f"Saved: it is {article(label)} **{label}**, so {verdict}. Submitting again replaces the label."
    )


# --- page sections ---------------------------------------------------------------------------


def input_panel(predictor: Predictor, store: Store) -> str:
    """The canvas and the uploader, each with its Predict; returns the digest of the pictures
    they hold now, for the result panel to tell whether the answer is still theirs."""
    draw_tab, upload_tab = st.tabs([":material/draw: Draw", ":material/upload_file: Upload"])
    with draw_tab:
        drawing = canvas.draw_digit()
        predict_drawing = st.button("Predict", type="primary", key="predict", icon=":material/auto_awesome:")
    with upload_tab:
        limit_mb = upload_limit_mb()
        uploaded = st.file_uploader(
            f"A {ACCEPTED_NAMES} picture of one digit, up to {limit_mb} MB",
            type=["png", "jpg", "jpeg", "webp"],
            key="upload",
            help="Dark or light ink.",
        )
        predict_upload = st.button("Predict the upload", key="predict_upload", disabled=uploaded is None)
    upload = None if uploaded is None else uploaded.getvalue()
    held = pictures_digest(drawing, upload)
    if predict_drawing:
        if drawing is None:
            st.session_state.pop("result", None)
            st.session_state["notice"] = DRAW_FIRST
        else:
            predict_and_show(predictor, store, drawing, held)
    elif predict_upload and upload is not None:
        if too_big := too_big_words(len(upload), limit_mb):
            st.session_state.pop("result", None)
            st.session_state["problem"] = too_big
        else:
            predict_and_show(predictor, store, upload, held)
    return held


def result_panel(store: Store, held: str) -> None:
    """The answer to the last Predict and its label picker, while the page still holds the pictures
    it was read from (`held` is their digest now); after that, the answer greyed out, no picker."""
    if notice := st.session_state.pop("notice", None):
        st.info(notice, icon=":material/edit:")
    if problem := st.session_state.pop("problem", None):
        st.error(problem, icon=":material/block:")
    result: ShownResult | None = st.session_state.get("result")
    if result is None:
        st.markdown("#### Draw a digit on the black square, then press **Predict**.")
        st.caption("Mouse, pen or finger. The model was trained on MNIST: one digit, roughly centred.")
        return
    if result.read_from != held:
        # Nothing to label here: the picker would attach a label to a drawing no longer shown.
        st.markdown(_answer_html(result, retired=True), unsafe_allow_html=True)
        return
    prediction = result.prediction
    digit_col, saw_col = st.columns([1, 1])
    with digit_col:
        st.markdown(_answer_html(result), unsafe_allow_html=True)
        if prediction.verdict == "not_a_digit":
            guess = named(prediction.digit)
            st.caption(
                f"If it is a digit after all, the best guess is {guess} "
                f"({views.percent(prediction.confidence)}). Tell the model below."
            )
        else:
            st.metric("Confidence", views.percent(prediction.confidence), help=_CONFIDENCE_HELP)
        st.metric(
            "Latency", f"{result.latency_ms:.1f} ms", help="Preprocessing and the model, on the server."
        )
    with saw_col:
        inputs = [part.model_input for part in prediction.parts or (prediction,)]
        caption = "What the model saw (28×28)" + (", digit by digit" if prediction.parts else "")
        st.image(views.enlarged_row(inputs), caption=caption, width=min(224 * len(inputs), 448))
    if prediction.verdict == "several_digits":
        st.caption("Labels teach the model one digit at a time: draw a single digit to correct it.")
        return
    st.altair_chart(views.probability_chart(prediction.probabilities, prediction.digit), width="stretch")
    label_form(store, result)


_CONFIDENCE_HELP = (
    "Calibrated: of the drawings it reads at 90%, about nine in ten are right. Below the reader's "
    "threshold it says it is not sure."
)


def _answer_html(result: ShownResult, retired: bool = False) -> str:
    """The answer, big (the digit or digits; a cross for no digit), and the reader's words; a
    retired answer (read from pictures the page no longer holds) greyed, with what to do next."""
    prediction = result.prediction
    shown = {
        "not_a_digit": "✗",
        "several_digits": " ".join(str(d) for d in prediction.digits),
        "unsure": f'{prediction.digit}<span class="dk-unsure">?</span>',
    }.get(prediction.verdict, str(prediction.digit))
    words = describe(prediction.verdict, prediction.digits, prediction.probabilities)
    state = "retired" if retired else "current"
    answer = (
        f'<div class="dk-answer dk-{state}" data-testid="dk-answer" data-state="{state}">'
        f'<div class="dk-digit dk-{prediction.verdict}" data-testid="dk-digit" '
        f'data-record="{result.record_id}" data-verdict="{prediction.verdict}">{shown}</div>'
        f'<div class="dk-message" data-testid="dk-message">{words}</div>'
        f"{_top_html(prediction)}</div>"
    )
    if retired:
        answer += f'<div class="dk-read-again" data-testid="dk-read-again">{READ_AGAIN}</div>'
    return answer


def _top_html(prediction: Prediction) -> str:
    """The TOP likeliest digits with their calibrated probabilities, for a one-digit answer (sure
    or not): how close the runner-up came is part of the answer."""
    if prediction.verdict not in ("digit", "unsure"):
        return ""
    items = "".join(
        f'<li data-digit="{digit}"><b>{digit}</b> {views.percent(p)}</li>'
        for digit, p in ranked(prediction.probabilities, TOP)
    )
    return f'<ol class="dk-top" data-testid="dk-top" aria-label="The {TOP} likeliest digits">{items}</ol>'


def label_form(store: Store, result: ShownResult) -> None:
    # A form: picking a digit costs no rerun, and the pick travels with the Submit click itself.
    with st.form(f"label-form-{result.record_id}", border=False):
        label = st.segmented_control("What was it really?", views.DIGITS, key=f"label-{result.record_id}")
        submitted = st.form_submit_button("Submit", key="submit_label")
    if submitted:
        if label is None:
            st.warning("Pick the digit you drew first.")
        else:
            submit_label(store, result, label)


def history_panel(store: Store) -> bool:
    """The latest predictions; returns False when the database could not be reached."""
    st.subheader("History")
    try:
        records = store.recent(limit=20)
    except DatabaseUnavailableError:
        st.info("The history is unavailable while the database is unreachable.")
        return False
    except DatabaseError as error:
        st.error(f"The history cannot be read: {error}")
        return True
    if not records:
        st.caption("No predictions yet.")
        return True
    st.dataframe(
        views.history_frame(records, st.context.timezone),
        hide_index=True,
        key="history",
        column_config={
            "time": st.column_config.DatetimeColumn("time", format="D MMM, HH:mm:ss"),
            "saw": st.column_config.ImageColumn("saw", width="small"),
            "confidence": st.column_config.ProgressColumn(
                "confidence", format="percent", min_value=0, max_value=1
            ),
            "predicted": st.column_config.NumberColumn("predicted", width="small"),
            "true label": st.column_config.TextColumn("true label", width="small"),
            "source": st.column_config.TextColumn("source", width="small"),
        },
    )
    return True


def stats_panel(store: Store) -> None:
    st.subheader("Live stats")
    try:
        stats = store.stats()
    except DatabaseUnavailableError:
        st.info("The stats are unavailable while the database is unreachable.")
        return
    except DatabaseError as error:
        st.error(f"The stats cannot be read: {error}")
        return
    total_col, labelled_col, accuracy_col, rejected_col = st.columns(4)
    total_col.metric("Predictions", stats.total)
    labelled_col.metric("Labelled", stats.labelled, help="Labelled drawings the reader read as one digit.")
    accuracy_col.metric(
        "Live accuracy",
        views.percent(stats.accuracy),
        help="Of the labelled drawings read as one digit (sure or not).",
    )
    rejected_col.metric(
        "Turned away",
        stats.rejected,
        help="Labelled drawings the reader called no digit, or several digits: not in the accuracy.",
    )
    if stats.total:
        st.caption(views.verdict_counts(stats.per_verdict))
    if stats.labelled == 0:
        st.caption("Give true labels to see the accuracy per digit and the confusion matrix.")
        return
    per_digit_col, confusion_col = st.columns(2, gap="large")
    with per_digit_col:
        st.markdown("**Accuracy per digit**")
        st.altair_chart(views.per_digit_chart(stats.per_digit), width="stretch")
    with confusion_col:
        st.markdown("**Confusion matrix** (labelled predictions)")
        st.altair_chart(views.confusion_chart(stats.confusion), width="stretch")


def model_summary(card: dict[str, Any]) -> None:
    """One line under the title: which model answers, how good it was on MNIST, and how fresh."""
    created = card.get("created_at")
    trained = f"{datetime.fromisoformat(created):%d %b %Y, %H:%M} UTC" if created else "at an unknown time"
    st.markdown(
        f"Model `{card.get('version', 'unknown')}` · **{views.percent(card.get('test_accuracy'))}** "
        f"on the MNIST test set · trained {trained}",
        help="From the model card shipped with the model.",
    )


def about_panel(card: dict[str, Any], store: Store) -> None:
    with st.expander("About the model and the log"):
        if card.get("architecture"):
            st.markdown(f"**Network** {card['architecture']}; {card.get('parameters', 0):,} parameters.")
        if card.get("val_accuracy") is not None:
            st.markdown(f"**Validation accuracy** {views.percent(card['val_accuracy'])}")
        st.markdown(f"**Predictions are logged to** the {store.where}.")


def outbox_banner(store: Store, reachable: bool) -> None:
    """What waits in the outbox, in plain words: nothing shows while all is well."""
    waiting = store.outbox_status()
    if not reachable:
        st.warning(
            f"The database is unreachable: logging paused; {_records(waiting.backlog)} waiting. "
            "Predictions still work, and the records are written as soon as it is back.",
            icon=":material/pause_circle:",
        )
    elif waiting.backlog:
        st.info(
            f"{_records(waiting.backlog).capitalize()} from a database outage "
            f"{'is' if waiting.backlog == 1 else 'are'} being written to the database now.",
            icon=":material/sync:",
        )
    if waiting.foreign:
        st.warning(
            f"{_records(waiting.foreign).capitalize()} in this server's outbox "
            f"{'was' if waiting.foreign == 1 else 'were'} meant for another database, so "
            f"{'it is' if waiting.foreign == 1 else 'they are'} kept aside and not written here. "
            "An operator can see them with `digit-knower db outbox list`.",
            icon=":material/move_item:",
        )
    if waiting.dead_letters:
        st.error(
            f"The database refused {_records(waiting.dead_letters)} for good, so "
            f"{'it is' if waiting.dead_letters == 1 else 'they are'} set aside, not in the history "
            "or the stats. An operator can see why with `digit-knower db outbox list`, then retry "
            "or drop them.",
            icon=":material/report:",
        )


def _records(count: int) -> str:
    return f"{count} record" if count == 1 else f"{count} records"


_STYLE = """
<style>
[data-testid="stMainBlockContainer"] { padding-top: 2.5rem; }
.dk-digit { font-size: 7.5rem; font-weight: 700; line-height: 1; color: #4f8cff;
            font-variant-numeric: tabular-nums; margin: 0.2rem 0 0.3rem; white-space: nowrap; }
.dk-digit.dk-unsure, .dk-unsure { color: #e0a526; }
.dk-digit.dk-not_a_digit { color: #8a93a8; }
.dk-digit.dk-several_digits { font-size: 5.5rem; }
.dk-message { font-size: 1.25rem; margin-bottom: 0.8rem; }
.dk-answer.dk-retired { opacity: 0.45; filter: grayscale(1); }
.dk-top { list-style: none; padding: 0; margin: 0 0 0.8rem; display: flex; flex-wrap: wrap;
          gap: 0.4rem 1.2rem; font-size: 1.05rem; font-variant-numeric: tabular-nums; }
.dk-top li { margin: 0; }
.dk-read-again { font-size: 1.1rem; font-weight: 600; }
</style>
"""


def main() -> None:
    st.set_page_config(page_title="Digit Knower", page_icon=":material/draw:", layout="wide")
    st.markdown(_STYLE, unsafe_allow_html=True)
    st.title(":material/draw: Digit Knower")
    st.caption("Draw a digit, press Predict, and tell the model when it is wrong.")
    summary = st.container()  # the model's line, once the model is loaded
    # Filled last, so that it counts the records this very run sent to the outbox. A container,
    # not st.empty(): a rerun keeps the last banner in place until the new one is drawn, so the
    # page below does not jump up and down on every click during an outage.
    banner = st.container()

    settings = get_settings()
    try:
        services = load_services(settings)
    except ModelNotFoundError as error:
        st.error(f"No model to serve: {error}", icon=":material/error:")
        st.stop()
    except SchemaOutOfDateError as error:
        st.error(f"The page cannot log predictions yet: {error}", icon=":material/build:")
        st.stop()
    except DatabaseError as error:
        st.error(f"The database cannot be used: {error}", icon=":material/error:")
        st.stop()
    store, live = services.store, services.model
    predictor = live.predictor  # read once: this whole run uses the model serving now
    with summary:
        model_summary(predictor.card)

    left, right = st.columns([1, 1.5], gap="large")
    with left:
        held = input_panel(predictor, store)
    with right:
        result_panel(store, held)
    st.divider()
    reachable = history_panel(store)
    stats_panel(store)
    models_view.models_panel(store, live)
    about_panel(predictor.card, store)
    with banner:
        outbox_banner(store, reachable)


main()
