from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import InputFileError


class FormatError(InputFileError):
    """A splat file that cannot be read or written; the message names the file and the problem."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path, self.problem = str(path), problem
        super().__init__(f"{path}: {problem}")


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, chunks) -> None:
    """Write byte chunks to a temporary file beside `path`, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; give the file the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_npy_header(f) -> tuple[tuple[int, ...], object]:
    """(shape, dtype) of an open .npy file, read without loading (or allocating) its data."""
    import numpy as np

    version = np.lib.format.read_magic(f)
    read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}.get(version)
    if read is None:
        raise ValueError(f"unsupported .npy format version {version}")
    shape, _, dtype = read(f)
    return shape, dtype


def read_json(path: str | os.PathLike, error: type[Exception], max_bytes: int = 64 << 20):
    """Parse a JSON file a user handed us; any problem raises `error` naming the file."""
    import json

    path = Path(path)
    try:
        if path.stat().st_size > max_bytes:
            raise error(f"{path}: over {max_bytes >> 20} MB")
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise error(f"{path}: cannot read: {e.strerror or e}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise error(f"{path}: not valid JSON: {e}") from None
