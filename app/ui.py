"""The gradio editor: Create, Explore, Edit and Export tabs over one user's worlds.

Every handler resolves the user from their session cookie (`Workspace`), works only inside that
user's folder, and reports a `WorldgenError` as a visible message; anything else is a bug, logged
with its traceback by gradio, and touches no other session. Generation streams its frames.
"""

from __future__ import annotations

import queue
import shutil
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import numpy as np

import worldgen
from renderer import Camera
from renderer.edit import number_param
from renderer.layout import OBJECT_LABELS, Layout
from worldgen.config import EFFORTS, FRAMES_FROM, GenerateConfig
from worldgen.edit import Selection, WorldEditor
from worldgen.errors import WorldgenError
from worldgen.world import load_world

from . import views
from .workspace import SessionError, Workspace

COOKIE = "worldgen_owner"
MAX_PROMPT_CHARS = 2000
EXPORT_FORMATS = ("ply", "splat", "spz", "glb", "mp4", "zip")
BOX_COLUMNS = ["label", "color", "x", "y", "z", "size x", "size y", "size z", "yaw"]
DEFAULT_BOX = ["bed", "#3355aa", 0.0, 0.0, 0.5, 1.6, 2.0, 1.0, 0.0]
CSS = "#view img {image-rendering: auto} .status {min-height: 2em}"


@dataclass
class TabState:
    """What one browser tab has open: its world, its camera, its selection, its live walk."""

    world_id: str | None = None
    camera: dict | None = None
    selection: Selection | None = None
    live: object | None = None  # a rtfm.session.WorldSession while live mode is on
    frames: list = field(default_factory=list)


def _owner(request: gr.Request) -> str:
    return request.cookies.get(COOKIE) if request is not None else None


