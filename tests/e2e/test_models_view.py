"""End to end: the page's Models view in real Chromium, after a real run of the learning loop on the
real PostgreSQL (the `learning_loop` fixture): both versions with their figures, which one serves,
the plot of the latest retrain, and a rollback and a promotion followed by the running page.
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


def models_table(page: Page) -> dict[str, list[str]]:
    """The Models table's rows (by version). The grid draws on a canvas; these are the raw values it
    puts in its hidden table for assistive technology (accuracies in percent)."""
    grid = page.get_by_test_id("stDataFrame").last
    grid.locator("tbody tr").first.wait_for(state="attached", timeout=RESULT_TIMEOUT_MS)
    rows = {}
    for row in grid.locator("tbody tr").all():
        cells = [(cell.text_content() or "").strip() for cell in row.locator("td").all()]
        rows[cells[1]] = cells
    return rows


def percent(cell: str, share: float) -> bool:
    return float(cell) == pytest.approx(100 * share, abs=1e-9)


def serving_line(page: Page) -> Locator:
    return page.locator("p", has_text="This page serves")


def wait_until_served(page: DigitPage, url: str, version: str) -> None:
    """Reload until the page says it serves `version` (its model check runs every second here)."""
    deadline = time.monotonic() + DEADLINE_S
    while f"serves {version}" not in serving_line(page.page).inner_text():
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
            serves, _, _, parent, mnist, holdout, mouse, live, labelled, on_disk = rows[run.candidate]
            assert (serves, parent, live, labelled, on_disk) == ("●", SHIPPED_VERSION, "", "0", "yes")
            figures = candidate["evaluation"]["candidate"]
            assert percent(mnist, candidate["test_accuracy"])
            assert percent(holdout, figures["feedback_holdout"]["accuracy"])
            assert percent(mouse, figures["robustness"]["accuracy"])
            shipped = rows[SHIPPED_VERSION]
            # Live accuracy of the shipped model: the labelled drawings of the simulated user that it
            # read as one digit (the live statistics leave out those it turned away).
            assert shipped[0] == "" and shipped[8] == str(run.logged.read_as_one_digit.sum())
            assert percent(shipped[7], run.logged.live_accuracy)

            chart = page.page.get_by_test_id("stVegaLiteChart").last.inner_html()  # an SVG: its text is there
            for word in (
                "parent",
                "candidate",
                "MNIST test set",
                "feedback holdout",
                "mouse-style robustness set",
            ):
                assert word in chart
            assert f"{100 * candidate['test_accuracy']:.2f}%" in chart
            latest = page.page.locator("p", has_text="Latest retrain").inner_text()
            assert f"{SHIPPED_VERSION} → {run.candidate}" in latest and latest.endswith("The gate passed.")
            page.page.screenshot(path=str(ARTIFACTS / "e2e-models.png"), full_page=True)

            models("rollback", "--reason", "e2e", env=env)
            wait_until_served(page, server.url, SHIPPED_VERSION)
            assert models_table(page.page)[SHIPPED_VERSION][0] == "●"

            models("promote", run.candidate, "--reason", "e2e, back", env=env)
            wait_until_served(page, server.url, run.candidate)
            assert models_table(page.page)[run.candidate][0] == "●"
        finally:
            browser.close()
