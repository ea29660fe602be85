"""The editor's web server: gradio mounted in a FastAPI app that also

- gives each browser an owner token in an HttpOnly, SameSite=Strict cookie (its worlds' key);
- serves downloads only from the requesting owner's own folder (`/worldgen/download/...`);
- caps uploads (gradio's max_file_size) and queues heavy work (one generation at a time);
- listens on 127.0.0.1 unless told otherwise, with optional password authentication.

`worldgen app` and `python -m app` call `serve`.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, PlainTextResponse

from .ui import COOKIE, Editor, build_blocks
from .workspace import SessionError, Workspace, new_owner_token

MAX_UPLOAD = "64mb"
QUEUE_SIZE = 64
log = logging.getLogger(__name__)


def create_app(data_dir: str | os.PathLike | None = None, frame_model: str | None = None, auth=None,
               generate_options: dict | None = None) -> FastAPI:
    """The editor as an ASGI app. generate_options: worldgen.generate keywords for every world
    (frames, resolution, lift_steps, ...), e.g. small ones for tests."""
    import gradio as gr

    root = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="worldgen-app-"))
    workspace = Workspace(root)
    api = FastAPI(title="worldgen editor")

    @api.middleware("http")
    async def owner_cookie(request: Request, call_next):
        token = request.cookies.get(COOKIE)
        fresh = None
        if token is None or len(token) != 32:
            fresh = new_owner_token()
            # the first page load carries no cookie yet: later requests from the page will
            request.scope["headers"] = [*request.scope["headers"], (b"cookie", f"{COOKIE}={fresh}".encode())]
        response = await call_next(request)
        if fresh is not None:
            response.set_cookie(COOKIE, fresh, httponly=True, samesite="strict", max_age=30 * 24 * 3600)
        return response

    @api.get("/worldgen/download/{world_id}/{name}")
    def download(world_id: str, name: str, request: Request):
        try:
            path = workspace.export_file(request.cookies.get(COOKIE), world_id, name)
        except SessionError as e:
            return PlainTextResponse(str(e), status_code=404)
        return FileResponse(path, filename=name, content_disposition_type="attachment")

    blocks = build_blocks(Editor(workspace, frame_model, generate_options)).queue(default_concurrency_limit=2, max_size=QUEUE_SIZE)
    return gr.mount_gradio_app(api, blocks, path="", max_file_size=MAX_UPLOAD, auth=auth, ssr_mode=False,
                               show_error=True)


def parse_auth(text: str | None):
    """'user:password' -> (user, password); None -> None."""
    if not text:
        return None
    user, sep, password = text.partition(":")
    if not sep or not user or not password:
        raise SessionError("--auth must be USER:PASSWORD")
    return (user, password)


def serve(host: str = "127.0.0.1", port: int = 7860, data_dir: str | None = None, frame_model: str | None = None,
          auth: str | None = None) -> None:
    import uvicorn

    if host not in ("127.0.0.1", "localhost", "::1") and not auth:
        log.warning("the editor listens on %s without --auth: anyone who reaches it can use it", host)
    uvicorn.run(create_app(data_dir, frame_model, parse_auth(auth)), host=host, port=port, log_level="warning")
