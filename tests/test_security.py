"""Static guards on the package source: no pickle, no shell with user strings."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("renderer", "worldgen", "rtfm", "app")
FORBIDDEN = {
    r"\bimport pickle\b|\bpickle\.load": "pickle runs code from the file it reads",
    r"torch\.load\((?![^)]*weights_only\s*=\s*True)": "torch.load without weights_only=True unpickles",
    r"allow_pickle\s*=\s*True": "numpy object arrays need pickle",
    r"shell\s*=\s*True|os\.system\(|os\.popen\(": "a shell would read user strings as commands",
    r"(?<![.\w])(eval|exec)\(": "eval/exec of data",
}


def test_no_pickle_shell_or_eval_in_the_packages():
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("#", 1)[0]
                for pattern, why in FORBIDDEN.items():
                    if re.search(pattern, code):
                        found.append(f"{path.relative_to(ROOT)}:{number}: {why}: {line.strip()}")
    assert not found, "\n".join(found)
