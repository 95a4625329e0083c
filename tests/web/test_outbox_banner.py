"""The page's outbox banner says in plain words what waits: records for another database, and
records the database refused for good. Run headless with Streamlit's AppTest (see test_web_app)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from digit_knower.settings import get_settings
from digit_knower.store import Store
from tests.support.store import make_record
from tests.support.web import APP


def banners(page: AppTest) -> list[str]:
    return [element.value for kind in (page.info, page.warning, page.error) for element in kind]


def test_all_is_well_no_banner(sqlite_url: str) -> None:
    page = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not page.exception
    assert banners(page) == []


def test_the_banner_names_records_for_another_database_and_records_set_aside(
    sqlite_url: str, tmp_path: Path
) -> None:
    outbox = get_settings().outbox_path
    with Store(f"sqlite:///{tmp_path / 'other.sqlite3'}", outbox_path=outbox) as other:
        for _ in range(2):
            other.outbox.append("prediction", "elsewhere", make_record().model_dump_json())
    with Store(sqlite_url, outbox_path=outbox, retry_after_s=0.01, retry_at_most_s=0.01) as store:
        store.ensure_schema()
        store.outbox.append("prediction", "broken", "{not json")
        for _ in range(3):
            store.flush_outbox()

    page = AppTest.from_file(str(APP), default_timeout=60).run()

    assert not page.exception
    [foreign] = [w.value for w in page.warning]
    assert foreign.startswith(
        "2 records in this server's outbox were meant for another database, so they are kept aside "
        "and not written here."
    )
    [refused] = [e.value for e in page.error]
    assert refused.startswith("The database refused 1 record for good, so it is set aside")
    assert "digit-knower db outbox list" in foreign and "digit-knower db outbox list" in refused
    assert not [text for text in banners(page) if "logging paused" in text]  # the database is fine
