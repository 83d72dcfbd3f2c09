"""Issue 15 in a real headless browser (Debian Chromium driven by Playwright) against a real server (SmolLM2, an
inference key configured): the page loads with no console errors; raising golden-gate's strength steers the reply
while the default column stays as it was; the copied curl reproduces the steered reply; the insecure-code example
shows the unsafe-code monitor's per-token strip; the map shows golden-gate/bridge with labelled neighbours.
Screenshots go to build/test-artifacts/playground/."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from server.policy import hash_key
from tests.e2e.conftest import start_server

pytestmark = pytest.mark.slow
KEY = "playground-test-key"
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts" / "playground"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Chromium flags for a closed network, as root (docs/decisions.md): no sandbox, no background connections
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def server(model_path, tmp_path_factory):
    cfg = tmp_path_factory.mktemp("pg") / "policy.yaml"
    cfg.write_text(f'keys:\n  inference: [{{name: playground, sha256: "{hash_key(KEY)}"}}]\n')
    proc, base = start_server("--config", str(cfg))
    yield base
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (make install installs Debian's chromium where it runs as root with "
                    "apt-get; scripts/install_browser.sh)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is installed by `make install`")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    ctx = browser.new_context(viewport={"width": 1400, "height": 1100})
    ctx.add_init_script(f"sessionStorage.setItem('steerserve-key', {json.dumps(KEY)})")  # typed in earlier
    pg = ctx.new_page()
    problems: list[str] = []
    pg.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    pg.goto(server + "/playground")
    pg.wait_for_selector("body[data-ready=true]", timeout=30_000)
    pg.problems = problems
    yield pg
    ctx.close()


def send(pg) -> tuple[str, str]:
    pg.click("#send")
    pg.wait_for_selector("#steered-reply[data-state=done]", timeout=120_000)
    pg.wait_for_selector("#default-reply[data-state=done]", timeout=120_000)
    return pg.inner_text("#default-reply"), pg.inner_text("#steered-reply")


def set_feature(pg, ref: str, op: str, strength: float | None = None) -> None:
    row = f'.feature[data-feature="{ref}"]'
    pg.select_option(f"{row} .op", op)
    if strength is not None:
        pg.eval_on_selector(f"{row} .strength",
                            "(el, v) => { el.value = v; el.dispatchEvent(new Event('input')); }", strength)


def test_page_loads_without_console_errors_and_needs_the_key(page, browser, server):
    assert page.problems == []
    assert page.inner_text("#model") == "smollm2-135m-instruct"
    assert page.locator(".feature").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "loaded.png"), full_page=True)
    bare = browser.new_page()  # without the key the page loads, says what it needs, and works once it is typed
    bare.goto(server + "/playground")
    bare.wait_for_selector("#error:not([hidden])", timeout=30_000)
    assert "401" in bare.inner_text("#error") and "API key" in bare.inner_text("#error")
    bare.fill("#api-key", KEY)
    bare.dispatch_event("#api-key", "change")
    bare.wait_for_selector("body[data-ready=true]", timeout=30_000)
    assert bare.is_hidden("#error")
    bare.close()


def test_strength_slider_steers_the_reply_while_the_default_stays_and_curl_reproduces_it(page):
    page.fill("#prompt", "What is your favourite place to visit?")
    page.fill("#max-tokens", "40")
    default_before, steered_off = send(page)
    assert steered_off == default_before  # nothing switched on: both columns are the same greedy reply
    set_feature(page, "golden-gate/bridge", "add", 4)
    assert page.inner_text("#header") == "X-Steering: golden-gate/bridge:add=4x"
    default_after, steered = send(page)
    page.screenshot(path=str(ARTIFACTS / "steered.png"), full_page=True)
    assert default_after == default_before  # the default column is unchanged by the slider
    assert steered != default_after
    assert page.problems == []
    curl = page.inner_text("#curl")
    assert curl.startswith("curl -s http://127.0.0.1:") and "X-Steering: golden-gate/bridge:add=4x" in curl
    out = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, timeout=120, check=True).stdout
    body = json.loads(out)
    assert body["choices"][0]["message"]["content"] == steered  # the copied command reproduces the steered column
    assert {a["feature"]: a["op"] for a in body["steering"]["applied"]} == {"golden-gate/bridge": "add"}


def test_insecure_code_example_shows_the_monitor_strip(page):
    page.click('[data-example="insecure"]')
    page.wait_for_selector('.feature[data-feature="unsafe-code/python"]')
    page.fill("#max-tokens", "16")
    send(page)
    page.wait_for_selector("#strip .tok")
    assert page.input_value("#strip-feature") == "unsafe-code/python"
    readings = page.eval_on_selector_all("#strip .tok", "els => els.map(e => e.dataset.reading)")
    values = [float(r) for r in readings if r]
    assert len(values) >= 10 and page.locator("#strip .tok.over").count() >= 1
    assert page.get_attribute("#monitor-summary", "data-fired") == "true"
    assert "unsafe-code/python" in page.inner_text("#alerts")
    page.screenshot(path=str(ARTIFACTS / "insecure-code-strip.png"), full_page=True)
    assert page.problems == []


def test_map_shows_golden_gate_with_labelled_neighbours_and_the_pack_its_examples(page):
    page.select_option("#pack", "golden-gate")
    page.wait_for_selector('.feature.selected[data-feature="golden-gate/bridge"]')
    examples = page.locator('.feature[data-feature="golden-gate/bridge"] .examples-list li')
    assert examples.count() >= 3 and page.locator(".examples-list mark").count() >= 3  # the top token highlighted
    assert "top-activating" in page.inner_text(".examples-list summary")
    assert page.text_content("#card").startswith("#")  # the pack's card (inside a closed <details>)
    page.wait_for_selector("#neighbors li")
    items = page.eval_on_selector_all("#neighbors li", "els => els.map(e => e.innerText)")
    assert len(items) >= 5 and all("cos" in t for t in items)
    assert page.locator('#map g.sel[data-feature="golden-gate/bridge"]').count() == 1
    assert page.locator("#map g.near text").count() >= 5  # the neighbours are labelled on the map
    page.screenshot(path=str(ARTIFACTS / "map.png"), full_page=True)
    assert page.problems == []
