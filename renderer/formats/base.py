from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from ..errors import InputFileError, OutputError, WorldgenError


class FormatError(InputFileError):
    """A splat file that cannot be read or written; the message names the file and the problem."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path, self.problem = str(path), problem
        super().__init__(f"{path}: {problem}")


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def output_error(path: str | os.PathLike, e: OSError) -> OutputError:
    """The OutputError for an OSError met while writing `path`: a full disk, no permission ..."""
    why = os.strerror(e.errno) if e.errno else str(e)
    return OutputError(f"{path}: cannot write: {why}; nothing was left half-written")


@contextlib.contextmanager
def writing(path: str | os.PathLike):
    """Turn an OSError raised while writing `path` into an OutputError naming it (worldgen's own
    errors pass through); the caller's clean-up has run by then."""
    try:
        yield
    except WorldgenError:
        raise
    except OSError as e:
        raise output_error(path, e) from e


def atomic_write(path: str | os.PathLike, chunks) -> None:
    """Write byte chunks to a temporary file beside `path`, then rename it into place. A failure
    (a full disk) leaves `path` as it was and raises OutputError."""
    path = Path(path)
    with writing(path):
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


def read_npy(path: str | os.PathLike, error: type[Exception], check=None):
    """A .npy array from a user's file: a regular file, its header parsed and `check(shape, dtype)`
    (returning a problem or None) applied before anything is allocated, object arrays refused, and
    the data read from the same open file after its size was checked against the header."""
    import math

    import numpy as np

    with open_regular(path, error) as f:
        try:
            shape, dtype = read_npy_header(f)
        except Exception as e:  # noqa: BLE001 - numpy's header parser lets SyntaxError, TokenError, ... through
            raise error(f"{path}: not a .npy array: {type(e).__name__}: {e}"[:300]) from None
        if dtype.hasobject:
            raise error(f"{path}: object arrays are refused (they would need pickle)")
        problem = check(shape, dtype) if check is not None else None
        if problem:
            raise error(f"{path}: {problem}")
        need, have = math.prod(shape) * dtype.itemsize, os.fstat(f.fileno()).st_size - f.tell()
        if need > have:
            raise error(f"{path}: truncated: its header promises {need} bytes of data, the file holds {have}")
        f.seek(0)
        try:
            return np.lib.format.read_array(f, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise error(f"{path}: cannot read the array: {e}") from None


MAX_JSON_DEPTH = 64  # nesting levels: no file of ours needs more; Python's parser recurses per level
MAX_JSON_NUMBER_CHARS = 40  # digits in one JSON number: more is not a measurement, it is an attack


def _raise(error: type[Exception], path, problem: str):
    """An `error` for `problem` in `path`: FormatError takes them apart, other types one message."""
    return error(path, problem) if issubclass(error, FormatError) else error(f"{path}: {problem}")


def path_kind(path: str | os.PathLike, error: type[Exception]) -> str:
    """"file", "dir", "missing" or "other" (a FIFO, a device ...) for a path a user gave. A name
    the OS cannot even look up (longer than it allows, a NUL in it) raises `error`, not OSError."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "missing"
    except (OSError, ValueError) as e:
        raise _raise(error, str(path)[:200], f"cannot look up: {getattr(e, 'strerror', None) or e}") from None
    return "file" if stat.S_ISREG(mode) else "dir" if stat.S_ISDIR(mode) else "other"


def open_regular(path: str | os.PathLike, error: type[Exception]):
    """Open a user's file for reading (binary), refusing anything but a regular file.

    The descriptor is opened non-blocking and checked with fstat, so a FIFO cannot hang the open
    or the read, and a symlink to /dev/zero or a device is refused rather than trusted for its
    size; the check is on what was opened, not on a name that could be swapped after it."""
    import fcntl
    import stat

    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise _raise(error, path, f"cannot read: {e.strerror or e}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = ("a directory" if stat.S_ISDIR(mode) else "a named pipe" if stat.S_ISFIFO(mode) else
                    "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode)
                    else "not a regular file")
            raise _raise(error, path, f"{kind}, not a regular file")
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: str | os.PathLike, error: type[Exception], max_bytes: int) -> bytes:
    """The whole of a regular file, counting while reading: more than `max_bytes` raises `error`."""
    with open_regular(path, error) as f:
        try:
            data = f.read(max_bytes + 1)
        except OSError as e:
            raise error(f"{path}: cannot read: {e.strerror or e}") from None
    if len(data) > max_bytes:
        raise error(f"{path}: over the {_size(max_bytes)} limit for this file")
    return data


def _size(n: int) -> str:
    return f"{n >> 20} MB" if n >= 1 << 20 else f"{n >> 10} KB" if n >= 1 << 10 else f"{n} bytes"


def parse_json(text: str, where: str, error: type[Exception], max_depth: int = MAX_JSON_DEPTH):
    """json.loads for untrusted text: nesting deeper than `max_depth`, numbers longer than
    MAX_JSON_NUMBER_CHARS, and NaN/Infinity (not JSON) raise `error` naming `where`."""
    import json
    import re

    import numpy as np

    depth = _json_depth(re.sub(r'"(?:[^"\\]|\\.)*"', '""', text))
    if depth > max_depth:
        raise error(f"{where}: JSON nested {depth} levels deep; at most {max_depth}")

    def number(kind):
        def parse(s: str):
            if len(s) > MAX_JSON_NUMBER_CHARS:
                raise ValueError(f"a number of {len(s)} characters")
            value = kind(s)
            if isinstance(value, float) and not np.isfinite(value):
                raise ValueError(f"{s} overflows")
            return value
        return parse

    def constant(name: str):
        raise ValueError(f"{name} is not a JSON value")

    try:
        return json.loads(text, parse_int=number(int), parse_float=number(float), parse_constant=constant)
    except (ValueError, RecursionError) as e:  # JSONDecodeError is a ValueError
        raise error(f"{where}: not valid JSON: {e}"[:500]) from None


def _json_depth(text: str) -> int:
    """The deepest nesting of [ and { in JSON text whose strings were blanked."""
    import numpy as np

    b = np.frombuffer(text.encode("utf-8", "replace"), dtype=np.uint8)
    step = (b == ord("[")).astype(np.int32) + (b == ord("{")) - (b == ord("]")) - (b == ord("}"))
    return int(np.cumsum(step).max(initial=0))


def read_json(path: str | os.PathLike, error: type[Exception], max_bytes: int = 64 << 20,
              max_depth: int = MAX_JSON_DEPTH):
    """Parse a JSON file a user handed us (a regular file, at most `max_bytes`, see `parse_json`);
    any problem raises `error` naming the file."""
    data = read_bytes(path, error, max_bytes)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(f"{path}: not valid JSON: not UTF-8 text ({e.reason} at byte {e.start})") from None
    return parse_json(text, str(path), error, max_depth)