class Editor:
    """Handlers bound to a workspace. Editors (WorldEditor) are cached per world."""

    def __init__(self, workspace: Workspace, frame_model: str | None = None, generate_options: dict | None = None):
        self.ws = workspace
        self.frame_model = frame_model
        # the server's settings for every world (e.g. frames, resolution, lift_steps): the base config,
        # not a user's choice, so a source that has no use for one does not refuse it
        base = {**({"frame_model": frame_model} if frame_model else {}), **(generate_options or {})}
        self.base_config = GenerateConfig(**base)
        self._editors: dict[Path, WorldEditor] = {}
        self._guard = threading.Lock()

    # shared helpers ----------------------------------------------------------------------------------
    def editor(self, owner: str, world_id: str) -> WorldEditor:
        path = self.ws.world_dir(owner, world_id)
        with self._guard:
            if path not in self._editors:
                if len(self._editors) > 16:  # bounded: drop the oldest
                    self._editors.pop(next(iter(self._editors)))
                self._editors[path] = WorldEditor.open(path)
            return self._editors[path]

    def _camera(self, state: TabState, ed: WorldEditor) -> Camera:
        if state.camera is None:
            state.camera = views.start_camera(ed.world.cameras, ed.scene).to_dict()
        return Camera.from_dict(state.camera)

    def _view(self, state: TabState, owner: str, highlight: bool = False) -> np.ndarray:
        ed = self.editor(owner, state.world_id)
        sel = state.selection.mask if highlight and state.selection is not None else None
        if sel is not None and sel.shape != (len(ed.scene),):
            sel = state.selection = None
        return views.render_view(ed.scene, self._camera(state, ed), sel)

    def _model3d(self, owner: str, world_id: str) -> str:
        """A .splat of the current scene for gr.Model3D (gsplat.js), in the OpenCV axes 3DGS viewers expect."""
        ed = self.editor(owner, world_id)
        folder = self.ws.exports_dir(owner, world_id)
        for old in folder.glob("view-*.splat"):
            old.unlink(missing_ok=True)
        # a new name per version: the viewer reloads only when the file's address changes
        out = folder / f"view-{len(ed.history.log)}-{ed.history.done}.splat"
        ed.world.export("splat", out, axes="opencv")
        return str(out)

    def _choices(self, owner: str | None):
        try:
            ids = self.ws.worlds(owner)
        except SessionError:
            return []
        out = []
        for i in ids:
            caption = (load_world(self.ws.world_dir(owner, i)).manifest.get("caption") or "")[:60]
            out.append((f"{i} — {caption}" if caption else i, i))
        return out

    def list_worlds(self, request: gr.Request):
        return gr.update(choices=self._choices(_owner(request)))

    # create ----------------------------------------------------------------------------------------------
    def generate(self, prompt, images, video, layout_file, boxes, shell, use_boxes, frames_from, effort, seed,
                 state: TabState, request: gr.Request):
        """Generator: streams (status, frames gallery, ...) while the world is made."""
        owner = _owner(request)
        try:
            kwargs = self._generate_args(owner, prompt, images, video, layout_file, boxes, shell, use_boxes,
                                         frames_from, effort, seed)
        except WorldgenError as e:
            yield self._create_out(f"Error: {e}", state, None)
            return
        world_id, path = self.ws.new_world_path(owner)
        frames: queue.Queue = queue.Queue()
        result: dict = {}

        def work():
            try:
                world = worldgen.generate(**kwargs, config=self.base_config, progress=False,
                                          on_frame=lambda i, n, rgb: frames.put((i, n, rgb)))
                world.save(path)
                result["world"] = world
            except BaseException as e:  # noqa: BLE001 - reported to this user below; other sessions untouched
                result["error"] = e

        started = time.perf_counter()
        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        shown: list[np.ndarray] = []
        total = 0
        while thread.is_alive() or not frames.empty():
            got = False
            while not frames.empty():
                i, total, rgb = frames.get()
                shown.append((np.clip(rgb, 0, 1) * 255).astype(np.uint8))
                got = True
            if got or not shown:
                stage = f"frames {len(shown)}/{total}" if total and len(shown) < total else (
                    "lifting the frames into splats" if shown else "reading the prompt")
                yield self._create_out(f"{stage} ({time.perf_counter() - started:.0f} s)", state, shown)
            thread.join(timeout=0.2)
        if "error" in result:
            err = result["error"]
            shutil.rmtree(path, ignore_errors=True)
            if not isinstance(err, WorldgenError):
                raise err
            yield self._create_out(f"Error: {err}", state, shown)
            return
        state.world_id, state.camera, state.selection, state.live = world_id, None, None, None
        m = result["world"].metrics
        psnr = f", held-out PSNR {m['psnr_heldout']:.1f} dB" if "psnr_heldout" in m else ""
        yield self._create_out(f"world {world_id} in {time.perf_counter() - started:.1f} s{psnr}", state, shown,
                               owner=owner)

    def _create_out(self, status, state, shown, owner=None):
        if owner is None:
            return status, shown or None, state, gr.update(), gr.update(), gr.update()
        return (status, shown or None, state, gr.update(choices=self._choices(owner), value=state.world_id),
                self._view(state, owner), self._history_md(owner, state))

    def current_model(self, state: TabState, request: gr.Request):
        """The splat viewer's file for the open world. A plain (not streaming) event: gsplat.js
        does not start when a streaming event sets it."""
        try:
            return self._model3d(_owner(request), state.world_id) if state.world_id else gr.update()
        except WorldgenError:
            return gr.update()

    def _generate_args(self, owner, prompt, images, video, layout_file, boxes, shell, use_boxes, frames_from, effort,
                       seed) -> dict:
        self.ws.owner_dir(owner)
        prompt = (prompt or "").strip() or None
        if prompt is not None and len(prompt) > MAX_PROMPT_CHARS:
            raise SessionError(f"the prompt is {len(prompt)} characters; at most {MAX_PROMPT_CHARS}")
        kwargs: dict = {"prompt": prompt, "seed": _seed(seed), "effort": effort if effort in EFFORTS else "draft"}
        if images:
            kwargs["images"] = [_upload_path(f) for f in images]
        if video:
            kwargs["video"] = _upload_path(video)
        if use_boxes:
            kwargs["layout"] = boxes_to_layout(boxes, shell, prompt)
        elif layout_file:
            kwargs["layout"] = _upload_path(layout_file)
        if not any(kwargs.get(k) for k in ("prompt", "images", "video", "layout")):
            raise SessionError("give a prompt, photos, a video or a layout first")
        if not images and not video:  # a prompt's or a layout's frames: ray cast, or from the frame model
            kwargs["frames_from"] = frames_from if frames_from in FRAMES_FROM else "procedural"
        return kwargs

    def open_world(self, world_id, state: TabState, request: gr.Request):
        owner = _owner(request)
        try:
            self.ws.world_dir(owner, world_id)
        except WorldgenError as e:
            return f"Error: {e}", state, gr.update(), gr.update(), gr.update()
        state.world_id, state.camera, state.selection, state.live = world_id, None, None, None
        return (f"opened {world_id}", state, self._model3d(owner, world_id), self._view(state, owner),
                self._history_md(owner, state))

    # explore ---------------------------------------------------------------------------------------------
    def move(self, name: str, live: bool, state: TabState, request: gr.Request):
        owner = _owner(request)
        try:
            ed = self.editor(owner, state.world_id)
            cam = views.control(self._camera(state, ed), name, ed.scene)
            if live:
                return self._live_step(state, ed, cam)
            state.camera = cam.to_dict()
            return state, self._view(state, owner), "splats (server render)"
        except WorldgenError as e:
            return state, gr.update(), f"Error: {e}"

    def _live_step(self, state, ed, cam):
        from worldgen.explore import open_session

        if state.live is None:
            kw = {"checkpoint": self.frame_model} if self.frame_model else {}
            state.live = open_session(ed.world.path, **kw)
        session = state.live
        # the view camera's new pose at the session's own frame size and intrinsics
        frame = session.step(Camera(session.camera.K, cam.c2w, session.camera.width, session.camera.height))
        state.camera = Camera(cam.K, session.camera.c2w, cam.width, cam.height).to_dict()
        note = " (stopped at the world's edge)" if session.blocked else ""
        return state, views.upscaled(frame.rgb), f"frame model, live: frame {session.made}{note}"

    # edit ------------------------------------------------------------------------------------------------
    def select(self, phrase, label, state: TabState, request: gr.Request):
        owner = _owner(request)
        try:
            ed = self.editor(owner, state.world_id)
            sel = ed.select(phrase) if (phrase or "").strip() else ed.select(labels=[label] if label else None)
        except WorldgenError as e:
            state.selection = None
            return state, gr.update(), f"Error: {e}"
        state.selection = sel
        warn = f" — {'; '.join(sel.warnings)}" if sel.warnings else ""
        return (state, self._view(state, owner, highlight=True),
                f"selected {sel.count} Gaussians: {', '.join(sel.objects) or sel.description}{warn}")

    def edit(self, op: str, state: TabState, request: gr.Request, *args):
        """One edit of the open world, saved into its folder at once."""
        owner = _owner(request)
        try:
            ed = self.editor(owner, state.world_id)
            with self.ws.editing(owner, state.world_id):
                message = self._apply(ed, op, state, *args)
                ed.save()
        except WorldgenError as e:
            return state, gr.update(), f"Error: {e}", gr.update(), gr.update()
        # the result as it is (the selection stays, for the next edit; Select shows it again)
        return (state, self._view(state, owner), message, self._history_md(owner, state),
                self._model3d(owner, state.world_id))

    def _apply(self, ed: WorldEditor, op: str, state: TabState, *args) -> str:
        if op in ("undo", "redo"):
            getattr(ed, op)()
            state.selection = None
            return f"{op} done"
        if op == "insert":
            label, *numbers, color = args
            x, y, z, sx, sy, sz, yaw = _numbers(("x", "y", "z", "size x", "size y", "size z", "yaw"), numbers)
            ed.insert_asset(label, [x, y, z + sz / 2], [sx, sy, sz], yaw, color or "#8a6f4e")
            state.selection = None
            return f"inserted a {label}"
        sel = state.selection
        if sel is None:
            raise SessionError("select something first (by phrase, label or box)")
        if op == "recolor":
            mode, color, hue = args
            ed.recolor(sel, mode=mode, color=color, hue_deg=_numbers(("hue shift",), (hue,))[0] if mode == "hue" else 0.0)
            state.selection = Selection(sel.mask, sel.description, sel.objects)
        elif op == "delete":
            ed.delete(sel)
            state.selection = None
        elif op == "transform":
            dx, dy, dz, yaw, scale = _numbers(("dx", "dy", "dz", "yaw", "scale"), args)
            ed.transform(sel, [dx, dy, dz], yaw, scale)
        elif op == "duplicate":
            dx, dy, dz, yaw = _numbers(("dx", "dy", "dz", "yaw"), args[:4])
            n = len(ed.scene)
            ed.duplicate(sel, [dx or 0.5, dy, dz], yaw)
            import torch

            state.selection = Selection(torch.cat([torch.zeros(n, dtype=torch.bool),
                                                   torch.ones(len(ed.scene) - n, dtype=torch.bool)]),
                                        f"copy of {sel.description}")
        elif op == "regenerate":
            kw = {"checkpoint": self.frame_model} if self.frame_model else {}
            ed.regenerate(sel, **kw)
            state.selection = None
        return f"{op}: {sel.description}"

    def _history_md(self, owner, state: TabState) -> str:
        try:
            h = self.editor(owner, state.world_id).history
        except WorldgenError:
            return ""
        lines = [f"{'✔' if i < h.done else '↶'} {r.get('description') or r['op']}" for i, r in enumerate(h.log)]
        return "**History** (✔ applied, ↶ undone)\n\n" + ("\n\n".join(lines[-12:]) if lines else "no edits yet")

    # export ----------------------------------------------------------------------------------------------
    def export(self, fmt: str, state: TabState, request: gr.Request):
        owner = _owner(request)
        try:
            if fmt not in EXPORT_FORMATS:
                raise SessionError(f"unknown format {fmt!r}")
            ed = self.editor(owner, state.world_id)
            out_dir = self.ws.exports_dir(owner, state.world_id)
            name = f"{state.world_id}.{fmt}"
            if fmt == "zip":
                _zip_world(ed.world.path, out_dir / name)
            else:
                written = load_world(ed.world.path).export(fmt, out_dir / name)
                name = Path(written).name
        except WorldgenError as e:
            return f"Error: {e}", gr.update()
        url = f"/worldgen/download/{state.world_id}/{name}"
        size = (out_dir / name).stat().st_size
        return (f"{name} ({size / 1e6:.2f} MB)",
                f'<a id="download-link" href="{url}" download="{name}">⬇ Download {name}</a>')


