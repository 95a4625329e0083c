"""The web page, run headless with Streamlit's AppTest against the real predictor and a real database.

The canvas lives in the browser, so these tests put a drawing where the browser would: into
session state under the canvas component's key, as the PNG data URL the component sends.
The real browser path is covered by tests/e2e.
"""

from __future__ import annotations

import base64
import io
import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from digit_knower import InvalidImageError, Predictor
from digit_knower.reader.verdict import describe, ranked
from digit_knower.settings import get_settings
from digit_knower.store import Store
from digit_knower.web import canvas, views
from tests.support.postgres_server import PostgresServer, free_port
from tests.support.servers import digit_knower_command
from tests.support.web import APP

NOT_A_PICTURE = (
    "This file is not a picture: the page reads PNG, JPEG or WebP pictures. "
    "Save the drawing as one of those and upload it again."
)


def drawing(paint: Callable[[ImageDraw.ImageDraw], None] | None = None) -> bytes:
    """A 280x280 canvas PNG, white ink on black, exactly as the browser component sends it."""
    picture = Image.new("L", (canvas.SIZE, canvas.SIZE), 0)
    if paint is not None:
        paint(ImageDraw.Draw(picture))
    buffer = io.BytesIO()
    picture.convert("RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def one(draw: ImageDraw.ImageDraw) -> None:
    draw.line([(140, 45), (140, 235)], fill=255, width=canvas.DEFAULT_STROKE)


def seven(draw: ImageDraw.ImageDraw) -> None:
    draw.line([(75, 60), (205, 60), (120, 235)], fill=255, width=canvas.DEFAULT_STROKE, joint="curve")


@pytest.fixture
def page(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """The page on a fresh, migrated database (SQLite, then PostgreSQL), after its first run."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    Store(database_url, outbox_path=tmp_path / "migrate-outbox.sqlite3").upgrade()
    return AppTest.from_file(str(APP), default_timeout=60).run()


@pytest.fixture
def store(page: AppTest) -> Store:
    settings = get_settings()
    return Store(settings.effective_database_url, outbox_path=settings.outbox_path)


def canvas_key(page: AppTest) -> str:
    """The key of the canvas on the page now: a new one for each clean canvas after a saved label."""
    if canvas.EPOCH not in page.session_state:
        return canvas.KEY
    return f"{canvas.KEY}-{page.session_state[canvas.EPOCH]}"


def put_on_canvas(page: AppTest, png: bytes | None) -> None:
    """What the browser's canvas sends when a stroke ends (the whole picture) or Clear is pressed."""
    page.session_state[canvas_key(page)] = {"image": None if png is None else canvas.png_data_url(png)}


def draw_and_predict(page: AppTest, png: bytes | None) -> AppTest:
    put_on_canvas(page, png)
    return page.button(key="predict").click().run()


def answer_state(page: AppTest) -> str | None:
    """Whether the answer on screen is "current" (read from what the page holds) or "retired"."""
    states = [
        s for m in page.markdown for s in re.findall(r'data-testid="dk-answer" data-state="(\w+)"', m.value)
    ]
    assert len(states) <= 1, "more than one answer on the page"
    return states[0] if states else None


def label_picker_shown(page: AppTest) -> bool:
    return any(c.label == "What was it really?" for c in page.segmented_control)


def asks_to_predict_again(page: AppTest) -> bool:
    return any("Press Predict to read the new drawing." in m.value for m in page.markdown)


def shown_digits(page: AppTest) -> list[int]:
    """The big digits of the result panel (there is one after a successful Predict)."""
    return [int(d) for m in page.markdown for d in re.findall(r'data-testid="dk-digit"[^>]*>(\d)<', m.value)]


def shown_digit(page: AppTest) -> int:
    [digit] = shown_digits(page)
    return digit


def test_page_starts_with_an_invitation_and_a_plain_line_about_the_model(page: AppTest) -> None:
    assert not page.exception
    [invitation] = [m.value for m in page.markdown if "then press <b>Predict</b>" in m.value]
    assert 'role="status" aria-live="polite"' in invitation  # where the answer will be announced
    card = Predictor.load().card
    [summary] = [m for m in page.markdown if m.value.startswith("A small neural network reads your drawing.")]
    assert f"it read **{card['test_accuracy']:.1%}** right" in summary.value
    assert "MNIST" not in summary.value and card["version"] not in summary.value  # jargon: in the tooltip
    assert summary.help is not None and f"`{card['version']}`" in summary.help


def test_predict_on_an_untouched_canvas_asks_for_a_drawing_and_logs_nothing(
    page: AppTest, store: Store
) -> None:
    draw_and_predict(page, None)
    assert [i.value for i in page.info] == ["Draw a digit first: the canvas is still empty."]
    assert store.recent() == []


def test_predict_on_a_cleared_black_canvas_gives_the_cores_message_and_logs_nothing(
    page: AppTest, store: Store
) -> None:
    draw_and_predict(page, drawing())
    assert len(page.info) == 1
    assert "draw" in page.info[0].value.lower() or "blank" in page.info[0].value.lower()
    assert not shown_digits(page)
    assert store.recent() == []


def test_a_drawn_one_is_read_shown_and_logged(page: AppTest, store: Store) -> None:
    draw_and_predict(page, drawing(one))
    assert not page.exception
    assert shown_digit(page) == 1
    [confidence, latency] = page.metric[:2]
    assert confidence.label == "Confidence" and confidence.value.endswith("%")
    assert latency.label == "Latency" and latency.value.endswith(" ms")
    [record] = store.recent()
    assert (record.digit, record.source, record.true_label) == (1, "web", None)
    assert record.model_version == Predictor.load().card["version"]


def test_a_saved_label_lands_on_the_row_and_the_page_moves_on_to_a_clean_canvas(
    page: AppTest, store: Store
) -> None:
    draw_and_predict(page, drawing(seven))
    [record] = store.recent()
    old_key = canvas_key(page)

    page.segmented_control[0].set_value(7)
    page.button(key="submit_label").click().run()
    assert [t.value for t in page.toast] == [
        "Saved: it is a **7**, so the model was right. Thank you: draw the next one."
    ]
    assert store.get(record.id).true_label == 7
    assert canvas_key(page) != old_key and page.session_state[canvas_key(page)]["image"] is None
    assert answer_state(page) is None and not label_picker_shown(page)
    assert any("then press <b>Predict</b>" in m.value for m in page.markdown)

    draw_and_predict(page, drawing(one))  # the next drawing, on the clean canvas
    assert (shown_digit(page), answer_state(page)) == (1, "current")
    assert [(r.digit, r.true_label) for r in store.recent()] == [(1, None), (7, 7)]


def test_a_label_for_an_eight_says_an_eight(page: AppTest, store: Store) -> None:
    draw_and_predict(page, drawing(one))
    page.segmented_control[0].set_value(8)
    page.button(key="submit_label").click().run()
    assert page.toast[0].value.startswith("Saved: it is an **8**, so the model was wrong.")
    assert store.recent()[0].true_label == 8


def test_predict_again_on_the_same_drawing_shows_the_same_answer_and_logs_no_second_row(
    page: AppTest, store: Store
) -> None:
    draw_and_predict(page, drawing(one))
    [record] = store.recent()
    page.button(key="predict").click().run()
    assert (shown_digit(page), answer_state(page), label_picker_shown(page)) == (1, "current", True)
    assert [r.id for r in store.recent()] == [record.id]
    assert any(f'data-record="{record.id}"' in m.value for m in page.markdown)

    # The same picture uploaded is another input: read and logged, as an upload.
    page.file_uploader(key="upload").set_value(("one.png", drawing(one), "image/png"))
    page.run()
    page.button(key="predict_upload").click().run()
    assert [r.source for r in store.recent()] == ["upload", "web"]


def test_clear_after_predict_retires_the_answer_and_its_label_picker(page: AppTest, store: Store) -> None:
    draw_and_predict(page, drawing(one))
    assert (answer_state(page), label_picker_shown(page)) == ("current", True)
    assert not asks_to_predict_again(page)

    put_on_canvas(page, None)  # Clear
    page.run()
    assert answer_state(page) == "retired"
    assert asks_to_predict_again(page)
    assert not label_picker_shown(page)
    assert not [b for b in page.button if b.key == "submit_label"]

    put_on_canvas(page, drawing(seven))  # a new drawing, not read yet
    page.run()
    assert (answer_state(page), label_picker_shown(page)) == ("retired", False)
    assert asks_to_predict_again(page)
    [record] = store.recent()
    assert (record.digit, record.true_label) == (1, None)


def test_a_new_stroke_retires_the_answer(page: AppTest) -> None:
    draw_and_predict(page, drawing(one))

    def one_and_a_bar(draw: ImageDraw.ImageDraw) -> None:
        one(draw)
        draw.line([(100, 235), (180, 235)], fill=255, width=canvas.DEFAULT_STROKE)

    put_on_canvas(page, drawing(one_and_a_bar))
    page.run()
    assert (answer_state(page), label_picker_shown(page)) == ("retired", False)


def test_an_unchanged_drawing_keeps_its_answer_and_picker_through_other_clicks(page: AppTest) -> None:
    draw_and_predict(page, drawing(one))
    put_on_canvas(page, drawing(one))  # the same picture again: nothing the person sees changed
    page.run()
    page.segmented_control[0].set_value(3).run()
    assert (answer_state(page), label_picker_shown(page)) == ("current", True)


def test_a_new_upload_retires_the_answer_to_the_drawing(page: AppTest) -> None:
    draw_and_predict(page, drawing(one))
    page.file_uploader(key="upload").set_value(("seven.png", drawing(seven), "image/png"))
    page.run()
    assert (answer_state(page), label_picker_shown(page)) == ("retired", False)


def test_a_stroke_on_the_canvas_retires_the_answer_to_the_upload(page: AppTest) -> None:
    page.file_uploader(key="upload").set_value(("one.png", drawing(one), "image/png"))
    page.run()
    page.button(key="predict_upload").click().run()
    assert (shown_digit(page), answer_state(page)) == (1, "current")
    put_on_canvas(page, drawing(seven))
    page.run()
    assert (answer_state(page), label_picker_shown(page)) == ("retired", False)


def test_a_submit_arriving_with_a_changed_drawing_saves_no_label(page: AppTest, store: Store) -> None:
    # The pick and the Submit click travel in the same run as a stroke that ended just before:
    # the label would describe the drawing no longer shown, so it is not saved.
    draw_and_predict(page, drawing(one))
    page.segmented_control[0].set_value(7)
    put_on_canvas(page, drawing(seven))
    page.button(key="submit_label").click().run()
    assert not page.exception
    assert not page.toast
    assert answer_state(page) == "retired"
    assert store.recent()[0].true_label is None


def test_predict_on_the_new_drawing_gives_a_fresh_answer_and_the_label_lands_on_it(
    page: AppTest, store: Store
) -> None:
    draw_and_predict(page, drawing(one))
    put_on_canvas(page, None)
    page.run()
    draw_and_predict(page, drawing(seven))
    assert (shown_digit(page), answer_state(page), label_picker_shown(page)) == (7, "current", True)
    page.segmented_control[0].set_value(7)
    page.button(key="submit_label").click().run()
    assert "it is a **7**, so the model was right" in page.toast[0].value
    assert [(r.digit, r.true_label) for r in store.recent()] == [(7, 7), (1, None)]


def test_submit_without_a_picked_label_asks_for_one(page: AppTest, store: Store) -> None:
    draw_and_predict(page, drawing(one))
    page.button(key="submit_label").click().run()
    assert page.warning[0].value == "Pick the digit you drew first."
    assert store.recent()[0].true_label is None


def test_history_and_stats_show_the_new_row_at_once(page: AppTest) -> None:
    draw_and_predict(page, drawing(one))
    history = page.dataframe[0].value
    assert len(history) == 1
    assert history.loc[0, "answer"] in ("It's a 1.", "Probably a 1.") or history.loc[0, "answer"].startswith(
        "Probably a 1;"
    )
    assert "predicted" not in history.columns  # a digit would show even for 'not a digit'
    assert history.loc[0, "correct"] == ""

    page.segmented_control[0].set_value(1)
    page.button(key="submit_label").click().run()
    history = page.dataframe[0].value
    assert history.loc[0, "true label"] == "1"
    assert history.loc[0, "correct"] == "✓ right"
    metrics = {m.label: m.value for m in page.metric}
    assert (metrics["Predictions"], metrics["Labelled"], metrics["Live accuracy"]) == ("1", "1", "100.0%")


def one_and_zero(draw: ImageDraw.ImageDraw) -> None:
    """A 1 and a 0 side by side, well apart: the reader reads two digits."""
    draw.line([(70, 70), (70, 210)], fill=255, width=canvas.DEFAULT_STROKE)
    draw.ellipse([(160, 70), (240, 210)], outline=255, width=canvas.DEFAULT_STROKE)


def test_the_history_shows_several_digits_in_words_with_every_digits_picture(
    page: AppTest, store: Store
) -> None:
    draw_and_predict(page, drawing(one_and_zero))
    (record,) = store.recent()
    assert (record.verdict, record.digits) == ("several_digits", [1, 0])
    history = page.dataframe[0].value
    assert history.loc[0, "answer"] == "I see several digits: 1 0."
    picture = Image.open(io.BytesIO(base64.b64decode(history.loc[0, "saw"].split(",", 1)[1])))
    assert picture.size == (2 * 28 + views.THUMBNAIL_GAP, 28)  # both digits, not only the 1
    assert np.array_equal(np.asarray(picture)[:, -28:], record.part_input_arrays()[1])  # the 0, as saved


def test_an_uploaded_png_is_read_and_logged_as_an_upload(page: AppTest, store: Store) -> None:
    page.file_uploader(key="upload").set_value(("one.png", drawing(one), "image/png"))
    page.run()
    page.button(key="predict_upload").click().run()
    assert shown_digit(page) == 1
    assert [(r.digit, r.source) for r in store.recent()] == [(1, "upload")]
    assert page.dataframe[0].value.loc[0, "source"] == "upload"  # the History says so too


def upload_and_predict(page: AppTest, name: str, data: bytes, mime: str) -> AppTest:
    page.file_uploader(key="upload").set_value((name, data, mime))
    page.run()
    return page.button(key="predict_upload").click().run()


def test_a_text_file_renamed_png_is_called_no_picture_in_words_and_logs_nothing(
    page: AppTest, store: Store
) -> None:
    upload_and_predict(page, "digit.png", b"this is not a picture", "image/png")
    assert not page.exception
    [problem] = [e.value for e in page.error]
    assert problem == NOT_A_PICTURE
    assert "PNG, JPEG or WebP" in problem
    assert "Error" not in problem  # no Python class name such as UnidentifiedImageError
    assert store.recent() == []


def test_a_picture_in_another_format_is_named_with_the_formats_read(page: AppTest, store: Store) -> None:
    gif = io.BytesIO()
    Image.open(io.BytesIO(drawing(one))).convert("L").save(gif, format="GIF")
    upload_and_predict(page, "one.png", gif.getvalue(), "image/png")
    [problem] = [e.value for e in page.error]
    assert "GIF" in problem and "PNG, JPEG or WebP" in problem
    assert store.recent() == []


def test_the_uploader_names_its_size_limit_and_a_bigger_file_is_refused_in_words(
    page: AppTest, store: Store
) -> None:
    from streamlit import config

    config.set_option("server.maxUploadSize", 1)  # as `serve` sets it, in MB; 200 by default
    try:
        page.run()
        assert page.file_uploader(key="upload").label.endswith("up to 1 MB")
        too_big = drawing(one) + b"\0" * (2**20 + 1)  # a real PNG, with padding past the limit
        upload_and_predict(page, "one.png", too_big, "image/png")
        [problem] = [e.value for e in page.error]
    finally:
        config.set_option("server.maxUploadSize", 200)
    size = f"{len(too_big) / 2**20:.1f}"
    assert problem == f"The file is {size} MB: the page takes pictures up to 1 MB. Send a smaller one."
    assert store.recent() == []


def test_removing_the_uploaded_file_retires_its_answer(page: AppTest) -> None:
    upload_and_predict(page, "one.png", drawing(one), "image/png")
    assert (answer_state(page), label_picker_shown(page)) == ("current", True)
    page.file_uploader(key="upload").set_value(None)
    page.run()
    assert (answer_state(page), label_picker_shown(page)) == ("retired", False)
    assert asks_to_predict_again(page)


def top_three(page: AppTest) -> list[tuple[int, str]]:
    """The likeliest digits listed next to the answer, with their probabilities as shown."""
    return [
        (int(d), p)
        for m in page.markdown
        for d, p in re.findall(r'<li data-digit="\d"><b>(\d)</b> ([\d.]+%)</li>', m.value)
    ]


def test_the_answer_lists_the_three_likeliest_digits_with_their_probabilities(
    page: AppTest, store: Store
) -> None:
    draw_and_predict(page, drawing(one))
    [record] = store.recent()
    expected = [(d, views.percent(p)) for d, p in ranked(record.probabilities, 3)]
    assert top_three(page) == expected
    assert expected[0][0] == 1
    said = [w for m in page.markdown for w in re.findall(r'data-testid="dk-message">([^<]*)<', m.value)]
    assert said == [describe(record.verdict, record.digits, record.probabilities)]


@pytest.mark.postgres
def test_a_postgres_database_without_the_schema_says_to_run_db_upgrade(
    postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", postgres.create_database())  # fresh: never migrated
    get_settings.cache_clear()
    page = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not page.exception
    [error] = page.error
    assert "digit-knower db upgrade" in error.value
    assert not page.button  # no Predict on a page that could not log


def test_with_the_database_down_the_page_still_predicts_and_shows_the_waiting_records(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Nothing listens on this port: every connection is refused, as when the server is down.
    monkeypatch.setenv("DATABASE_URL", f"postgresql+psycopg://dk@127.0.0.1:{free_port()}/dk")
    get_settings.cache_clear()
    page = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not page.exception
    waiting_at_start = records_waiting(page)  # the model card waits too

    draw_and_predict(page, drawing(one))
    assert shown_digit(page) == 1
    assert records_waiting(page) == waiting_at_start + 1
    assert any("Your drawings are unavailable" in i.value for i in page.info)


def records_waiting(page: AppTest) -> int:
    [count] = [
        int(n) for w in page.warning for n in re.findall(r"logging paused; (\d+) records? waiting", w.value)
    ]
    return count


def test_the_model_input_is_enlarged_with_hard_pixels() -> None:
    model_input = np.zeros((28, 28), dtype=np.uint8)
    model_input[3, 5] = 255
    big = np.asarray(views.enlarged(model_input, scale=8))
    assert big.shape == (224, 224)
    assert (big[24:32, 40:48] == 255).all()  # the one white pixel is a solid 8x8 block...
    assert big.sum() == 255 * 64  # ...with no smoothing around it


def test_a_drawing_that_is_not_a_png_data_url_gets_a_clear_message() -> None:
    assert canvas.png_from_data_url(None) is None
    assert canvas.png_from_data_url(canvas.png_data_url(b"\x89PNG")) == b"\x89PNG"
    with pytest.raises(InvalidImageError, match="Press Clear and draw again"):
        canvas.png_from_data_url("data:image/gif;base64,R0lGOD")
    with pytest.raises(InvalidImageError, match="Press Clear and draw again"):
        canvas.png_from_data_url("data:image/png;base64,not base64!")


@pytest.mark.postgres
def test_a_real_outage_pauses_logging_and_loses_no_record(
    own_postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = own_postgres  # our own, so the shared server stays up for the other tests
    url = server.create_migrated_database()
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    page = AppTest.from_file(str(APP), default_timeout=60).run()
    draw_and_predict(page, drawing(one))
    assert not [w for w in page.warning if "logging paused" in w.value]

    server.stop()
    draw_and_predict(page, drawing(seven))
    assert shown_digit(page) == 7  # the page keeps predicting
    assert records_waiting(page) >= 1
    page.segmented_control[0].set_value(7)
    page.button(key="submit_label").click().run()
    assert "it is a **7**" in page.toast[0].value  # kept in the outbox with the prediction

    server.start()
    for _ in range(60):  # the store retries after a back-off of up to 10 s
        if not [w for w in page.warning if "logging paused" in w.value]:
            break
        time.sleep(0.5)
        page.run()
    assert not [w for w in page.warning if "logging paused" in w.value]
    rows = Store(url, outbox_path=server.root / "check-outbox.sqlite3").recent()
    assert [(r.digit, r.true_label) for r in rows] == [(7, 7), (1, None)]


def test_serve_refuses_a_port_in_use_with_one_clear_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [digit_knower_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            capture_output=True,
            text=True,
        )
    assert done.returncode == 2
    assert done.stderr == (
        f"digit-knower serve: port {port} is already in use: "
        "stop the program that uses it, or pick another --port.\n"
    )


def test_serve_refuses_a_port_out_of_range() -> None:
    done = subprocess.run(
        [digit_knower_command(), "serve", "--port", "70000"], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "--port 70000 is not a TCP port" in done.stderr
    assert "Traceback" not in done.stderr


def test_each_visitor_sees_only_their_own_drawings_and_the_stats_count_everyones(
    page: AppTest, store: Store
) -> None:
    draw_and_predict(page, drawing(one))
    other = AppTest.from_file(str(APP), default_timeout=60).run()  # a second visitor, a session of their own
    draw_and_predict(other, drawing(seven))
    draw_and_predict(page, drawing(seven))

    mine = page.dataframe[0].value
    assert len(mine) == 2 and len(other.dataframe[0].value) == 1
    owners = {r.owner for r in store.recent()}
    assert len(owners) == 2 and all(o is not None and o.startswith("page:") for o in owners)
    assert {m.label: m.value for m in page.metric}["Predictions"] == "3"  # everyone's


def test_a_visitor_deletes_their_own_drawing_and_its_answer_goes(page: AppTest, store: Store) -> None:
    draw_and_predict(page, drawing(one))
    put_on_canvas(page, None)
    page.run()
    draw_and_predict(page, drawing(seven))
    one_row = store.recent()[1]  # newest first: the 7, then the 1
    page.session_state["history-0"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    page.run()
    delete = page.button(key="delete_drawings")
    assert delete.label == "Delete 1 drawing" and not delete.disabled
    delete.click().run()
    assert [r.id for r in store.recent()] == [one_row.id]
    assert answer_state(page) is None and not label_picker_shown(page)  # the 7's answer went with it
    assert len(page.dataframe[0].value) == 1


@pytest.fixture
def listening_on() -> Iterator[Callable[[str], None]]:
    """Sets the address the page listens on, as `serve --host` sets it; unset again afterwards."""
    from streamlit import config

    yield lambda host: config.set_option("server.address", host)
    config.set_option("server.address", None)


def exposure_warnings(page: AppTest) -> list[str]:
    return [w.value for w in page.warning if "no API key set" in w.value]


def test_on_every_network_with_no_key_the_page_warns_at_the_top(
    sqlite_url: str, listening_on: Callable[[str], None]
) -> None:
    listening_on("0.0.0.0")
    page = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not page.exception
    [warning] = exposure_warnings(page)
    assert warning.startswith("This page listens on 0.0.0.0, reachable from other machines")
    assert "`DIGIT_KNOWER_API_KEY=$(openssl rand -hex 32)`" in warning  # the command, in code style
    # At the top: right under the title, above the model's line and everything else.
    kinds = [element.type for element in page.main.children.values()]
    assert kinds.index("warning") == kinds.index("title") + 2  # the title, its caption, the warning
    assert kinds.index("warning") < kinds.index("flex_container")


def test_on_this_machine_or_with_a_key_the_page_does_not_warn(
    sqlite_url: str, listening_on: Callable[[str], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    listening_on("127.0.0.1")
    page = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not page.exception and exposure_warnings(page) == []

    listening_on("0.0.0.0")
    monkeypatch.setenv("DIGIT_KNOWER_API_KEY", "5e" * 16)
    get_settings.cache_clear()
    assert exposure_warnings(page.run()) == []
