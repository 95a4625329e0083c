"""The Digit Knower page: draw a digit, press Predict, say what it really was, watch the stats.

Streamlit runs this file top to bottom on every interaction. It only arranges the page: the
predictor reads digits, the store keeps records, `views` draws charts. Actions (Predict,
Submit label) come before the history and stats in the script, so those always show the
row that was just written.

An answer on screen belongs to the pictures it was read from. Once the page holds other
pictures (Clear, a new stroke, a new or removed upload), the answer greys out and its label
picker goes, so a label can only land on the drawing whose answer the person sees. Predict on
pictures whose answer is on screen already shows that answer again and logs no second row. Once
a label is saved, the page moves on to a clean canvas, and says "Saved" in a toast, which shows
wherever the person has scrolled to.

With "Read as I draw" on, the canvas asks for a reading after each pause in the drawing (see
`canvas`): the page reads it without logging anything and shows the answer with no label picker,
until Predict logs it as usual.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import streamlit as st
from PIL import UnidentifiedImageError

from digit_knower import EmptyImageError, InvalidImageError, Prediction, Predictor
from digit_knower.reader.picture import ACCEPTED_NAMES, UnsupportedFormatError
from digit_knower.reader.predictor import ModelNotFoundError
from digit_knower.reader.verdict import article, describe, named, ranked
from digit_knower.serving import exposure
from digit_knower.serving import predict_and_log as service
from digit_knower.serving.startup import Services, build_services
from digit_knower.settings import Settings, get_settings
from digit_knower.store import (
    DatabaseError,
    DatabaseUnavailableError,
    SchemaOutOfDateError,
    Store,
    UnknownPredictionError,
)
from digit_knower.store.records import Source
from digit_knower.web import canvas, focus, models_view, refused_upload, serve_command, views

DRAW_FIRST = "Draw a digit first: the canvas is still empty."
READ_AGAIN = "Press Predict to read the new drawing."
NOT_A_PICTURE = (
    f"This file is not a picture: the page reads {ACCEPTED_NAMES} pictures. "
    "Save the drawing as one of those and upload it again."
)
KEEP_IT = "Reading as you draw: press Predict to keep this answer and tell the model if it is wrong."
TOP = 3  # the likeliest digits shown next to a one-digit answer
FAVICON = Path(__file__).with_name("static") / "favicon.png"  # served by the page: no font CDN


@dataclass(frozen=True)
class ShownResult:
    """The prediction on screen, the id of its record so a label can be attached, and the
    digest of the pictures the page held when it was read (`pictures_digest`)."""

    prediction: Prediction
    record_id: uuid.UUID
    latency_ms: float
    read_from: str
    kind: str = "drawing"  # which picture was read: "drawing" or "upload"


@dataclass(frozen=True)
class LiveReading:
    """A reading of the canvas while drawing (Read as I draw): logged nowhere, so nothing to label."""

    prediction: Prediction
    read_from: str


def visitor() -> str:
    """The owner of this visit's drawings: "page:" and an id made at the session's first run. The
    visitor's History shows only these, and only these can be labelled or deleted from this page; a
    reload starts a new session, and with it a new owner."""
    if "visitor" not in st.session_state:
        st.session_state["visitor"] = uuid.uuid4().hex
    return f"page:{st.session_state['visitor']}"


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


def predict_and_show(predictor: Predictor, store: Store, picture: bytes, held: str, kind: str) -> None:
    """Read the picture, log the prediction, and keep it on screen as read from the pictures
    `held` (their digest). Bad input leaves a message. The answer on screen already read from
    these very pictures stays, and nothing is logged twice."""
    shown: ShownResult | None = st.session_state.get("result")
    if shown is not None and (shown.read_from, shown.kind) == (held, kind):
        return
    st.session_state.pop("result", None)
    try:
        prediction, record = service.predict_and_log(
            predictor, store, picture, source=source_of(kind), owner=visitor()
        )
    except EmptyImageError as error:
        st.session_state["notice"] = str(error)
        return
    except InvalidImageError as error:
        st.session_state["problem"] = problem_words(error)
        return
    st.session_state["result"] = ShownResult(prediction, record.id, record.latency_ms, held, kind)


def source_of(kind: str) -> Source:
    """How the log names a page prediction: "upload" for an uploaded picture, "web" for a drawing."""
    return "upload" if kind == "upload" else "web"


def read_live(predictor: Predictor, drawing: bytes, held: str) -> None:
    """Read the drawing as it is drawn (Read as I draw), logging nothing; a blank or unreadable
    canvas leaves no reading (the person is still drawing: no message to interrupt them)."""
    st.session_state.pop("live_reading", None)
    try:
        prediction = predictor.predict(drawing)
    except InvalidImageError:  # EmptyImageError too
        return
    st.session_state["live_reading"] = LiveReading(prediction, held)


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
    """Save the label, then move on to a clean canvas with no answer, and say "Saved" in a toast
    (fixed to the top of the window, so it shows wherever the person has scrolled to)."""
    try:
        store.set_true_label(result.record_id, label, owner=visitor())
    except DatabaseError as error:
        st.warning(f"The label was not saved: {error}")
        return
    st.session_state["saved"] = saved_words(label, result.prediction.digit)
    st.session_state.pop("result", None)
    st.session_state.pop("live_reading", None)
    canvas.start_afresh()
    st.rerun()


def saved_words(label: int, read: int) -> str:
    verdict = "the model was right" if label == read else "the model was wrong"
    return f"Saved: it is {article(label)} **{label}**, so {verdict}. Thank you: draw the next one."


def say_saved() -> None:
    """The toast for a label saved in the run before (a toast made before st.rerun would be lost)."""
    if words := st.session_state.pop("saved", None):
        st.toast(words, icon=":material/check_circle:", duration="long")


# --- page sections ---------------------------------------------------------------------------


def input_panel(predictor: Predictor, store: Store) -> str:
    """The canvas and the uploader, each with its Predict; returns the digest of the pictures
    they hold now, for the result panel to tell whether the answer is still theirs."""
    draw_tab, upload_tab = st.tabs([":material/draw: Draw", ":material/upload_file: Upload"])
    with draw_tab:
        # Above the canvas, so that Tab goes from the canvas's tools to Predict, then to the picker.
        live = st.toggle(
            "Read as I draw",
            key="live",
            help="Reads the drawing after each pause, without saving it: press Predict to keep the answer.",
        )
        drawn = canvas.draw_digit(live=live)
        if st.session_state.get(canvas.EPOCH):
            # A clean canvas after a saved label: the person draws the next digit here. At once,
            # not smoothly, so a pen that lands on it meanwhile lands where it is.
            key = canvas.current_key()
            focus.bring_into_view(focus.key_selector(key), key, smooth=False, block="center")
        drawing = drawn.drawing
        predict_drawing = st.button("Predict", type="primary", key="predict", icon=":material/auto_awesome:")
    with upload_tab:
        limit_mb = upload_limit_mb()
        uploaded = st.file_uploader(
            f"A {ACCEPTED_NAMES} picture of one digit, up to {limit_mb} MB",
            type=["png", "jpg", "jpeg", "webp"],
            key="upload",
            help="Dark or light ink.",
        )
        refused_upload.explain_refused_files("upload", limit_mb, ACCEPTED_NAMES)
        predict_upload = st.button("Predict the upload", key="predict_upload", disabled=uploaded is None)
    upload = None if uploaded is None else uploaded.getvalue()
    held = pictures_digest(drawing, upload)
    if predict_drawing:
        if drawing is None:
            st.session_state.pop("result", None)
            st.session_state["notice"] = DRAW_FIRST
        else:
            predict_and_show(predictor, store, drawing, held, "drawing")
    elif predict_upload and upload is not None:
        if too_big := too_big_words(len(upload), limit_mb):
            st.session_state.pop("result", None)
            st.session_state["problem"] = too_big
        else:
            predict_and_show(predictor, store, upload, held, "upload")
    elif drawn.read_now and live and drawing is not None:
        read_live(predictor, drawing, held)
    return held


def result_panel(store: Store, held: str) -> None:
    """The answer to the last Predict and its label picker, while the page still holds the pictures
    it was read from (`held` is their digest now); after that, the answer greyed out, no picker.

    The answer always sits first, in one ARIA live region that stays in place from the invitation
    on, so a screen reader announces each new answer (and its retirement)."""
    result: ShownResult | None = st.session_state.get("result")
    reading: LiveReading | None = st.session_state.get("live_reading")
    if result is not None and result.read_from == held:
        answer = _answer_html(result.prediction, str(result.record_id))
        st.markdown(_live_region(answer), unsafe_allow_html=True)
    elif reading is not None and reading.read_from == held:
        answer = _answer_html(reading.prediction, "", state="live")
        st.markdown(_live_region(answer + f'<div class="dk-keep-it">{KEEP_IT}</div>'), unsafe_allow_html=True)
    elif result is not None:
        # Nothing to label here: the picker would attach a label to a drawing no longer shown.
        answer = _answer_html(result.prediction, str(result.record_id), state="retired")
        note = f'<div class="dk-read-again" data-testid="dk-read-again">{READ_AGAIN}</div>'
        st.markdown(_live_region(answer + note), unsafe_allow_html=True)
    else:
        st.markdown(_live_region(_INVITATION), unsafe_allow_html=True)
    if notice := st.session_state.pop("notice", None):
        st.info(notice, icon=":material/edit:")
    if problem := st.session_state.pop("problem", None):
        st.error(problem, icon=":material/block:")
    if result is not None and result.read_from == held:
        focus.bring_into_view(focus.ANSWER, str(result.record_id))
        # The picker right under the answer: it is what the person does next, one Tab after Predict.
        if result.prediction.verdict == "several_digits":
            st.caption("Labels teach the model one digit at a time: draw a single digit to correct it.")
        else:
            label_form(store, result)
        answer_details(result.prediction, result.latency_ms)
        if result.prediction.verdict != "several_digits":
            st.altair_chart(
                views.probability_chart(result.prediction.probabilities, result.prediction.digit),
                width="stretch",
            )
    elif reading is not None and reading.read_from == held:
        answer_details(reading.prediction, None)


_INVITATION = (
    '<p class="dk-invite">Draw a digit on the black square, then press <b>Predict</b>.</p>'
    '<p class="dk-hint">Mouse, pen or finger. The model was trained on MNIST: one digit, roughly centred.</p>'
)


def _live_region(html: str) -> str:
    """`html` inside the page's one live region: polite, so it waits for the reader to finish."""
    return f'<div role="status" aria-live="polite" aria-atomic="true" data-testid="dk-live">{html}</div>'


