"""The one base of worldgen's own errors (shared/DESIGN.md): every layer may raise and catch it.

A `WorldgenError` is a `ValueError` whose message names the input (file, argument) and the
problem; anything else that escapes is a bug and keeps its traceback."""


class WorldgenError(ValueError):
    """Bad input to worldgen: the message names the file or argument and what is wrong with it."""
