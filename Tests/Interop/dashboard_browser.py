"""Drives the web dashboard in a real browser (Debian's chromium, headless, via selenium).

Given a running `procrastinate-swift dashboard` and its database, it:
1. runs the tracing demo with its spans sent to the dashboard's receiver;
2. opens the overview, then the traced_fetch_joke job, and waits for its waterfall to show
   procrastinate.defer.traced_fetch_joke, procrastinate.job.traced_fetch_joke and
   api.chuck_norris.fetch_joke;
3. makes a job fail (its table dropped), clicks "Retry now" in the page, sees it go back to
   `todo`, restores the table, runs a worker and sees the page (refreshing itself) reach
   `succeeded`;
4. checks that a task argument and a span attribute carrying markup run no script;
5. checks that POSTs without the CSRF token are refused with 403.
With --screenshots DIR it also writes DIR/dashboard-overview.png and DIR/dashboard-job.png.
Prints one line per step; exits non-zero with the reason on the first failure.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

import psycopg
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

import lifeline


def main() -> None:
    lifeline.exit_with_parent()
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="the dashboard's root URL")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--demo", required=True, help="the tracing-demo binary")
    parser.add_argument("--screenshots", help="write the two screenshots to this folder")
    options = parser.parse_args()
    base = options.url.rstrip("/")
    environment = dict(
        os.environ,
        OTEL_EXPORTER_OTLP_ENDPOINT=base,
        OTEL_BSP_SCHEDULE_DELAY="100",
        # No internet here: an unreachable API makes the demo start its local joke service.
        JOKE_API_URL="http://127.0.0.1:1/jokes/random",
        PROCRASTINATE_TRACES_FILE="",
        PROCRASTINATE_DATABASE_URL=options.database_url,
    )

    def demo(*arguments: str) -> str:
        result = subprocess.run(
            [options.demo, *arguments, "--database-url", options.database_url],
            env=environment, capture_output=True, text=True, timeout=120,
        )
        if result.returncode != 0 and arguments[0] != "run":
            fail(f"tracing-demo {' '.join(arguments)} exited {result.returncode}: {result.stdout}{result.stderr}")
        return result.stdout + result.stderr

    def sql(statement: str, parameters: tuple = ()) -> list:
        with psycopg.connect(options.database_url, autocommit=True) as connection:
            cursor = connection.execute(statement, parameters)
            return cursor.fetchall() if cursor.description else []

    def status(job: int) -> str:
        return sql("SELECT status::text FROM procrastinate_jobs WHERE id = %s", (job,))[0][0]

    # 1. The demo, spans to the dashboard.
    output = demo("run")
    found = re.search(r"Deferred traced_fetch_joke \(job (\d+)\)", output)
    if not found:
        fail(f"the demo did not defer its jobs: {output}")
    joke_job = int(found.group(1))
    if status(joke_job) != "succeeded":
        fail(f"the demo's job {joke_job} is {status(joke_job)}: {output}")
    step(f"the demo ran; traced_fetch_joke is job {joke_job}")

    browser = start_browser()
    try:
        # 2. The overview, then the job's waterfall.
        browser.get(base + "/")
        wait_for(lambda: "default" in text(browser, "queues"), "the overview's queue table")
        click(browser, By.CSS_SELECTOR, "#queues a", "the queue's link")
        wait_for(lambda: "/jobs" in browser.current_url, "the queue's job list")
        browser.get(f"{base}/jobs/{joke_job}")
        expected = [
            "procrastinate.defer.traced_fetch_joke",
            "procrastinate.job.traced_fetch_joke",
            "api.chuck_norris.fetch_joke",
        ]
        # Spans arrive as the demo's exporter flushes; the page refreshes itself.
        wait_for(lambda: all(name in text(browser, "waterfall") for name in expected),
                 f"the waterfall with {', '.join(expected)}")
        rows = browser.find_elements(By.CSS_SELECTOR, "#waterfall details.span-row")
        step(f"job {joke_job}'s waterfall shows {len(rows)} spans, including {', '.join(expected)}")

        open_span(browser, "procrastinate.job.traced_fetch_joke", "procrastinate.job.id")
        if options.screenshots:
            shoot(browser, os.path.join(options.screenshots, "dashboard-job.png"))

        # 3. A job that fails, retried from its page.
        sql("DROP TABLE demo_jokes")
        output = demo("defer", "traced_fetch_joke", '{"category": "dev"}')
        failing = int(output.strip().splitlines()[-1])
        # Its task retries twice, 1 s apart: one-shot workers until it has failed for good.
        for _ in range(15):
            demo("worker", "--one-shot")
            if status(failing) == "failed":
                break
            time.sleep(0.5)
        if status(failing) != "failed":
            fail(f"job {failing} should have failed without its table; it is {status(failing)}")
        browser.get(f"{base}/jobs/{failing}")
        wait_for(lambda: "failed" in text(browser, "field-status"), "the failed status")
        click(browser, By.XPATH, "//button[text()='Retry now']", "the Retry now button")
        wait_for(lambda: "todo" in text(browser, "field-status"), "the status back to todo")
        step(f"job {failing} failed; Retry now put it back to todo")
        sql("CREATE TABLE IF NOT EXISTS demo_jokes (id bigserial PRIMARY KEY, job_id bigint, "
            "category text, joke text, stored_at timestamptz NOT NULL DEFAULT now())")
        demo("worker", "--one-shot")
        # No reload: the page refreshes itself.
        wait_for(lambda: "succeeded" in text(browser, "field-status"),
                 "the page to show succeeded by itself")
        events = text(browser, "events")
        if "retried" not in events:
            fail(f"the events do not show the retry: {events}")
        step(f"job {failing} succeeded after the retry; the page updated itself")

        # 4. Markup in a task argument and in a span attribute is shown, never run.
        markup = "<script>window.__injected = 1</script><img src=x onerror='window.__injected = 2'>"
        output = demo("defer", "traced_process_data", json.dumps({"data": [1], "note": markup}))
        hostile = int(output.strip().splitlines()[-1])
        post_spans(base, hostile, markup)
        browser.get(f"{base}/jobs/{hostile}")
        wait_for(lambda: "hostile.span" in text(browser, "waterfall"), "the span naming the job")
        row_text = open_span(browser, "hostile.span", "onerror")
        if browser.execute_script("return window.__injected === undefined") is not True:
            fail("markup from a job or a span ran in the page")
        if markup not in text(browser, "args"):
            fail(f"the markup in the arguments is not shown as text: {text(browser, 'args')}")
        if markup not in row_text:
            fail(f"the markup in the span attribute is not shown as text: {row_text}")
        step("markup in a task argument and a span attribute shows as text and runs nothing")
        if options.screenshots:
            browser.get(base + "/")
            wait_for(lambda: "default" in text(browser, "queues"), "the overview's queue table")
            shoot(browser, os.path.join(options.screenshots, "dashboard-overview.png"))
    finally:
        browser.quit()

    # 5. POSTs without the token are refused.
    for path, body, content_type in [
        (f"/api/jobs/{failing}/retry", b"", "application/json"),
        (f"/jobs/{failing}/retry", b"csrf=wrong", "application/x-www-form-urlencoded"),
        (f"/jobs/{failing}/cancel", b"", "application/x-www-form-urlencoded"),
    ]:
        code = http_status(base + path, body, {"Content-Type": content_type})
        if code != 403:
            fail(f"POST {path} without the token answered {code}, not 403")
    step("POSTs without the CSRF token get 403")
    print("browser test passed")


def post_spans(base: str, job: int, markup: str) -> None:
    """One span naming `job`, with `markup` in an attribute, as OTLP/JSON."""
    now = time.time_ns()
    request = {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "browser-test"}}]},
        "scopeSpans": [{"spans": [{
            "traceId": os.urandom(16).hex(), "spanId": os.urandom(8).hex(), "name": "hostile.span",
            "kind": 1, "startTimeUnixNano": str(now), "endTimeUnixNano": str(now + 5_000_000),
            "attributes": [
                {"key": "procrastinate.job.id", "value": {"intValue": str(job)}},
                {"key": "note", "value": {"stringValue": markup}},
            ],
        }]}],
    }]}
    code = http_status(base + "/v1/traces", json.dumps(request).encode(), {"Content-Type": "application/json"})
    if code != 200:
        fail(f"the receiver answered {code} to a valid OTLP/JSON request")


def http_status(url: str, body: bytes, headers: dict) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def start_browser() -> webdriver.Chrome:
    chrome = Options()
    chrome.binary_location = "/usr/bin/chromium"
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1400,1000"]:
        chrome.add_argument(argument)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=chrome)


def text(browser: webdriver.Chrome, element_id: str) -> str:
    found = browser.find_elements(By.ID, element_id)
    return found[0].text if found else ""


def wait_for(condition, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except Exception:  # the page is being replaced by its refresh: try again
            pass
        time.sleep(0.2)
    fail(f"timed out after {timeout:.0f} s waiting for {what}")


def click(browser: webdriver.Chrome, by: str, value: str, what: str) -> None:
    """Clicks the element, found afresh on each try: a refresh may replace it between the
    look-up and the click (a stale reference fails before anything is clicked)."""
    def clicked() -> bool:
        browser.find_element(by, value).click()
        return True

    wait_for(clicked, what)


def open_span(browser: webdriver.Chrome, name: str, expected: str) -> str:
    """Opens the waterfall row of span `name` until its text shows `expected`; its text.
    Each refresh replaces the page's content (keeping open spans open), so the row is found
    afresh on every try, never through a reference an earlier refresh made stale."""
    seen = [""]

    def opened() -> bool:
        rows = browser.find_elements(By.CSS_SELECTOR, "#waterfall details.span-row")
        row = next(row for row in rows if name in row.text)
        if row.get_attribute("open") is None:
            row.find_element(By.TAG_NAME, "summary").click()
        seen[0] = row.text
        return expected in seen[0]

    wait_for(opened, f"the attributes of span {name}")
    return seen[0]


def shoot(browser: webdriver.Chrome, path: str) -> None:
    """The whole page, up to 2,000 pixels high."""
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1400, min(max(height + 140, 700), 2000))
    time.sleep(0.3)
    browser.save_screenshot(path)
    browser.set_window_size(1400, 1000)
    step(f"screenshot {path}")


def step(message: str) -> None:
    print(message, flush=True)


def fail(message: str) -> None:
    print(f"FAIL: {message}", flush=True)
    sys.exit(1)


if __name__ == "__main__":
    main()