def answer_details(prediction: Prediction, latency_ms: float | None) -> None:
    """Under the answer: how sure the reader is, how long it took (when logged), and what it saw."""
    digit_col, saw_col = st.columns([1, 1])
    with digit_col:
        if prediction.verdict == "not_a_digit":
            guess = named(prediction.digit)
            st.caption(
                f"If it is a digit after all, the best guess is {guess} "
                f"({views.percent(prediction.confidence)}). Tell the model with the picker."
            )
        else:
            st.metric("Confidence", views.percent(prediction.confidence), help=_CONFIDENCE_HELP)
        if latency_ms is not None:
            st.metric("Latency", f"{latency_ms:.1f} ms", help="Preprocessing and the model, on the server.")
    with saw_col:
        st.markdown(_saw_html(prediction), unsafe_allow_html=True)


def _saw_html(prediction: Prediction) -> str:
    """What the model saw, enlarged with hard pixels: the image shrinks to its column (several
    digits side by side are 460 px or more) and never grows past its own size."""
    inputs = [part.model_input for part in prediction.parts or (prediction,)]
    row = views.enlarged_row(inputs)
    buffer = io.BytesIO()
    row.save(buffer, format="PNG")
    source = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    caption = "What the model saw (28×28)" + (", digit by digit" if prediction.parts else "")
    return (
        f'<figure class="dk-saw" data-testid="dk-saw"><img src="{source}" alt="{views.saw_alt(len(inputs))}" '
        f'width="{row.width}" height="{row.height}"><figcaption>{caption}</figcaption></figure>'
    )


