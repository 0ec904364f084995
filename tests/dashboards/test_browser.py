"""The event display in a real browser: JupyterLab + headless Chromium, all offline.

JupyterLab serves its own JavaScript (ipywidgets' comes with ``jupyterlab_widgets``), so
nothing is fetched from a CDN. The test runs every cell of ``02_event_display.ipynb``,
switches the ECAL layer off and moves to the next jet, and checks that the picture the
browser shows changes each time. Screenshots land in ``test-artifacts/``.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
NOTEBOOK = REPO / "notebooks" / "02_event_display.ipynb"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ECAL_GREEN = np.array([0x2C, 0xA0, 0x2C])

pytestmark = pytest.mark.slow


def _requirements() -> None:
    """Debian's Chromium is a system package pip cannot install: without it this test skips,
    except where ``E2E_REQUIRE_BROWSER=1`` (CI sets it), where its absence fails."""
    if not CHROMIUM.is_file():
        msg = f"{CHROMIUM} is absent: apt-get install chromium to run the browser test"
        if os.environ.get("E2E_REQUIRE_BROWSER"):
            pytest.fail(msg)
        pytest.skip(msg)
    import playwright.sync_api  # noqa: F401  (in the test extra)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read() or b"null")


@pytest.fixture(scope="module")
def lab(
    tmp_path_factory: pytest.TempPathFactory, saved_run: SimpleNamespace, sample: SimpleNamespace
) -> Iterator[SimpleNamespace]:
    """JupyterLab (with Voila's server extension) on 127.0.0.1 with a token, in a folder
    holding the notebook; always stopped, kernels first."""
    _requirements()
    tmp_path = tmp_path_factory.mktemp("browser")
    root = tmp_path / "lab"
    root.mkdir()
    quiet = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    quiet.mkdir(parents=True)  # no news or update checks: no network, no pop-up in the screenshots
    (quiet / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}'
    )
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "E2E_TAGGER": saved_run.spec.path,
        "E2E_SAMPLE": str(sample.root),
        "E2E_RUN_DIR": str(saved_run.dir),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "ws"),
        "IPYTHONDIR": str(tmp_path / "ipython"),
    }
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port-retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]  # no PyPI queries from the extension manager
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # CI containers run as root
        cmd.append("--allow-root")
    log = (tmp_path / "lab.log").open("w")
    proc = subprocess.Popen(
        cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(f"{base}/api/status?token={token}")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        f"JupyterLab did not start: {(tmp_path / 'lab.log').read_text()[-2000:]}"
                    )
                time.sleep(0.5)
        yield SimpleNamespace(
            url=f"{base}/lab/tree/{NOTEBOOK.name}?token={token}",
            voila_url=f"{base}/voila/render/{NOTEBOOK.name}?token={token}",
            base=base,
            token=token,
            tmp=tmp_path,
        )
    finally:
        try:  # kernels first: they live in their own sessions
            for k in _get(f"{base}/api/kernels?token={token}") or []:
                req = urllib.request.Request(
                    f"{base}/api/kernels/{k['id']}?token={token}", method="DELETE"
                )
                urllib.request.urlopen(req, timeout=10).close()
        except OSError:
            pass
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        log.close()


def _green_pixels(png: bytes) -> int:
    from matplotlib.image import imread

    rgb = imread(io.BytesIO(png))[..., :3] * 255
    return int((np.linalg.norm(rgb - ECAL_GREEN, axis=-1) < 12).sum())


def _wait_for_new(locator: Any, old_src: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while locator.get_attribute("src") == old_src:
        if time.monotonic() > deadline:
            pytest.fail("the image did not change within the timeout")
        time.sleep(0.2)
    time.sleep(0.3)  # let the new blob decode before the screenshot


@contextmanager
def browser(profile: Path) -> Iterator[Any]:
    """Headless Chromium with a fresh profile; Playwright needs it as the persistent context's
    folder rather than a ``--user-data-dir`` argument."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        ctx.set_default_timeout(60_000)
        try:
            yield ctx
        finally:
            ctx.close()


def _toggle_ecal_and_step(page: Any, prefix: str) -> None:
    """Screenshot the composite, switch ECAL off, go to the next jet; each step changes it."""
    image = page.locator("img.e2e-composite").first
    image.scroll_into_view_if_needed()
    before = image.screenshot(path=str(ARTIFACTS / f"{prefix}_before.png"))
    page.screenshot(path=str(ARTIFACTS / f"{prefix}_page.png"))

    src = image.get_attribute("src")
    page.locator(".e2e-layer-ecal input[type=checkbox]").first.click()
    _wait_for_new(image, src)
    no_ecal = image.screenshot(path=str(ARTIFACTS / f"{prefix}_no_ecal.png"))
    assert no_ecal != before
    assert _green_pixels(before) > 0
    assert _green_pixels(no_ecal) == 0

    src = image.get_attribute("src")
    page.locator("button.e2e-next").first.click()
    _wait_for_new(image, src)
    next_jet = image.screenshot(path=str(ARTIFACTS / f"{prefix}_next_jet.png"))
    assert next_jet != no_ecal
    event = page.locator("img.e2e-event").first
    event.scroll_into_view_if_needed()
    event.screenshot(path=str(ARTIFACTS / f"{prefix}_whole_event.png"))


def test_event_display_reacts_in_jupyterlab(lab: SimpleNamespace) -> None:
    with browser(lab.tmp / "profile-lab") as ctx:
        page = ctx.new_page()
        page.goto(lab.url)
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
        page.wait_for_function(
            "window.jupyterapp && window.jupyterapp.shell.currentWidget"
            " && window.jupyterapp.shell.currentWidget.sessionContext.session"
            " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel",
            timeout=90_000,
        )
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        # both displays rendered (from the run, and from frames in memory), kernel idle again
        page.wait_for_function(
            "document.querySelectorAll('img.e2e-composite[src]').length >= 2"
            " && window.jupyterapp.shell.currentWidget.sessionContext.session"
            ".kernel.status === 'idle'",
            timeout=180_000,
            polling=500,
        )
        errors = page.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
            ":has-text('Traceback')"
        )
        assert errors.count() == 0
        _toggle_ecal_and_step(page, "jupyterlab")


def test_event_display_reacts_in_voila(lab: SimpleNamespace) -> None:
    """The Binder link's view: Voila runs the notebook and shows only its outputs."""
    with browser(lab.tmp / "profile-voila") as ctx:
        page = ctx.new_page()
        page.goto(lab.voila_url, timeout=180_000)  # Voila answers once every cell has run
        page.wait_for_function(
            "document.querySelectorAll('img.e2e-composite[src]').length >= 2",
            timeout=180_000,
            polling=500,
        )
        assert page.locator("text=Traceback").count() == 0
        _toggle_ecal_and_step(page, "voila")
