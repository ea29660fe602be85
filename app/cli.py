"""`worldgen app`: registered into worldgen's CLI through the "worldgen.commands" entry point
(pyproject.toml), so worldgen itself never imports the editor."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(cli: typer.Typer) -> None:
    @cli.command("app")
    def editor_app(
        host: str = typer.Option("127.0.0.1", help="address to listen on (127.0.0.1: this machine only)"),
        port: int = typer.Option(7860, min=1, max=65535),
        data: Optional[Path] = typer.Option(None, help="folder for the users' worlds (default: a new temporary folder)"),
        frame_model: Optional[Path] = typer.Option(None, help="frame model checkpoint folder (default assets/rtfm-tiny)"),
        auth: Optional[str] = typer.Option(None, envvar="WORLDGEN_APP_AUTH", help="USER:PASSWORD to require a login"),
    ) -> None:
        """The web editor (gradio): create, explore, edit and export worlds in a browser."""
        from worldgen.errors import WorldgenError

        from .server import serve

        try:
            serve(host, port, None if data is None else str(data), None if frame_model is None else str(frame_model), auth)
        except WorldgenError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2)
