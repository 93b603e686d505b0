"""The documentation site: built strictly, its generated tables complete, and its
pages rendered in Chromium (the diagram drawn, nothing fetched from elsewhere).
Screenshots of the home page and the DAG page go to the test artifacts folder."""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from training.core import settings
from training.pipeline.run_config import params_schema

REPO = Path(__file__).resolve().parents[2]
MERMAID = REPO / "docs" / "javascripts" / "mermaid.min.js"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    if not MERMAID.is_file():
        pytest.fail(f"{MERMAID.relative_to(REPO)} is missing: make test (or make docs) puts "
                    f"it there before the tests run")
    folder = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
                    "--site-dir", str(folder)], cwd=REPO, check=True,
                   env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    return folder


@pytest.fixture(scope="module")
def served(site) -> str:
    """The built site on a loopback port, as a reader's browser would load it."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_the_parameter_table_lists_every_run_parameter(site):
    page = (site / "dags" / "index.html").read_text()
    for name in params_schema():
        assert f"<code>{name}</code>" in page, name


def test_the_configuration_table_lists_every_variable(site):
    page = (site / "deploying" / "index.html").read_text()
    for variable in settings.VARIABLES:
        assert f"<code>{variable.name}</code>" in page, variable.name


@pytest.mark.parametrize(("path", "shot"), [("", "docs-1-home.png"),
                                            ("dags/", "docs-2-dags.png")])
def test_pages_render_in_chromium_from_the_site_alone(browser, served, artifacts, path,
                                                      shot):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    elsewhere = []

    def only_this_site(route):
        if urlsplit(route.request.url).netloc == urlsplit(served).netloc:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_site)
    try:
        page.goto(f"{served}/{path}")
        page.wait_for_load_state("networkidle")
        if path == "":
            # Material replaces the diagram's source (a <pre>) with Mermaid's drawing,
            # in a closed shadow root: the drawing is seen by its size.
            drawing = page.locator("div.mermaid")
            drawing.wait_for(timeout=30_000)
            assert page.locator("pre.mermaid").count() == 0
            assert drawing.bounding_box()["height"] > 500
        else:
            assert page.get_by_role("cell", name="num_trials", exact=True).is_visible()
        page.screenshot(path=artifacts / shot, full_page=True)
    finally:
        context.close()
    assert elsewhere == []
