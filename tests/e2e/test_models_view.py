"""End to end: the page's Models view in real Chromium, after a real run of the learning loop on the
real PostgreSQL (the `learning_loop` fixture): both versions with their figures in plain words, which
one answers, the latest retrain as a table and a plot (the parent's figures in both), and a rollback
and a promotion followed by the running page.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, sync_playwright

from digit_knower import Predictor
from tests.support import servers
from tests.support.browser import ARTIFACTS, RESULT_TIMEOUT_MS, DigitPage, launch_chromium
from tests.support.learning_loop import LoopRun
from tests.support.lifecycle import SHIPPED_VERSION

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
DEADLINE_S = 120  # for giving up, never a performance assertion


def table(page: Page, key: str, column: int) -> dict[str, list[str]]:
    """A table's rows, by the cell in `column`. The grid draws on a canvas; these are the values it
    puts in its hidden table for assistive technology."""
    grid = page.locator(f".st-key-{key}").get_by_test_id("stDataFrame")
    grid.locator("tbody tr").first.wait_for(state="attached", timeout=RESULT_TIMEOUT_MS)
    rows = {}
    for row in grid.locator("tbody tr").all():
        cells = [(cell.text_content() or "").strip() for cell in row.locator("td").all()]
        rows[cells[column]] = cells
    return rows


def models_table(page: Page) -> dict[str, list[str]]:
    """The versions table, by version: now (answering), version, test set, your labels."""
    return table(page, "model-versions", 1)


def percent(share: float) -> str:
    return f"{share:.2%}"


def answering_line(page: Page) -> Locator:
    return page.locator("p", has_text="Answering now")


def wait_until_served(page: DigitPage, url: str, version: str) -> None:
    """Reload until the page says `version` answers (its model check runs every second here)."""
    deadline = time.monotonic() + DEADLINE_S
    while f"Answering now: {version}" not in answering_line(page.page).inner_text():
        assert time.monotonic() < deadline, f"the page never served {version}"
        time.sleep(0.5)
        page.page.goto(url)
        page.wait_until_idle()


def models(*args: str, env: dict[str, str]) -> None:
    done = subprocess.run(
        [servers.digit_knower_command(), "models", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def test_the_models_view_shows_every_version_which_serves_and_the_latest_retrain(
    learning_loop: LoopRun, tmp_path: Path
) -> None:
    run = learning_loop
    env = {**run.env, "DIGIT_KNOWER_STATE_DIR": str(tmp_path / "state")}
    candidate = Predictor.from_dir(Path(run.env["DIGIT_KNOWER_MODEL_REGISTRY"]) / run.candidate).card
    with servers.page(env, ARTIFACTS / "e2e-models.log") as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = DigitPage(browser.new_page(viewport={"width": 1400, "height": 2600}), server.url)
            page.page.get_by_role("heading", name="Models").wait_for(timeout=RESULT_TIMEOUT_MS)
            wait_until_served(page, server.url, run.candidate)

            rows = models_table(page.page)
            assert rows.keys() == {run.candidate, SHIPPED_VERSION}
            answering, _, mnist, live = rows[run.candidate]
            assert (answering, mnist, live) == ("✓", percent(candidate["test_accuracy"]), "no labels yet")
            shipped = rows[SHIPPED_VERSION]
            # Live accuracy of the shipped model: the labelled drawings of the simulated user that it
            # read as one digit (the live statistics leave out those it turned away).
            labelled = run.logged.read_as_one_digit.sum()
            assert shipped[0] == ""
            assert shipped[3] == f"{percent(run.logged.live_accuracy)} of {labelled:,}"

            # The latest retrain: the parent's figures are in the table as in the chart, never "None".
            evaluation = candidate["evaluation"]
            retrain = table(page.page, "retrain-figures", 0)
            for name, words in (
                ("mnist_test", "MNIST test set"),
                ("feedback_holdout", "your labels kept aside"),
                ("robustness", "mouse-drawn digits"),
            ):
                _, before, after, _ = retrain[words]
                assert before == percent(evaluation["parent"][name]["accuracy"])
                assert after == percent(evaluation["candidate"][name]["accuracy"])

            chart = page.page.get_by_test_id("stVegaLiteChart").last.inner_html()  # an SVG: its text is there
            for word in ("before", "after", "MNIST test set", "your labels kept aside", "mouse-drawn digits"):
                assert word in chart
            assert f"{candidate['test_accuracy']:.1%}" in chart
            latest = page.page.locator("p", has_text="Latest retrain").inner_text().strip()
            assert f"{SHIPPED_VERSION} → {run.candidate}" in latest
            assert latest.endswith("It passed the checks, so it may answer.")
            # Plain words: the jargon is only in the tooltips.
            cells = [cell for rows_ in (rows, retrain) for row in rows_.values() for cell in row]
            shown = " ".join([answering_line(page.page).inner_text(), latest, *cells])
            for jargon in ("serves", "feedback holdout", "mouse-style", "gate", "None"):
                assert jargon not in shown
            page.page.screenshot(path=str(ARTIFACTS / "e2e-models.png"), full_page=True)

            models("rollback", "--reason", "e2e", env=env)
            wait_until_served(page, server.url, SHIPPED_VERSION)
            assert models_table(page.page)[SHIPPED_VERSION][0] == "✓"

            models("promote", run.candidate, "--reason", "e2e, back", env=env)
            wait_until_served(page, server.url, run.candidate)
            assert models_table(page.page)[run.candidate][0] == "✓"
        finally:
            browser.close()