def _numbers(names, values) -> list[float]:
    """The form's number fields as floats; an empty or non-numeric field is named to the user."""
    for name, v in zip(names, values, strict=True):
        if v is None or v == "":
            raise SessionError(f"{name} is empty; enter a number")
    return [number_param(v, name) for name, v in zip(names, values)]


def _seed(value) -> int:
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer()) or (
        isinstance(value, str) and len(value) < 20 and value.strip().lstrip("-").isdecimal())
    if isinstance(value, bool) or not whole:
        raise SessionError(f"seed must be a whole number, got {value!r}"[:200])
    seed = int(value)
    if not 0 <= seed < 2**31:
        raise SessionError(f"seed must be in [0, 2^31), got {seed}")
    return seed


def _upload_path(f) -> str:
    """The server-side path of a gradio upload (a temp file gradio wrote and size-capped)."""
    path = getattr(f, "name", None) or (f.get("path") if isinstance(f, dict) else f)
    if not isinstance(path, str) or not Path(path).is_file():
        raise SessionError("an upload did not arrive; try again")
    return path


def boxes_to_layout(boxes, shell: str, prompt: str | None) -> Layout:
    """The box editor's rows (label, colour, centre x y z-bottom, size, yaw) as a Layout in a room or outdoors."""
    rows = boxes.values.tolist() if hasattr(boxes, "values") else list(boxes or [])
    objects = []
    for i, row in enumerate(rows):
        if not row or all(v in (None, "") for v in row):
            continue
        if len(row) != len(BOX_COLUMNS):
            raise SessionError(f"box {i + 1}: needs {len(BOX_COLUMNS)} values ({', '.join(BOX_COLUMNS)})")
        label, color, *nums = row
        try:
            x, y, z, sx, sy, sz, yaw = (float(v) for v in nums)
        except (TypeError, ValueError):
            raise SessionError(f"box {i + 1} ({label}): position, size and yaw must be numbers") from None
        objects.append({"label": str(label).strip(), "color": str(color).strip(), "center": [x, y, z + sz / 2],
                        "size": [sx, sy, sz], "yaw": yaw})
    if not objects:
        raise SessionError("the box layout is empty; add a box")
    shell_d = {"kind": "room", "size": [6.0, 5.0, 2.8]} if shell != "outdoor" else {"kind": "outdoor", "size": [24.0, 24.0]}
    layout = Layout.from_dict({"version": 1, "scene_type": shell, "shell": shell_d, "objects": objects,
                               "caption": prompt or "a box layout"}, source="box layout")
    return layout


