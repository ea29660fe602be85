"""worldgen's error types, re-exported from the lowest layer (renderer/errors.py).

Exit codes of the CLI: 0 success; 1 a bug (a traceback is printed); 2 bad input (a WorldgenError:
its message names the file or argument); 3 a batch that finished with failed jobs; 130 interrupted.
"""

from renderer.errors import ArgumentError, InputFileError, LimitError, OutputError, WorldgenError

EXIT_BAD_INPUT = 2
EXIT_JOBS_FAILED = 3

__all__ = ["ArgumentError", "InputFileError", "LimitError", "OutputError", "WorldgenError", "EXIT_BAD_INPUT", "EXIT_JOBS_FAILED"]
