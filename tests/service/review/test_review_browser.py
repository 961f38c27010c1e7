"""The review page in a real headless Chromium (Debian's, driven by playwright): click and type
through one item, check the verdicts stored, save a screenshot in the test artefacts
(``build/test-artefacts/``, or HARDNEG_TEST_ARTEFACTS)."""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.procs import free_port, wait_port

FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IMAGE = (
    "data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg' width='320' height='200'>"
    "<rect width='320' height='200' fill='%23fd3'/><rect x='40' y='60' width='240' height='90'"
    " fill='%23e90'/><circle cx='90' cy='160' r='22'/><circle cx='230' cy='160' r='22'/></svg>"
)


def _artefacts() -> Path:
    out = Path(os.environ.get("HARDNEG_TEST_ARTEFACTS", "build/test-artefacts"))
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture
def review_url(make_pipeline, tmp_path: Path) -> Iterator[str]:
    import uvicorn

    from hardneg.service.app import create_app

    queue = tmp_path / "review.jsonl"
    items = [
        {"id": "bus-1", "positives": ["yellow school bus"], "present": ["road"], "image": IMAGE},
        {"id": "zebra-1", "positives": ["zebra"]},
    ]
    queue.write_text("".join(json.dumps(i) + "\n" for i in items))
    pipeline = make_pipeline(
        verdict_store_path=tmp_path / "verdicts.sqlite", review_items=queue, review_k=6
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(pipeline=pipeline), port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_port(port, timeout_s=60)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.mark.slow
def test_click_and_type_through_one_item(review_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    assert chromium, "Debian chromium is missing: apt-get install chromium (.ci/run does)"
    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=chromium,
            headless=True,
            args=FLAGS,
            viewport={"width": 1200, "height": 640},
        )
        try:
            page = browser.new_page()
            page.goto(review_url + "/review?annotator=tester")
            assert "item 1 of 2" in page.inner_text("#progress")
            assert page.locator("#image img").count() == 1
            rows = page.locator("tr.neg")
            assert rows.count() == 6
            phrases = [rows.nth(i).get_attribute("data-phrase") for i in range(3)]
            rows.nth(0).locator("button[data-verdict=present]").click()
            page.wait_for_selector("tr.neg:nth-child(1) button.present.on")
            page.keyboard.press("j")  # move to the second negative
            page.keyboard.press("i")  # implausible, then the third is selected
            page.keyboard.press("a")  # absent
            page.wait_for_function(
                "document.getElementById('judged').textContent.startsWith('3 of 6')"
            )
            shot = _artefacts() / "review.png"
            page.screenshot(path=str(shot), full_page=True)
            page.keyboard.press("n")
            page.wait_for_url("**/review?i=1*")
            assert "item 2 of 2" in page.inner_text("#progress")
        finally:
            browser.close()
    got = httpx.get(review_url + "/v1/verdicts", params={"item_id": "bus-1"}).json()["verdicts"]
    assert sorted((v["negative"], v["verdict"]) for v in got) == sorted(
        zip(phrases, ["present", "implausible", "absent"], strict=True)
    )
    assert {(v["annotator"], v["source"], v["positive"]) for v in got} == {
        ("tester", "review", "yellow school bus")
    }
    assert all(v["sources"] and v["kind"] for v in got)
    assert shot.stat().st_size > 5000