def layout_preview(boxes, shell: str) -> np.ndarray:
    """A top-down sketch of the box layout (uint8 [H, W, 3])."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (320, 320), (245, 245, 240))
    draw = ImageDraw.Draw(img)
    try:
        layout = boxes_to_layout(boxes, shell, None)
    except WorldgenError as e:
        draw.text((10, 150), str(e)[:48], fill=(160, 30, 30))
        return np.asarray(img)
    sx, sy = layout.shell.size[0], layout.shell.size[1]
    s = 300 / max(sx, sy)
    to_px = lambda x, y: (160 + x * s, 160 - y * s)  # noqa: E731
    draw.rectangle([to_px(-sx / 2, sy / 2), to_px(sx / 2, -sy / 2)], outline=(90, 90, 90), width=2)
    for b in layout.objects:
        pts = [to_px(x, y) for x, y in b.corners_xy()]
        draw.polygon(pts, fill=tuple(int(c * 255) for c in b.rgb), outline=(20, 20, 20))
        draw.text(to_px(*b.center[:2]), b.label, fill=(0, 0, 0))
    return np.asarray(img)


def _zip_world(world: Path, out: Path) -> None:
    tmp = out.with_name(f".{out.name}.part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(world.rglob("*")):
            if p.is_file() and not p.is_symlink():
                z.write(p, Path(world.name) / p.relative_to(world))
    tmp.replace(out)


CACHE_SWEEP_S = (600, 3600)  # (how often, how old) in seconds


def build_blocks(editor: Editor) -> gr.Blocks:
    # Gradio copies every image, model and download it serves into its cache; a shared editor left
    # running wrote ~30 MB a minute there. Sweep files older than an hour every ten minutes.
    with gr.Blocks(title="worldgen", delete_cache=CACHE_SWEEP_S) as demo:
        state = gr.State(TabState())
        gr.Markdown("# worldgen\nText, photos, a video or a box layout → an explorable, editable 3D world of Gaussian splats.")
        with gr.Row():
            world_pick = gr.Dropdown(label="Your worlds", choices=[], interactive=True, elem_id="world-pick")
            status = gr.Markdown("", elem_id="status", elem_classes="status")
        # The viewers stay above the tabs: gsplat.js does not start inside a hidden tab.
        with gr.Row():
            model3d = gr.Model3D(label="Splats (drag to orbit, scroll to zoom)", height=360, elem_id="model3d",
                                 clear_color=(0.05, 0.05, 0.07, 1.0))
            with gr.Column():
                view = gr.Image(label="View (server render; the selection is highlighted)", interactive=False,
                                elem_id="view", height=320)
                view_note = gr.Markdown("", elem_id="view-note")
        with gr.Tabs():
            with gr.Tab("Create", id="create"):
                with gr.Row():
                    with gr.Column():
                        prompt = gr.Textbox(label="Prompt", lines=3, max_length=MAX_PROMPT_CHARS, elem_id="prompt",
                                            placeholder="a bedroom with a blue bed, two lamps and a wooden wardrobe")
                        with gr.Row():
                            frames_from = gr.Radio(list(FRAMES_FROM), value="procedural", label="Frames from",
                                                   elem_id="frames-from")
                            effort = gr.Radio(list(EFFORTS), value="draft", label="Effort", elem_id="effort")
                            seed = gr.Number(value=0, precision=0, label="Seed", minimum=0)
                        with gr.Accordion("Photos, video or a layout file", open=False):
                            images = gr.File(label="Photo(s)", file_count="multiple", file_types=["image"], elem_id="images")
                            video = gr.File(label="Video", file_types=["video"], elem_id="video")
                            layout_file = gr.File(label="Layout (box JSON or voxel .npy)", file_types=[".json", ".npy"],
                                                  elem_id="layout-file")
                        with gr.Accordion("Box layout editor", open=False):
                            use_boxes = gr.Checkbox(label="Generate from these boxes", value=False)
                            shell = gr.Radio(["room", "outdoor"], value="room", label="Shell")
                            boxes = gr.Dataframe(headers=BOX_COLUMNS, value=[DEFAULT_BOX], interactive=True,
                                                 datatype=["str", "str"] + ["number"] * 7, label="Boxes (z = bottom)")
                            with gr.Row():
                                new_label = gr.Dropdown(OBJECT_LABELS, value="chair", label="Add a box of")
                                add_box = gr.Button("Add box")
                                drop_box = gr.Button("Remove last")
                            preview = gr.Image(label="Top view", interactive=False, height=240)
                        generate = gr.Button("Generate", variant="primary", elem_id="generate")
                    with gr.Column():
                        gallery = gr.Gallery(label="Frames as they are made", columns=4, height=360, elem_id="frames")
            with gr.Tab("Explore", id="explore"):
                live = gr.Checkbox(label="Live: the frame model makes each frame as you walk", value=False)
                buttons = {}
                for row in (("turn left", "forward", "turn right", "up"), ("left", "back", "right", "down"),
                            ("orbit left", "zoom in", "zoom out", "orbit right"), ("look up", "look down")):
                    with gr.Row():
                        for name in row:
                            buttons[name] = gr.Button(name, size="sm", elem_id="move-" + name.replace(" ", "-"))
            with gr.Tab("Edit", id="edit"):
                with gr.Row():
                    with gr.Column():
                        phrase = gr.Textbox(label="Select by phrase", placeholder="the bed · all lamps · the red chair",
                                            max_length=500, elem_id="phrase")
                        label_pick = gr.Dropdown([""] + OBJECT_LABELS + ["floor", "wall", "ceiling", "ground", "sky"],
                                                 value="", label="…or by label")
                        select = gr.Button("Select", elem_id="select")
                        with gr.Row():
                            mode = gr.Radio(["replace", "tint", "hue"], value="replace", label="Recolour")
                            color = gr.ColorPicker(value="#c0392b", label="Colour", elem_id="color")
                            hue = gr.Slider(-180, 180, value=90, step=5, label="Hue shift (°)")
                        recolor = gr.Button("Recolour", elem_id="recolor")
                        with gr.Row():
                            dx = gr.Number(value=0.0, label="dx (m)")
                            dy = gr.Number(value=0.0, label="dy (m)")
                            dz = gr.Number(value=0.0, label="dz (m)")
                            yaw = gr.Number(value=0.0, label="yaw (°)")
                            scale = gr.Number(value=1.0, label="scale", minimum=0.05)
                        with gr.Row():
                            move_b = gr.Button("Move / rotate / scale")
                            dup_b = gr.Button("Duplicate")
                            del_b = gr.Button("Delete", variant="stop")
                            regen_b = gr.Button("Regenerate (frame model)")
                        with gr.Accordion("Insert an object", open=False):
                            ins_label = gr.Dropdown(OBJECT_LABELS, value="plant", label="Object")
                            with gr.Row():
                                ix, iy, iz = (gr.Number(value=v, label=n) for v, n in ((0.0, "x"), (0.0, "y"), (0.0, "z (bottom)")))
                                isx, isy, isz = (gr.Number(value=v, label=n) for v, n in ((0.5, "size x"), (0.5, "size y"), (1.0, "size z")))
                                iyaw = gr.Number(value=0.0, label="yaw (°)")
                                icolor = gr.ColorPicker(value="#4a7a3a", label="Colour")
                            ins_b = gr.Button("Insert")
                        with gr.Row():
                            undo = gr.Button("Undo", elem_id="undo")
                            redo = gr.Button("Redo", elem_id="redo")
                    with gr.Column():
                        edit_note = gr.Markdown("", elem_id="edit-note")
                        history = gr.Markdown("", elem_id="history")
            with gr.Tab("Export", id="export"):
                fmt = gr.Radio(list(EXPORT_FORMATS), value="ply", label="Format", elem_id="format")
                export_b = gr.Button("Prepare download", elem_id="export")
                export_note = gr.Markdown("")
                link = gr.HTML("", elem_id="download")

        heavy = dict(concurrency_limit=1, concurrency_id="heavy")
        generate.click(editor.generate, [prompt, images, video, layout_file, boxes, shell, use_boxes, frames_from, effort,
                                         seed, state], [status, gallery, state, world_pick, view, history], **heavy
                       ).then(editor.current_model, [state], model3d)
        world_pick.input(editor.open_world, [world_pick, state], [status, state, model3d, view, history])
        for name, b in buttons.items():
            b.click(_mover(editor, name), [live, state], [state, view, view_note], concurrency_limit=2)
        select.click(editor.select, [phrase, label_pick, state], [state, view, edit_note], concurrency_limit=2)
        phrase.submit(editor.select, [phrase, label_pick, state], [state, view, edit_note], concurrency_limit=2)
        outs = [state, view, edit_note, history, model3d]
        recolor.click(_edit(editor, "recolor"), [state, mode, color, hue], outs, concurrency_limit=2)
        move_b.click(_edit(editor, "transform"), [state, dx, dy, dz, yaw, scale], outs, concurrency_limit=2)
        dup_b.click(_edit(editor, "duplicate"), [state, dx, dy, dz, yaw, scale], outs, concurrency_limit=2)
        del_b.click(_edit(editor, "delete"), [state], outs, concurrency_limit=2)
        regen_b.click(_edit(editor, "regenerate"), [state], outs, **heavy)
        ins_b.click(_edit(editor, "insert"), [state, ins_label, ix, iy, iz, isx, isy, isz, iyaw, icolor], outs,
                    concurrency_limit=2)
        undo.click(_edit(editor, "undo"), [state], outs, concurrency_limit=2)
        redo.click(_edit(editor, "redo"), [state], outs, concurrency_limit=2)
        export_b.click(editor.export, [fmt, state], [export_note, link], concurrency_limit=2)
        add_box.click(_add_box, [boxes, new_label], boxes)
        drop_box.click(lambda b: (b.iloc[:-1] if hasattr(b, "iloc") else (b or [])[:-1]), boxes, boxes)
        for c in (boxes, shell):
            c.change(layout_preview, [boxes, shell], preview)
        demo.load(editor.list_worlds, None, world_pick)
    return demo


def _mover(editor: Editor, name: str):
    def handler(live_on, state, request: gr.Request):
        return editor.move(name, live_on, state, request)

    return handler


def _edit(editor: Editor, op: str):
    def handler(request: gr.Request, state, *args):  # gradio fills `request` by its annotation
        return editor.edit(op, state, request, *args)

    return handler


def _add_box(boxes, label):
    from worldgen.procgen.vocab import SIZES

    rows = boxes.values.tolist() if hasattr(boxes, "values") else list(boxes or [])
    size = [round(sum(r) / 2, 2) for r in SIZES.get(label, ((0.5, 0.5), (0.5, 0.5), (0.5, 0.5)))]
    rows.append([label, "#8a6f4e", 0.0, 0.0, 0.0, *size, 0.0])
    return rows


