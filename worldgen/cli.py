"""The `worldgen` command line."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer

from .errors import WorldgenError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, help="worldgen: explorable 3D worlds as Gaussian splats.\n\nEvery command but `app` takes --quiet (no progress; a command that writes files prints only their paths) and --json (one JSON object on stdout; progress on stderr).\n\nExit codes: 0 success; 2 bad input (the message names the file or argument, on stderr, also under --json); 3 a batch finished with failed jobs; 1 a bug (with its traceback); 130 interrupted.")

# The two output options every command takes (but the `app` server, which prints nothing to quiet).
Quiet = Annotated[bool, typer.Option("--quiet", help="no progress bars or progress lines (errors and warnings still go "
                                     "to stderr); a command that writes files prints only their paths")]
AsJson = Annotated[bool, typer.Option("--json", help="print the result as one JSON object on stdout (the paths written, "
                                      "the figures); progress, warnings and notes go to stderr")]
Seed = Annotated[int, typer.Option("--seed", min=0, max=2**32 - 1, help="random seed: the same inputs and seed give "
                                                                           "the same result")]
# The frame model the commands that run it take (None: worldgen.frame_training.DEFAULT_FRAME_MODEL).
FrameModelDir = Annotated[Optional[Path], typer.Option(help="frame model folder (default: assets/rtfm-tiny)")]


def _patch_multiple(value: int) -> int:
    if value % 16:  # _fail, not typer.BadParameter: errors are one "error: " line, also under --json
        _fail(f"--resolution must be a multiple of 16 (the frame model's patch), got {value}")
    return value


# The frame size the frame model's evaluations run at.
EvalResolution = Annotated[int, typer.Option(min=16, max=1024, callback=_patch_multiple,
                                             help="frame size, pixels (a multiple of 16)")]

LAYOUT_ENGINE = "auto"  # worldgen.lm.DEFAULT_ENGINE, without importing torch to build the CLI
ENGINE_HELP = ("rules (the deterministic parser), lm (the trained language model) or auto (the rules, or the model "
               "when the prompt has words that look like typing mistakes or a word order the rules guess at)")
NO_COMPLETE_HELP = ("place only what the prompt names (by default the scene type's usual furniture fills the rest; "
                    "'only' or 'empty' in the prompt does the same)")


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _load_world(path: Path):
    """A world folder with its splats read (scene.ply), or exit 2 with the problem."""
    from .world import load_world

    try:
        world = load_world(path)
        world.scene  # read now, so a broken scene.ply exits here too
        return world
    except WorldgenError as e:
        _fail(str(e))


def _check_image_out(path: Path, flag: str = "--out") -> None:
    from .io import check_image_path

    try:
        check_image_path(path)
    except WorldgenError as e:
        _fail(f"{flag} {e}")


def _is_dir(path: Path) -> bool:
    """Whether a path the user gave is a folder; one the OS cannot even look up (a name too long)
    is reported as bad input."""
    from renderer.errors import InputFileError
    from renderer.formats.base import path_kind

    try:
        return path_kind(path, InputFileError) == "dir"
    except WorldgenError as e:
        _fail(str(e))


def _load(path: Path):
    """The splats of a .ply / .splat / .spz file or of a world folder."""
    from renderer import load_scene

    is_dir = _is_dir(path)
    if not is_dir and not path.exists():
        _fail(f"{path}: no such file or world folder")
    if is_dir:
        return _load_world(path).scene
    try:
        return load_scene(path)
    except WorldgenError as e:
        _fail(str(e))


def _log(quiet: bool, err: bool = False) -> Callable[[str], None]:
    """Where a command's progress lines go: nowhere with --quiet, else stdout, or stderr (`err`: with
    --json, whose stdout holds only the object)."""
    if quiet:
        return lambda line: None
    return lambda line: typer.echo(line, err=err)


def _print_result(result: dict, as_json: bool, quiet: bool = False, text: Optional[list[str]] = None,
                  written: tuple = ()) -> None:
    """A command's result on stdout: with --json one JSON object; with --quiet only the paths
    `written` (one a line; a command that writes nothing prints as without --quiet); otherwise the
    `text` lines, or one aligned `key: value` line per figure."""
    if as_json:
        from .world import finite_values  # imported here: building the CLI stays free of torch

        typer.echo(json.dumps(finite_values(result), default=str, allow_nan=False))
        return
    if quiet and written:
        for path in written:
            if path is not None:
                typer.echo(str(path))
        return
    if text is None:
        width = max(map(len, result), default=0)
        text = [f"{key:>{width}}: {value}" for key, value in result.items()]
    for line in text:
        typer.echo(line)


def _background(text: str) -> tuple[float, float, float]:
    try:
        from PIL import ImageColor

        r, g, b = ImageColor.getrgb(text)[:3]
    except ValueError:
        _fail(f"--background {text!r} is not a colour (use a name or #rrggbb)")
    return r / 255, g / 255, b / 255


@app.command()
def info(scene: Path = typer.Argument(..., help="a .ply, .splat or .spz file, or a world folder"),
         quiet: Quiet = False, as_json: AsJson = False) -> None:
    """Print a splat file's or a world's size, SH degree, bounds and labels (and a world's inputs, metrics, timings)."""
    world = _load_world(scene) if _is_dir(scene) else None
    s = world.scene if world is not None else _load(scene)
    summary = {"file": str(scene), "gaussians": len(s), "sh_degree": s.sh_degree, "bounds": None, "labels": []}
    if world is not None:
        m = world.manifest
        summary.update({k: m.get(k) for k in ("inputs", "caption", "quality", "models", "metrics", "timings_s")},
                       files=m["files"])
    if len(s):
        lo, hi = s.bounds()
        summary["bounds"] = [lo.tolist(), hi.tolist()]
        summary["labels"] = sorted(set(s.labels.unique().tolist()) - {-1})
    _print_result(summary, as_json, quiet)


@app.command()
def render(
    scene: Path = typer.Argument(..., help="a .ply, .splat or .spz file, or a world folder"),
    out: Path = typer.Option(..., "--out", help="image to write (.png or .jpg)"),
    width: int = typer.Option(512, min=1, max=8192),
    height: int = typer.Option(512, min=1, max=8192),
    azimuth: float = typer.Option(30.0, help="degrees, from +X towards +Y"),
    elevation: float = typer.Option(25.0, help="degrees above the XY plane"),
    distance: Optional[float] = typer.Option(None, help="metres from the scene centre (default: frames the scene)"),
    fov: float = typer.Option(60.0, help="vertical field of view, degrees"),
    background: str = typer.Option("black", help="colour name or #rrggbb"),
    backend: str = typer.Option("auto", help="auto, torch, gsplat or dense"),
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Render a splat file or a world from an orbit camera around the scene's centre."""
    from renderer import render as render_scene
    from renderer.view import frame_orbit_camera

    from .io import save_image

    _check_image_out(out)
    s = _load(scene)
    if len(s) == 0:
        _fail(f"{scene}: holds no Gaussians")
    if distance is not None and not (distance > 0 and math.isfinite(distance)):
        _fail(f"--distance must be a positive number of metres, got {distance}")
    if not 0 < fov < 180:
        _fail(f"--fov must be a vertical field of view in (0, 180) degrees, got {fov}")
    bg = _background(background)
    try:
        cam = frame_orbit_camera(s, azimuth, elevation, width, height, fov, distance)
        img = render_scene(s, cam, backend=backend, background=bg).rgb[0]
        save_image(img, out)
    except WorldgenError as e:
        _fail(str(e))
    _print_result({"out": str(out), "width": width, "height": height, "gaussians": len(s)}, as_json, quiet,
                  [f"wrote {out} ({width}x{height}, {len(s)} Gaussians)"], (out,))


@app.command()
def demo(
    out: Path = typer.Option(Path("demo.png"), "--out", help="image to write"),
    ply: Optional[Path] = typer.Option(None, help="also save the scene here (default: OUT with .ply)"),
    gaussians: int = typer.Option(100_000, min=16, max=5_000_000),
    seed: Seed = 0,
    width: int = typer.Option(512, min=1, max=8192),
    height: int = typer.Option(512, min=1, max=8192),
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Build the seeded demo splat scene, save it as .ply and render it to an image."""
    from renderer import render as render_scene, save_scene

    from renderer.view import frame_orbit_camera

    from .demo import demo_scene
    from .io import save_image

    _check_image_out(out)  # before anything is written
    s = demo_scene(gaussians, seed)
    ply = ply or out.with_suffix(".ply")
    try:
        cam = frame_orbit_camera(s, 30.0, 25.0, width, height, 60.0)
        image = render_scene(s, cam, background=(0.08, 0.09, 0.11)).rgb[0]
        save_scene(s, ply)
        save_image(image, out)
    except WorldgenError as e:
        _fail(str(e))
    _print_result({"ply": str(ply), "out": str(out), "gaussians": len(s), "width": width, "height": height}, as_json,
                  quiet, [f"wrote {ply} ({len(s)} Gaussians) and {out} ({width}x{height})"], (ply, out))


@app.command()
def layout(
    prompt: str = typer.Argument(..., help="a description of the scene"),
    seed: Seed = 0,
    out: Optional[Path] = typer.Option(None, "--out", help="also save the layout here"),
    engine: str = typer.Option(LAYOUT_ENGINE, help=ENGINE_HELP),
    checkpoint: Optional[Path] = typer.Option(None, help="lm checkpoint folder (default: assets/lm-tiny)"),
    no_complete: bool = typer.Option(False, "--no-complete", help=NO_COMPLETE_HELP),
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Turn a prompt into a coarse layout (the rule-based parser, or the language model).

    --json prints the layout itself (a layout file); --quiet prints the --out path, or without
    --out the caption and counts, and leaves out the ignored words."""

    from .lm import layout_for_prompt

    try:
        made = layout_for_prompt(prompt, engine, seed=seed, checkpoint=checkpoint, complete=not no_complete)
    except WorldgenError as e:
        _fail(str(e))
    result, warnings, ignored = made.layout, made.warnings, made.ignored
    if out is not None:
        result.save(out)
    notes = [f"warning: {w}" for w in warnings]
    if ignored and not quiet:
        shown = ignored[:100]
        more = f" (and {len(ignored) - 100} more)" if len(ignored) > 100 else ""
        notes.append("ignored words: " + " ".join(shown) + more)
    if as_json or quiet:  # stdout holds the layout (or the path) alone
        for note in notes:
            typer.echo(note, err=True)
        notes = []
    _print_result(result.to_dict(), as_json, quiet,
                  [result.caption, *(f"  {n} x {label}" for label, n in result.counts().items()), *notes],
                  (out,) if out is not None else ())


def _load_layout(path: Path):
    from renderer.layout import load_layout_file

    try:
        return load_layout_file(path)
    except WorldgenError as e:
        _fail(str(e))


@app.command("render-layout")
def render_layout(
    layout_file: Path = typer.Argument(..., help="layout .json, or a voxel grid .npy with its .json table"),
    out: Path = typer.Option(..., "--out", help="folder for transforms.json, images/, depth/, labels/"),
    frames: int = typer.Option(24, min=1, max=10_000),
    resolution: int = typer.Option(256, min=8, max=4096),
    path: str = typer.Option("orbit", help="orbit, walk, look_around or loop"),
    seed: Seed = 0,
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Render a layout's draft frames (procedural assets, ray cast) into a transforms.json folder."""
    from .frames import PosedFrames, write_transforms
    from .procgen.dataset import render_sequence
    from .procgen.paths import PathError, camera_path
    from .procgen.world import build_world

    lay = _load_layout(layout_file)
    try:
        cams = camera_path(lay, path, frames, width=resolution, height=resolution, seed=seed)
    except PathError as e:
        _fail(f"{layout_file}: {e}")
    seq = render_sequence(lay, build_world(lay, seed), cams)
    write_transforms(out, PosedFrames(cams, seq.rgb, [], seq.depth, seq.label),
                     extra={"layout": lay.to_dict(), "seed": seed, "path": path})
    lay.save(out / "layout.json")
    _print_result({"out": str(out), "frames": frames, "resolution": resolution, "caption": lay.caption}, as_json, quiet,
                  [f"wrote {frames} frames of {lay.caption or 'the layout'} to {out}"], (out,))


@app.command()
def procgen(
    out: Path = typer.Option(..., "--out", help="dataset folder: one transforms.json folder per world"),
    worlds: int = typer.Option(4, min=1, max=100_000),
    frames: int = typer.Option(16, min=1, max=10_000),
    resolution: int = typer.Option(128, min=8, max=4096),
    seed: Seed = 0,
    scene_type: Optional[list[str]] = typer.Option(None, "--scene-type", help="repeatable; default: all"),
    path: Optional[list[str]] = typer.Option(None, "--path", help="repeatable; default: all kinds"),
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Write a procedural dataset: N worlds, each with layout.json and M posed RGB-D + label frames."""
    from .procgen.dataset import write_dataset

    try:
        folders = write_dataset(out, worlds, frames, resolution, seed, scene_type or None, tuple(path) if path else None,
                                log=_log(quiet, as_json))
    except WorldgenError as e:
        _fail(str(e))
    _print_result({"out": str(out), "worlds": len(folders), "folders": [str(f) for f in folders], "frames": frames,
                   "resolution": resolution}, as_json, quiet,
                  [f"wrote {len(folders)} worlds of {frames} frames ({resolution}x{resolution}) to {out}"], (out,))


@app.command()
def generate(
    prompt: Optional[str] = typer.Argument(None, help="a description of the world (optional with --image, --video, "
                                           "--pano, --layout; it then conditions the frame model)"),
    out: Path = typer.Option(..., "--out", help="world folder to write"),
    image: Optional[list[Path]] = typer.Option(None, "--image", help="a photo to build the world around (the frame "
                                               "model predicts its depth and generates the views around it); "
                                               "repeat it for several photos of one place (placed by structure from "
                                               "motion)"),
    video: Optional[Path] = typer.Option(None, "--video", help="a video (mp4, mov, webm ...) or a folder of its frames: "
                                         "posed by structure from motion (or by the folder's transforms.json or COLMAP "
                                         "model), filled in by the frame model, lifted"),
    pano: Optional[Path] = typer.Option(None, "--pano", help="an equirectangular 360-degree panorama (width twice "
                                        "the height): seen as a ring of views from its centre, filled in by the "
                                        "frame model, lifted"),
    layout: Optional[Path] = typer.Option(None, "--layout", help="a box layout .json or a voxel grid .npy (with its .json "
                                          "table) instead of reading one from the prompt"),
    effort: str = typer.Option("draft", help="draft, standard or high: frames, resolution, lift time and flythrough "
                               "size (README, 'Effort')"),
    frames_from: Optional[str] = typer.Option(None, "--frames-from", help="a prompt's or layout's frames: procedural "
                                              "(ray cast; the default) or model (the frame model with spatial memory)"),
    seed: Seed = 0,
    frames: Optional[int] = typer.Option(None, min=2, max=2000, help="frames to make or keep (default: the effort's)"),
    resolution: Optional[int] = typer.Option(None, min=32, max=2048, help="procedural frames' side, else the lift's "
                                             "short side, pixels (default: the effort's)"),
    time_budget: Optional[float] = typer.Option(None, "--time-budget", min=1.0,
                                                help="seconds of splat optimisation (default: the effort's)"),
    lift_steps: Optional[int] = typer.Option(None, "--lift-steps", min=1,
                                             help="lift exactly this many steps instead (the same world on any machine)"),
    generated: Optional[int] = typer.Option(None, "--generated", min=0, max=1000,
                                            help="views the frame model adds to a video, photo set or panorama"),
    max_gaussians: Optional[int] = typer.Option(None, "--max-gaussians", min=1000, max=50_000_000,
                                                help="the splat cap densification stops at (default: the effort's)"),
    flythrough_size: Optional[int] = typer.Option(None, "--flythrough-size", min=16, max=4096,
                                                  help="flythrough.mp4's longer side, pixels (default: the effort's)"),
    overwrite: bool = typer.Option(False, help="replace an existing world folder"),
    engine: Optional[str] = typer.Option(None, help="text -> layout: " + ENGINE_HELP + f" (default {LAYOUT_ENGINE})"),
    no_flythrough: bool = typer.Option(False, "--no-flythrough", help="skip flythrough.mp4"),
    no_complete: bool = typer.Option(False, "--no-complete", help=NO_COMPLETE_HELP),
    frame_model: FrameModelDir = None,
    fov: Optional[float] = typer.Option(None, help="the photo's / video's vertical field of view, degrees "
                                        "(default: EXIF, else 60)"),
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Prompt, layout, photo(s), video or panorama -> a world folder (worldgen.generate, then World.save).
    Options left out take the effort's value; one the input cannot use is refused."""
    from .api import generate as generate_world
    from .world import WorldWriter

    options = dict(effort=effort, frames_from=frames_from, seed=seed, frames=frames, resolution=resolution,
                   time_budget_s=time_budget, lift_steps=lift_steps, generated=generated, max_gaussians=max_gaussians,
                   flythrough_size=flythrough_size, engine=engine,
                   flythrough=False if no_flythrough else None, complete=False if no_complete else None,
                   frame_model=frame_model, fov_y_deg=fov)
    try:
        WorldWriter.check_target(out, overwrite)  # before any work: an existing world is refused at once
        world = generate_world(prompt, images=image or None, video=video, layout=layout, pano=pano,
                               progress=not quiet, **options)
        path = world.save(out, overwrite=overwrite)
    except WorldgenError as e:
        _fail(str(e))
    for w in world.manifest.get("warnings") or []:
        typer.echo(f"warning: {w}", err=True)
    if world.manifest.get("ignored_words") and not quiet:
        typer.echo("ignored words: " + " ".join(world.manifest["ignored_words"][:100]), err=True)
    _print_world(path, as_json, quiet)


def _print_world(path: Path, as_json: bool, quiet: bool) -> None:
    """A saved world's result: world.json's summary (its files, metrics, timings, caption)."""
    from .world import load_world

    m = load_world(path).manifest
    metrics = ", ".join(f"{k} {v}" for k, v in (m.get("metrics") or {}).items())
    timings = ", ".join(f"{k} {v:.1f}s" for k, v in (m.get("timings_s") or {}).items())
    text = [f"wrote {path}: {', '.join(sorted(m['files'].values()))}", *([f"  metrics: {metrics}"] if metrics else []),
            f"  timings: {timings}"]
    _print_result({"world": str(path), "files": m["files"], "metrics": m.get("metrics"), "timings_s": m.get("timings_s"),
                   "caption": m.get("caption")}, as_json, quiet, text, (path,))


@app.command("lift")
def lift_cmd(
    frames_dir: Path = typer.Argument(..., help="a transforms.json folder, or a COLMAP folder (sparse/0 + images)"),
    out: Path = typer.Option(..., "--out", help="world folder to write"),
    time_budget: float = typer.Option(120.0, "--time-budget", min=1.0, help="seconds of optimisation"),
    iterations: int = typer.Option(30_000, min=1),
    seed: Seed = 0,
    size: Optional[int] = typer.Option(None, help="downscale so the longer image side is at most this"),
    preset: str = typer.Option("draft", help="draft (short CPU budgets) or full (3DGS schedule, for GPUs)"),
    overwrite: bool = typer.Option(False),
    skip_missing: bool = typer.Option(False, "--skip-missing", help="leave out frames whose image file is absent"),
    refine_poses: bool = typer.Option(False, "--refine-poses", help="refine the poses with the splats (poses from "
                                      "structure from motion); held-out frames are scored with aligned poses"),
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Lift posed frames (RGB, depth and labels when present) into a world folder."""
    from renderer.lift import LiftConfig

    from .frames import read_frames
    from .pipeline import lift_to_world

    try:
        posed = read_frames(frames_dir, size=size, skip_missing=skip_missing)
        config = LiftConfig.preset(preset, iterations=iterations, time_budget_s=time_budget, seed=seed,
                                   refine_poses=refine_poses)
        path = lift_to_world(posed, out, config=config, overwrite=overwrite, progress=not quiet)
    except WorldgenError as e:
        _fail(str(e))
    _print_world(path, as_json, quiet)


@app.command("export")
def export_cmd(
    world_dir: Path = typer.Argument(..., help="a world folder"),
    fmt: str = typer.Option(..., "--format", help="ply, splat, spz, glb or mp4"),
    out: Path = typer.Option(..., "--out"),
    axes: str = typer.Option("opengl", help="opengl (+Y up; what .spz readers assume), opencv (-Y up) or world (+Z up)"),
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Export a world's splats (ply, splat, spz), mesh (glb) or a flythrough (mp4)."""
    from .export import export_world
    from .world import load_world

    if fmt not in ("ply", "splat", "spz", "glb", "mp4"):
        _fail(f"--format must be ply, splat, spz, glb or mp4, got {fmt!r}")
    if axes not in ("opengl", "opencv", "world"):
        _fail(f"--axes must be opengl, opencv or world, got {axes!r}")
    try:
        path = export_world(load_world(world_dir), fmt, out, axes=axes)
    except WorldgenError as e:
        _fail(str(e))
    _print_result({"out": str(path), "format": fmt, "axes": axes, "bytes": path.stat().st_size}, as_json, quiet,
                  [f"wrote {path}"], (path,))


@app.command("refresh")
def refresh_cmd(
    world_dir: Path = typer.Argument(..., help="a world folder"),
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Rebuild the mesh, collider, flythrough and metrics that an edit, an expansion or a regenerated
    region left stale (world.json's "stale"), from the current splats."""
    from .pipeline import refresh_derived
    from .world import load_world

    try:
        world = load_world(world_dir)
        stale = list(world.manifest.get("stale") or [])
        path = refresh_derived(world) if stale else world.path
    except WorldgenError as e:
        _fail(str(e))
    _print_result({"world": str(path), "rebuilt": stale}, as_json, quiet,
                  [f"{path}: rebuilt {', '.join(stale)}" if stale else f"{path}: nothing was stale"], (path,))


@app.command("batch")
def batch_cmd(
    jobs: Path = typer.Argument(..., help="JOBS.jsonl: one JSON object per line with an \"id\", a prompt and/or one "
                                "input (images, video, layout, pano) and any generation setting (effort, frames_from, "
                                "seed, frames, resolution, time_budget_s, ...); paths relative to the file; blank and "
                                "'#' lines skipped"),
    out: Path = typer.Option(..., "--out", help="folder for OUT/<id>/ worlds and the manifest*.jsonl files"),
    shard: str = typer.Option("0/1", "--shard", help="i/n: run the jobs whose index (file order) % n == i"),
    workers: int = typer.Option(1, min=1, help="local processes (1: in this process), or a local Ray's CPUs"),
    backend: str = typer.Option("local", help="local (a process pool) or ray (Ray tasks; needs worldgen's 'cluster' extra)"),
    address: Optional[str] = typer.Option(None, help="an existing Ray cluster: auto, host:6379 or ray://host:10001"),
    retries: int = typer.Option(1, min=0, help="reruns of a job that crashed (not of one whose inputs are bad)"),
    overwrite: bool = typer.Option(False, help="regenerate jobs whose world already exists"),
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Generate one world per line of a JOBS.jsonl file into OUT/<id>/, resumably (done worlds are skipped).

    Progress lines go to stderr (none with --quiet); the summary (or, with --quiet, the manifest's
    path) to stdout. Exit codes: 0 every job done or skipped; 3 some jobs failed (named in the
    manifest and the summary); 2 a bad JOBS file or argument (nothing is run)."""
    from .batch import run_batch
    from .errors import EXIT_JOBS_FAILED, WorldgenError

    i, _, n = shard.partition("/")
    if not (i.isdecimal() and n.isdecimal() and int(i) < int(n)):
        _fail(f"--shard must be i/n with 0 <= i < n, got {shard!r}")
    try:
        summary = run_batch(jobs, out, shard=(int(i), int(n)), workers=workers, backend=backend, address=address,
                            retries=retries, overwrite=overwrite, progress=None if quiet else _log(quiet, err=True))
    except WorldgenError as e:
        _fail(str(e))
    text = [f"{summary.done} done, {summary.skipped} skipped, {summary.failed} failed of {summary.total} "
            f"in {summary.seconds:.1f}s; manifest {summary.manifest}",
            *(f"  failed {f['id']}: {f['error'].splitlines()[0] if f['error'] else ''}" for f in summary.failures)]
    _print_result({**summary.to_dict(), "out": str(out), "manifest": str(summary.manifest)}, as_json, quiet, text,
                  (summary.manifest,))
    if summary.failed:
        raise typer.Exit(EXIT_JOBS_FAILED)


train_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Train worldgen's models on procedural data.")
app.add_typer(train_app, name="train")


@train_app.command("lm")
def train_lm(
    out: Path = typer.Option(..., "--out", help="checkpoint folder (config.json, model.safetensors, tokenizer.json)"),
    preset: str = typer.Option("tiny", help="tiny, small, base (grok-1 is the full shape)"),
    layouts: int = typer.Option(3000, min=10, help="composed layouts to describe"),
    variants: int = typer.Option(3, min=1, help="whole-layout captions per layout"),
    requests: int = typer.Option(5, min=0, help="user-style prompts (a few objects, colours optional) per layout"),
    reworded: int = typer.Option(0, min=0, help="captions per layout in other word orders (colour or count after "
                                 "the noun, relation first, several sentences, 'no tv')"),
    typos: float = typer.Option(0.0, min=0.0, max=1.0, help="share of the non-plain prompts given typing mistakes"),
    engram_layers: str = typer.Option("", help="comma-separated blocks that get an Engram memory, e.g. 1"),
    mhc_streams: int = typer.Option(0, min=0, help="> 1: that many mHC hyper-connected residual streams"),
    steps: int = typer.Option(2000, min=1),
    batch_size: int = typer.Option(32, min=1),
    lr: float = typer.Option(3e-3),
    time_budget: Optional[float] = typer.Option(None, "--time-budget", help="stop after this many seconds"),
    seed: Seed = 0,
    init: Optional[Path] = typer.Option(None, "--init", help="continue training from this checkpoint (its weights, "
                                        "tokenizer and config; --preset and the model options are not used)"),
    descriptive: int = typer.Option(0, min=0, help="long descriptive prompts per layout (moods, light, materials, "
                                    "things outside the vocabulary that the program must not name)"),
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Train the Grok-style text -> layout model on the procedural engine's (prompt, program) pairs."""
    from rtfm.language.train import TrainConfig

    from .lm import train_layout_lm

    cfg = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, time_budget_s=time_budget, seed=seed)
    try:
        layers = tuple(int(i) for i in engram_layers.split(",") if i.strip())
    except ValueError:
        _fail(f"--engram-layers must be comma-separated block numbers, got {engram_layers!r}")
    options = {k: v for k, v in (("engram_layers", layers), ("mhc_streams", mhc_streams)) if v}
    try:
        if init is not None and options:
            _fail("--init keeps the checkpoint's architecture; drop --engram-layers and --mhc-streams")
        lm = train_layout_lm(out, preset, layouts, variants, requests, cfg, seed=seed, model_options=options, init=init,
                             typos=typos, reworded=reworded, descriptive=descriptive, log=_log(quiet, as_json))
    except WorldgenError as e:
        _fail(str(e))
    _print_training(out, lm.history, as_json, quiet)


@train_app.command("rtfm")
def train_rtfm(
    out: Path = typer.Option(..., "--out", help="checkpoint folder (config.json, diffusion_pytorch_model.safetensors, "
                             "training.json, loss.png, train_state/)"),
    preset: str = typer.Option("tiny", help="tiny (CPU, 64x64), tiny-128 and tiny-256 (CPU, the same network over "
                               "larger patches) or gpu (one H100, 256x256)"),
    init: Optional[Path] = typer.Option(None, "--init", help="start from this checkpoint's weights (a fresh optimiser)"),
    resolution: Optional[int] = typer.Option(None, "--resolution", min=8, max=4096,
                                             help="train at this size: a whole multiple of the checkpoint's, whose "
                                             "patches grow to keep the token count (default: the checkpoint's or "
                                             "the preset's)"),
    steps: int = typer.Option(20000, min=1, help="total steps (a resumed run continues up to this)"),
    batch_size: int = typer.Option(8, min=1),
    lr: float = typer.Option(5e-4),
    warmup: int = typer.Option(200, min=0),
    time_budget: Optional[float] = typer.Option(None, "--time-budget", help="stop after this many seconds"),
    seed: int = typer.Option(0, "--seed", min=0, max=2**32 - 1,
                             help="which procedural worlds the run draws (and its pairs and noise); give each stage "
                             "continued with --init a new one, or it retrains on worlds it has seen"),
    workers: int = typer.Option(1, min=0, help="DataLoader workers rendering procedural walks"),
    checkpoint_every: int = typer.Option(250, min=1),
    p_photo: float = typer.Option(0.1, "--p-photo", min=0.0, max=1.0,
                                  help="fraction of pairs that are photo pairs (RGB only in, depth learned)"),
    depth_weight: float = typer.Option(0.5, "--depth-weight", min=0.0,
                                       help="weight of the depth loss against the RGB loss"),
    depth_loss: str = typer.Option("log_l1", "--depth-loss", help="log_l1 (L1 on log depth: the median depth where "
                                   "a photo leaves it uncertain) or relative (|pred/true - 1|, the AbsRel: nearer "
                                   "than the median where unsure)"),
    text_encoder: Optional[Path] = typer.Option(None, help="language checkpoint whose TextEncoder reads captions "
                                                "(default: assets/lm-tiny)"),
    warp_supersample: Optional[int] = typer.Option(None, "--warp-supersample", min=1, max=8,
                                                   help="sub-pixels per pixel of the memory warp the model reads "
                                                   "(default: the checkpoint's or the preset's)"),
    sim_to_real: bool = typer.Option(False, "--sim-to-real", help="each walk through a drawn camera: exposure, white "
                                     "balance, tone, vignetting, lens blur, sensor noise, JPEG; fields of view 20-90 "
                                     "degrees"),
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Train the RTFM frame model on procedural walks (resumes from OUT/train_state when it exists)."""
    from rtfm.train_frames import FrameTrainConfig

    from .frame_training import DEFAULT_TEXT_ENCODER, train_frame_model

    try:
        cfg = FrameTrainConfig(steps=steps, batch_size=batch_size, lr=lr, warmup=warmup, time_budget_s=time_budget,
                               seed=seed, checkpoint_every=checkpoint_every, p_photo=p_photo,
                               depth_weight=depth_weight, depth_loss=depth_loss)
        history = train_frame_model(out, preset, init, cfg, resolution=resolution, workers=workers,
                                    text_encoder=text_encoder or DEFAULT_TEXT_ENCODER, log=_log(quiet, as_json),
                                    warp_supersample=warp_supersample, sim_to_real=sim_to_real)
    except WorldgenError as e:
        _fail(str(e))
    _print_training(out, history, as_json, quiet)


def _print_training(out: Path, history: list[dict], as_json: bool, quiet: bool) -> None:
    """A training run's result: its checkpoint folder and its logged history (the last entry's step,
    0-based, loss and seconds)."""
    last = history[-1] if history else {}
    _print_result({"out": str(out), "final_step": last.get("step"), "final_loss": last.get("loss"),
                   "seconds": last.get("seconds"), "history": history}, as_json, quiet, [f"wrote {out}"], (out,))


@app.command()
def depth(
    image: Path = typer.Argument(..., help="a photo (any size or mode: PNG, JPEG, 16-bit, palette ...)"),
    out: Path = typer.Option(..., "--out", help="metric depth to write (.npy, float32 metres, 0 = sky)"),
    preview: Optional[Path] = typer.Option(None, help="also write the depth as a grey image (.png), near = bright"),
    fov: Optional[float] = typer.Option(None, help="vertical field of view, degrees (default: EXIF, else 60)"),
    checkpoint: FrameModelDir = None,
    seed: Seed = 0,
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Predict a photo's metric depth with the frame model (the photo case: RGB only, no memory)."""
    import io

    import numpy as np

    from renderer.formats.base import atomic_write

    from .frame_training import DEFAULT_FRAME_MODEL, depth_from_image
    from .io import save_image

    if out.suffix != ".npy":
        _fail(f"--out must end in .npy, got {out}")
    if preview is not None:
        _check_image_out(preview, "--preview")
    try:
        _, d, cam = depth_from_image(image, checkpoint or DEFAULT_FRAME_MODEL, fov_y_deg=fov, seed=seed)
    except WorldgenError as e:
        _fail(str(e))
    buf = io.BytesIO()
    np.save(buf, d.astype(np.float32))
    try:
        atomic_write(out, [buf.getvalue()])
        if preview is not None:
            valid = d > 0
            inv = np.where(valid, 1.0 / np.maximum(d, 1e-3), 0.0)
            top = float(inv[valid].max()) if valid.any() else 1.0
            save_image(np.repeat((inv / top)[..., None], 3, -1), preview)
    except WorldgenError as e:
        _fail(str(e))
    near, far = float(d[d > 0].min()) if (d > 0).any() else 0.0, float(d.max())
    _print_result({"out": str(out), "preview": None if preview is None else str(preview), "width": cam.width,
                   "height": cam.height, "depth_min_m": round(near, 4), "depth_max_m": round(far, 4)}, as_json, quiet,
                  [f"wrote {out}: {cam.width}x{cam.height}, depth {near:.2f}-{far:.2f} m"], (out, preview))


eval_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Evaluate worldgen's models on held-out worlds.")
app.add_typer(eval_app, name="eval")


@eval_app.command("rtfm")
def eval_rtfm(
    checkpoint: FrameModelDir = None,
    worlds: int = typer.Option(24, min=1, help="held-out worlds (seeds never used in training), one 16-frame walk each"),
    resolution: EvalResolution = 64,
    per_walk: int = typer.Option(4, min=1, help="targets per walk"),
    steps: int = typer.Option(4, min=1, max=100, help="sampling steps"),
    guidance: float = typer.Option(1.0, help="classifier-free guidance scale on the condition (1 = off)"),
    precision: str = typer.Option("auto", help="the network's arithmetic: auto (bf16 on CUDA, fp32 on a CPU), "
                                  "fp32 or bf16"),
    reference: Optional[Path] = typer.Option(None, "--reference", help="a smaller frame model sampled at its own "
                                             "resolution and upsampled on the same targets (baseline_upsampled_psnr_db; "
                                             "default: assets/rtfm-tiny when --resolution is larger than its 64)"),
    seed: Seed = 0,
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Novel views of held-out worlds from K = 0, 1, 2, 4 memory frames, against warping alone (and a smaller
    model upsampled); depth from one RGB frame."""

    from .frame_training import DEFAULT_FRAME_MODEL, evaluate_frame_model

    try:
        result = evaluate_frame_model(checkpoint or DEFAULT_FRAME_MODEL, worlds, resolution, per_walk, steps, guidance, seed,
                                      precision=precision, reference=reference)
    except WorldgenError as e:
        _fail(str(e))
    _print_result(result, as_json, quiet)


@eval_app.command("consistency")
def eval_consistency(
    checkpoint: FrameModelDir = None,
    worlds: int = typer.Option(4, min=1, help="held-out worlds (seeds never used in training)"),
    drift_worlds: int = typer.Option(2, min=0, help="of these, how many also walk the long drift path"),
    resolution: EvalResolution = 64,
    loop_frames: int = typer.Option(16, min=3, help="frames of the A -> B -> A loop"),
    rollout_frames: int = typer.Option(32, min=2, help="frames of the walk from one ground-truth frame"),
    drift_frames: int = typer.Option(200, min=2, help="frames of the long walk for the drift curve"),
    image_frames: int = typer.Option(16, min=1, help="frames generated around the photo for image -> world"),
    lift_budget: float = typer.Option(15.0, "--lift-budget", min=1.0, help="seconds of lifting per image -> world"),
    snap: float = typer.Option(0.1, min=0.0, help="snap-to-memory colour tolerance (0 = off)"),
    voxel_memory: bool = typer.Option(False, "--voxel-memory", help="also walk with a hashed voxel memory beside "
                                      "the frames (keys ending _voxel_memory)"),
    seed: Seed = 0,
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Revisits, rollouts, reprojection, drift and image -> world on held-out worlds, with memory and without."""

    from .consistency import evaluate_consistency
    from .frame_training import DEFAULT_FRAME_MODEL

    if drift_worlds > worlds:
        _fail(f"--drift-worlds ({drift_worlds}) cannot exceed --worlds ({worlds})")
    try:
        result = evaluate_consistency(checkpoint or DEFAULT_FRAME_MODEL, worlds, drift_worlds, resolution, loop_frames,
                                      rollout_frames, drift_frames, image_frames, lift_budget_s=lift_budget, seed=seed,
                                      snap=snap or None, log=_log(quiet, as_json), voxel_memory=voxel_memory)
    except WorldgenError as e:
        _fail(str(e))
    _print_result(result, as_json, quiet)


@app.command("bench")
def bench(
    names: Optional[list[str]] = typer.Argument(None, help="bench/ scripts to run (default: all of them)"),
    out: Path = typer.Option(Path("BENCHMARKS.md"), "--out", help="the page to write (plots go to bench/plots/)"),
    timeout: float = typer.Option(3600.0, min=1.0, help="seconds allowed per script"),
    args: str = typer.Option("", "--args", help="arguments given to each script run, as one string "
                             "(e.g. --args '--frames 100')"),
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Run bench/ scripts (their latest results are kept in bench/results/) and rewrite BENCHMARKS.md from
    every stored result: figures, plots, dates and machines."""
    import shlex

    from .benchmarks import run_benchmarks

    try:
        script_args = shlex.split(args)
    except ValueError as e:
        _fail(f"--args {e}")
    try:
        page = run_benchmarks(names or None, out, timeout, log=_log(quiet, as_json), args=script_args)
    except WorldgenError as e:
        _fail(str(e))
    _print_result({"out": str(page)}, as_json, quiet, [f"wrote {page}"], (page,))


def _plugin_commands() -> None:
    """Commands that packages above worldgen add (the editor's `worldgen app`), found through the
    "worldgen.commands" entry points, so worldgen never imports them by name."""
    from importlib.metadata import entry_points

    registered = {c.name for c in app.registered_commands}
    for ep in entry_points(group="worldgen.commands"):
        if ep.name not in registered:  # once, however often this runs (the tests load them too)
            ep.load()(app)


def main() -> None:
    _plugin_commands()
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
