"""`python -m app [--host 127.0.0.1] [--port 7860] [--data DIR] [--auth USER:PASSWORD]`: the editor."""

import argparse
import os

from .server import serve


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m app", description="The worldgen web editor.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--data", default=None, help="folder for the users' worlds (default: a new temporary folder)")
    p.add_argument("--frame-model", default=None, help="frame model checkpoint folder (default assets/rtfm-tiny)")
    p.add_argument("--auth", default=os.environ.get("WORLDGEN_APP_AUTH"), help="USER:PASSWORD to require a login")
    a = p.parse_args()
    serve(a.host, a.port, a.data, a.frame_model, a.auth)


if __name__ == "__main__":
    main()