_CONFIDENCE_HELP = (
    "Calibrated: of the drawings it reads at 90%, about nine in ten are right. Below the reader's "
    "threshold it says it is not sure."
)


def _answer_html(prediction: Prediction, record: str, state: str = "current") -> str:
    """The answer, big (the digit or digits; a cross for no digit), and the reader's words.
    `state`: "current" (read from what the page holds, logged as `record`), "live" (read while
    drawing, not logged) or "retired" (read from pictures the page no longer holds: greyed)."""
    shown = {
        "not_a_digit": "✗",
        "several_digits": " ".join(str(d) for d in prediction.digits),
        "unsure": f'{prediction.digit}<span class="dk-unsure">?</span>',
    }.get(prediction.verdict, str(prediction.digit))
    words = describe(prediction.verdict, prediction.digits, prediction.probabilities)
    return (
        f'<div class="dk-answer dk-{state}" data-testid="dk-answer" data-state="{state}">'
        f'<div class="dk-digit dk-{prediction.verdict}" data-testid="dk-digit" '
        f'data-record="{record}" data-verdict="{prediction.verdict}">{shown}</div>'
        f'<div class="dk-message" data-testid="dk-message">{words}</div>'
        f"{_top_html(prediction)}</div>"
    )


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
    """This visitor's latest drawings, each of which they may delete; returns False when the
    database could not be reached. The stats below count everyone's."""
    st.subheader("Your drawings")
    try:
        records = store.recent(limit=20, owner=visitor())
    except DatabaseUnavailableError:
        st.info("Your drawings are unavailable while the database is unreachable.")
        return False
    except DatabaseError as error:
        st.error(f"Your drawings cannot be read: {error}")
        return True
    if not records:
        st.caption(
            "None yet: the drawings you predict in this visit show here. The stats below count everyone's."
        )
        return True
    st.caption("The drawings you predicted in this visit, newest first. Tick rows to delete them.")
    shown = st.dataframe(
        views.history_frame(records, st.context.timezone),
        hide_index=True,
        key=f"history-{st.session_state.get('history_table', 0)}",
        on_select="rerun",
        selection_mode="multi-row",
        column_config={
            "time": st.column_config.DatetimeColumn("time", format="D MMM, HH:mm:ss"),
            "saw": st.column_config.ImageColumn("saw", width=views.saw_column_width(records)),
            "confidence": st.column_config.ProgressColumn(
                "confidence", format="percent", min_value=0, max_value=1
            ),
            "answer": st.column_config.TextColumn("answer", help="What the reader said, in its own words."),
            "true label": st.column_config.TextColumn("true label", width="small"),
            "source": st.column_config.TextColumn("source", width="small"),
        },
    )
    picked = [records[row].id for row in shown.selection.rows if row < len(records)]
    label = f"Delete {len(picked)} drawing{'s' if len(picked) != 1 else ''}" if picked else "Delete"
    if st.button(label, key="delete_drawings", icon=":material/delete:", disabled=not picked):
        delete_drawings(store, picked)
    return True


