"""The `worldgen` command line."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, help="worldgen: explorable 3D worlds as Gaussian splats.")


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _load(path: Path):
    from renderer import FormatError, load_scene

    if not path.exists():
        _fail(f"{path}: no such file")
    try:
        return load_scene(path)
    except FormatError as e:
        _fail(str(e))


def _background(text: str) -> tuple[float, float, float]:
    try:
        from PIL import ImageColor

        r, g, b = ImageColor.getrgb(text)[:3]
    except ValueError:
        _fail(f"--background {text!r} is not a colour (use a name or #rrggbb)")
    return r / 255, g / 255, b / 255


@app.command()
def info(scene: Path = typer.Argument(..., help="a .ply or .splat file"),
         as_json: bool = typer.Option(False, "--json", help="print one JSON object")) -> None:
    """Print a splat file's size, SH degree, bounds and labels."""
    s = _load(scene)
    summary = {"file": str(scene), "gaussians": len(s), "sh_degree": s.sh_degree, "bounds": None, "labels": []}
    if len(s):
        lo, hi = s.bounds()
        summary["bounds"] = [lo.tolist(), hi.tolist()]
        summary["labels"] = sorted(set(s.labels.unique().tolist()) - {-1})
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        for key, value in summary.items():
            typer.echo(f"{key:>10}: {value}")


@app.command()
def render(
    scene: Path = typer.Argument(..., help="a .ply or .splat file"),
    out: Path = typer.Option(..., "--out", help="image to write (.png or .jpg)"),
    width: int = typer.Option(512, min=1, max=8192),
    height: int = typer.Option(512, min=1, max=8192),
    azimuth: float = typer.Option(30.0, help="degrees, from +X towards +Y"),
    elevation: float = typer.Option(25.0, help="degrees above the XY plane"),
    distance: Optional[float] = typer.Option(None, help="metres from the scene centre (default: frames the scene)"),
    fov: float = typer.Option(60.0, help="vertical field of view, degrees"),
    background: str = typer.Option("black", help="colour name or #rrggbb"),
    backend: str = typer.Option("auto", help="auto, torch, gsplat or dense"),
) -> None:
    """Render a splat file from an orbit camera around the scene's centre."""
    from renderer import CameraError, render as render_scene
    from renderer.view import frame_orbit_camera

    from .io import IMAGE_FORMATS, save_image

    s = _load(scene)
    if len(s) == 0:
        _fail(f"{scene}: holds no Gaussians")
    if distance is not None and not (distance > 0 and math.isfinite(distance)):
        _fail(f"--distance must be a positive number of metres, got {distance}")
    bg = _background(background)
    if out.suffix.lower() not in IMAGE_FORMATS:
        _fail(f"{out}: unsupported image extension {out.suffix!r} (use .png or .jpg)")
    try:
        cam = frame_orbit_camera(s, azimuth, elevation, width, height, fov, distance)
        img = render_scene(s, cam, backend=backend, background=bg).rgb[0]
    except (CameraError, ValueError) as e:
        _fail(str(e))
    save_image(img, out)
    typer.echo(f"wrote {out} ({width}x{height}, {len(s)} Gaussians)")


@app.command()
def demo(
    out: Path = typer.Option(Path("demo.png"), "--out", help="image to write"),
    ply: Optional[Path] = typer.Option(None, help="also save the scene here (default: OUT with .ply)"),
    gaussians: int = typer.Option(100_000, min=16, max=5_000_000),
    seed: int = typer.Option(0),
    width: int = typer.Option(512, min=1, max=8192),
    height: int = typer.Option(512, min=1, max=8192),
) -> None:
    """Build the seeded demo splat scene, save it as .ply and render it to an image."""
    from renderer import render as render_scene, save_scene

    from renderer.view import frame_orbit_camera

    from .demo import demo_scene
    from .io import save_image

    s = demo_scene(gaussians, seed)
    ply = ply or out.with_suffix(".ply")
    save_scene(s, ply)
    cam = frame_orbit_camera(s, 30.0, 25.0, width, height, 60.0)
    save_image(render_scene(s, cam, background=(0.08, 0.09, 0.11)).rgb[0], out)
    typer.echo(f"wrote {ply} ({len(s)} Gaussians) and {out} ({width}x{height})")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
