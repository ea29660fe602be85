"""The editor in a real browser: Playwright driving Debian's chromium against `app.server` on loopback.

One server (small generation options, so a world takes seconds) serves every test; each test gets
its own browser context, so its own cookie, so its own session. The flow test walks what a user
does: prompt -> Generate -> see frames and the 3D view -> select "the bed" -> recolour -> undo ->
export .ply -> download -> load it back. WORLDGEN_SCREENSHOTS=DIR keeps a screenshot of each tab.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

# `scripts/install.sh test` installs chromium, so a missing one fails these tests rather than
# skipping them; WORLDGEN_SKIP_BROWSER=1 skips them on purpose.
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if os.environ.get("WORLDGEN_SKIP_BROWSER"):
    pytest.skip("WORLDGEN_SKIP_BROWSER is set", allow_module_level=True)
from playwright import sync_api as playwright  # noqa: E402 - after the deliberate skip

pytestmark = pytest.mark.slow

# Headless chromium as root on a closed network: no sandbox, no background connections;
# SwiftShader gives WebGL without a GPU (gsplat.js needs it).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--enable-unsafe-swiftshader", "--use-angle=swiftshader"]
SERVER = """
import sys, uvicorn
from app.server import create_app
app = create_app(sys.argv[1], generate_options=dict(frames=12, resolution=64, lift_steps=40, flythrough=False,
                                                    engine="rules"))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("app-data")
    port = _free_port()
    log = open(data.parent / "server.log", "w")
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(data), str(port)], stdout=log, stderr=subprocess.STDOUT,
                            env=env, cwd=Path(__file__).resolve().parents[1])
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"the app exited: {(data.parent / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError("the app did not start in 120 s")
    yield {"url": url, "data": data, "proc": proc}
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM is not None, "chromium is not installed: run scripts/install.sh test (or apt-get install chromium)"
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _shot(page, name: str) -> None:
    folder = os.environ.get("WORLDGEN_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def _open(browser, server):
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    page = ctx.new_page()
    page.goto(server["url"])
    page.wait_for_selector("#prompt textarea", timeout=60_000)
    return ctx, page


def _status(page, selector: str, needle: str, timeout: float = 240_000) -> str:
    page.wait_for_function(f"document.querySelector({selector!r})?.innerText.includes({needle!r})", timeout=timeout)
    return page.inner_text(selector)


def _generate(page, prompt: str) -> str:
    page.fill("#prompt textarea", prompt)
    page.click("#generate")
    page.wait_for_selector("#frames img", timeout=120_000)  # frames stream in while the lift runs
    return _status(page, "#status", "world w")


def _view_pixels(page) -> np.ndarray:
    from PIL import Image
    import io

    return np.asarray(Image.open(io.BytesIO(page.locator("#view img").screenshot())).convert("RGB")).astype(float)


def _canvas_pixels(page) -> np.ndarray:
    """The 3D view as pixels: gsplat.js draws the splats into a WebGL canvas."""
    from PIL import Image
    import io

    canvas = page.locator("#model3d canvas")
    canvas.wait_for(timeout=60_000)
    canvas.scroll_into_view_if_needed()
    time.sleep(3)
    # a clip of the page, not an element shot: the viewer redraws continuously, so it never "settles"
    png = page.screenshot(clip=canvas.bounding_box())
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(float)


def test_create_explore_edit_export(browser, server, tmp_path):
    from renderer import load_scene

    ctx, page = _open(browser, server)
    status = _generate(page, "a bedroom with a blue bed, two lamps and a wooden wardrobe")
    assert "held-out PSNR" in status
    _shot(page, "create")

    assert _canvas_pixels(page).std() > 8, "the 3D view is blank"
    page.get_by_role("tab", name="Explore").click()
    before = _view_pixels(page)
    page.click("#move-orbit-left")
    page.wait_for_function("document.querySelector('#view-note').innerText.includes('server render')", timeout=60_000)
    time.sleep(1)
    assert np.abs(_view_pixels(page) - before).mean() > 2, "orbiting did not change the view"
    _shot(page, "explore")

    # edit: select the bed by phrase, recolour it red, undo
    page.get_by_role("tab", name="Edit").click()
    page.fill("#phrase textarea", "the bed")
    page.click("#select")
    note = _status(page, "#edit-note", "selected")
    assert "bed" in note
    page.click("#recolor")
    _status(page, "#history", "recolour the bed")
    _shot(page, "edit")
    page.click("#undo")
    _status(page, "#edit-note", "undo done")
    assert "↶ recolour the bed" in page.inner_text("#history")

    # export: the .ply downloads and loads back with the world's Gaussians
    page.get_by_role("tab", name="Export").click()
    page.click("#export")
    page.wait_for_selector("#download-link", timeout=60_000)
    _shot(page, "export")
    with page.expect_download() as dl:
        page.click("#download-link")
    path = tmp_path / "world.ply"
    dl.value.save_as(path)
    scene = load_scene(path)
    assert len(scene) > 1000
    ctx.close()


def _held_out_photo(folder: Path) -> Path:
    """A 160x120 view of a held-out procedural room, saved as a PNG (what a user's photo is to the app)."""
    from PIL import Image

    from renderer.raycast import raycast
    from worldgen.frame_training import HELD_OUT_SEED_BASE
    from worldgen.procgen.composers import compose
    from worldgen.procgen.paths import camera_path
    from worldgen.procgen.world import build_world

    layout, _ = compose("bedroom", HELD_OUT_SEED_BASE + 203)
    cam = camera_path(layout, "orbit", 8, width=160, height=120, seed=0)[0]
    shot = raycast(build_world(layout, HELD_OUT_SEED_BASE + 203), cam, samples_per_pixel=2)
    path = folder / "my photo.png"
    Image.fromarray((shot["rgb"] * 255 + 0.5).astype("uint8")).save(path)
    return path


def test_a_photo_upload_becomes_a_world(browser, server, tmp_path):
    """Upload a photo through the file picker, Generate with no prompt: the world is built from the
    photo (world.json names it), its frames stream in, and the 3D view shows it."""
    import json

    photo = _held_out_photo(tmp_path)
    ctx, page = _open(browser, server)
    page.get_by_text("Photos, video or a layout file").click()
    page.set_input_files("#images input[type=file]", str(photo))
    page.wait_for_function("document.querySelector('#images')?.innerText.includes('my photo.png')", timeout=60_000)
    page.click("#generate")
    page.wait_for_function("/world w|Error/.test(document.querySelector('#status')?.innerText)", timeout=240_000)
    status = page.inner_text("#status")
    assert "world w" in status, status
    assert page.locator("#frames img").count() > 0
    world_id = status.split("world ", 1)[1].split()[0].strip(".:,")
    (manifest,) = [p for p in server["data"].rglob("world.json") if p.parent.name == world_id]
    inputs = json.loads(manifest.read_text())["inputs"]
    assert inputs["image"].endswith("my photo.png") and inputs["prompt"] is None, inputs
    assert _canvas_pixels(page).std() > 8, "the 3D view is blank"
    ctx.close()


def test_bad_input_is_refused_and_the_server_stays_up(browser, server):
    ctx, page = _open(browser, server)
    page.get_by_role("tab", name="Edit").click()
    page.fill("#phrase textarea", "the bed")
    page.click("#select")
    assert "no world is open" in _status(page, "#edit-note", "Error")
    page.get_by_role("tab", name="Create").click()
    page.click("#generate")
    assert "give a prompt" in _status(page, "#status", "Error")
    # a 1 MB prompt sent past the textbox's limit (as a script or a client would) gets a message
    page.evaluate("""() => { const t = document.querySelector('#prompt textarea'); t.removeAttribute('maxlength');
                             t.value = 'a bed '.repeat(175000); t.dispatchEvent(new Event('input', {bubbles: true})); }""")
    page.click("#generate")
    assert "at most 2000" in _status(page, "#status", "characters", timeout=60_000)
    ctx.close()
    assert server["proc"].poll() is None


def test_sessions_are_isolated(browser, server, tmp_path):
    """User B neither sees A's worlds nor downloads A's files, even with A's link."""
    ctx_a, a = _open(browser, server)
    _generate(a, "a bedroom with a red sofa")
    a.get_by_role("tab", name="Export").click()
    a.click("#export")
    a.wait_for_selector("#download-link", timeout=60_000)
    link = a.get_attribute("#download-link", "href")
    assert a.request.get(server["url"] + link).status == 200

    ctx_b, b = _open(browser, server)
    b.locator("#world-pick input").click()
    options = b.locator("ul[role=listbox] li").all_inner_texts()
    assert not any("sofa" in o for o in options)
    response = b.request.get(server["url"] + link)
    assert response.status == 404 and "no such file in your session" in response.text()
    # gradio's own file route does not serve the world folders either
    world = next(p for p in server["data"].rglob("world.json"))
    assert b.request.get(f"{server['url']}/gradio_api/file={world}").status == 403
    ctx_a.close()
    ctx_b.close()