def delete_drawings(store: Store, ids: list[uuid.UUID]) -> None:
    """Delete this visitor's drawings, picture, label and all, then show the page without them."""
    try:
        for prediction_id in ids:
            # One gone already (deleted in another tab) is done as asked.
            with contextlib.suppress(UnknownPredictionError):
                store.delete_prediction(prediction_id, owner=visitor())
    except DatabaseUnavailableError:
        st.warning("Nothing was deleted: the database is unreachable. Try again once it is back.")
        return
    except DatabaseError as error:
        st.warning(f"The drawings were not deleted: {error}")
        return
    shown: ShownResult | None = st.session_state.get("result")
    if shown is not None and shown.record_id in ids:
        st.session_state.pop("result", None)  # no label can land on a deleted drawing
    # A table under a new key: the old one's ticks would point at the rows that moved up.
    st.session_state["history_table"] = int(st.session_state.get("history_table", 0)) + 1
    st.rerun()


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
    colours = views.palette(st.context.theme.type)
    per_digit_col, confusion_col = st.columns(2, gap="large")
    with per_digit_col:
        st.markdown("**Accuracy per digit**")
        st.altair_chart(views.per_digit_chart(stats.per_digit, colours), width="stretch")
    with confusion_col:
        st.markdown("**Confusion matrix** (labelled predictions)")
        st.altair_chart(views.confusion_chart(stats.confusion, colours), width="stretch")


def model_summary(card: dict[str, Any]) -> None:
    """One plain line under the title: what reads the drawing and how well. The version, the date
    and the test set's name are for the curious: in the tooltip and the Models section."""
    created = card.get("created_at")
    trained = f"{datetime.fromisoformat(created):%d %b %Y, %H:%M} UTC" if created else "at an unknown time"
    st.markdown(
        plain_summary(card.get("test_accuracy")),
        help=f"Model `{card.get('version', 'unknown')}`, trained {trained}; its figures are for the "
        "MNIST test set. The Models section below says more.",
    )


