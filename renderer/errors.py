"""worldgen's own errors (shared/DESIGN.md): one base that every layer may raise and catch.

A `WorldgenError` is a `ValueError` whose message names the input (file, argument) and the
problem; the CLI prints it and exits with code 2. Anything else that escapes is a bug and keeps
its traceback. Subclasses say what kind of input was bad; modules derive their own from these
(`FormatError(InputFileError)`, `CheckpointError`, `LayoutError`, `CameraError`, ...)."""


class WorldgenError(ValueError):
    """Bad input to worldgen: the message names the file or argument and what is wrong with it."""


class InputFileError(WorldgenError):
    """A file that cannot be read as what it should be (missing, malformed, hostile)."""


class ArgumentError(WorldgenError):
    """An argument value outside what the function accepts (an unknown name, a bad number)."""


class OutputError(WorldgenError):
    """An output that cannot be written (a full disk, no permission, a read-only folder); nothing
    half-written is left behind."""


class LimitError(WorldgenError):
    """An input over one of worldgen's resource limits (pixels, frames, bytes, Gaussians)."""