def plain_summary(test_accuracy: float | None) -> str:
    """The line above the fold, for a visitor: no version, no data set's name."""
    if test_accuracy is None:
        return "A small neural network reads your drawing."
    return (
        "A small neural network reads your drawing. Of 10,000 handwritten digits it had never seen, "
        f"it read **{views.percent(test_accuracy)}** right."
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


def exposure_notice() -> None:
    """`serve`'s warning, on the page too, when the page listens beyond this machine with no API
    key set: whoever runs it sees that nothing is locked. The address is the one `serve` gave
    Streamlit; with none (AppTest, a bare `streamlit run`) the page says nothing."""
    host = st.get_option("server.address")
    if not host:
        return
    if warning := serve_command.exposure_warning(host):
        # The command to run in code style: it is to be copied, and `$(...)` is no LaTeX.
        words = warning.replace(exposure.NEW_KEY, f"`{exposure.NEW_KEY}`")
        st.warning(words[0].upper() + words[1:], icon=":material/lock_open:")


def _records(count: int) -> str:
    return f"{count} record" if count == 1 else f"{count} records"


_STYLE = """
<style>
[data-testid="stMainBlockContainer"] { padding-top: 2.5rem; }
.dk-digit { font-size: 7.5rem; font-weight: 700; line-height: 1; color: #4f8cff;
            font-variant-numeric: tabular-nums; margin: 0.2rem 0 0.3rem; white-space: nowrap; }
/* The big answer's colours pass 3:1 (large text) on the light theme's white and on the dark
   theme's #171614 (Streamlit 1.67) alike: blue 3.2 and 5.6, amber 3.6 and 5.0, grey 3.7 and 4.9.
   The page follows the system's scheme: tests/e2e/test_page_theme_in_chromium.py measures both. */
.dk-digit.dk-unsure, .dk-unsure { color: #b7791f; }
.dk-digit.dk-not_a_digit { color: #7d8699; }
.dk-digit.dk-several_digits { font-size: 5.5rem; white-space: normal; }
.dk-message { font-size: 1.25rem; margin-bottom: 0.8rem; }
.dk-answer.dk-retired { opacity: 0.45; filter: grayscale(1); }
.dk-top { list-style: none; padding: 0; margin: 0 0 0.8rem; display: flex; flex-wrap: wrap;
          gap: 0.4rem 1.2rem; font-size: 1.05rem; font-variant-numeric: tabular-nums; }
.dk-top li { margin: 0; }
.dk-read-again, .dk-keep-it { font-size: 1.1rem; font-weight: 600; }
.dk-answer.dk-live .dk-digit { opacity: 0.8; }
.dk-invite { font-size: 1.5rem; font-weight: 600; margin-bottom: 0.3rem; }
.dk-hint { opacity: 0.75; font-size: 0.9rem; }
/* What the model saw shrinks to its column (several digits are 460 px wide and more), hard pixels. */
.dk-saw { margin: 0; }
.dk-saw img { display: block; max-width: 100%; height: auto; image-rendering: pixelated;
              border-radius: 0.3rem; }
.dk-saw figcaption { font-size: 0.85rem; opacity: 0.75; margin-top: 0.3rem; }
/* Touch targets of at least 44x44 px (WCAG 2.5.5): buttons, tabs and the label chips. */
[data-testid="stMain"] [data-testid^="stBaseButton-"],
[data-testid="stMain"] [data-testid="stTab"],
[data-testid="stMain"] [data-testid="stButtonGroup"] button { min-height: 44px; min-width: 44px; }
/* On a phone the ten chips take two even rows of five instead of a ragged wrap. */
@media (max-width: 640px) {
  [class*="st-key-label-"] [role="radiogroup"] {
    display: grid; grid-template-columns: repeat(5, minmax(44px, 1fr)); gap: 0.4rem; }
  .dk-digit { font-size: 5.5rem; }
}
</style>
"""


def main() -> None:
    st.set_page_config(page_title="Digit Knower", page_icon=str(FAVICON), layout="wide")
    st.markdown(_STYLE, unsafe_allow_html=True)
    say_saved()
    st.title(":material/draw: Digit Knower")
    st.caption("Draw a digit, press Predict, and tell the model when it is wrong.")
    exposure_notice()
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
