"""The lines the differential test runs: the corpus files in tests/corpus/ and the lines policy
table tests register.

Registering lines from a table test
-----------------------------------
A module `tests/test_policy_*.py` declares a module-level list named `DIFFERENTIAL`. Each entry
is a command line, or a table row (tuple or list) whose first item is the line, so an existing
table can be registered as it is (`DIFFERENTIAL = BLOCKED`). The differential test imports
every such module and runs each registered line under the real shells; the table test itself
keeps asserting what the policy decides about it. Lines the parser refuses as unparseable are
run too, but nothing runs in mgexec for them, so they are only counted.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import yaml

CORPUS_DIR = Path(__file__).resolve().parents[1] / "corpus"
TESTS_DIR = Path(__file__).resolve().parents[1]
REGISTRY_NAME = "DIFFERENTIAL"
# The differential test's own module registers nothing and must not import itself.
_SELF = "test_policy_differential"


@dataclass(frozen=True)
class CorpusLine:
    """One line to run, where it came from (`ordinary.txt:12`), its group and, if hostile, class."""

    line: str
    source: str
    group: str
    cls: str = ""


def ordinary_lines() -> list[CorpusLine]:
    """ordinary.txt (one line per entry) and ordinary.yaml (a list of multi-line entries)."""
    found = []
    text_file = CORPUS_DIR / "ordinary.txt"
    for number, line in enumerate(text_file.read_text().splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            found.append(CorpusLine(line, f"ordinary.txt:{number}", "ordinary"))
    for index, entry in enumerate(_load_yaml("ordinary.yaml")):
        found.append(CorpusLine(_entry(entry, "ordinary.yaml"), f"ordinary.yaml[{index}]", "ordinary"))
    return found


def hostile_lines() -> list[CorpusLine]:
    """hostile.yaml: a mapping of class name to the lines of that class."""
    found = []
    for cls, entries in _load_yaml("hostile.yaml").items():
        for index, entry in enumerate(entries):
            line = _entry(entry, "hostile.yaml")
            found.append(CorpusLine(line, f"hostile.yaml:{cls}[{index}]", "hostile", cls))
    return found


def registered_lines() -> list[CorpusLine]:
    """Every line a `tests/test_policy_*.py` module lists in `DIFFERENTIAL` (see module docstring)."""
    found: list[CorpusLine] = []
    seen: set[str] = set()
    for path in sorted(TESTS_DIR.glob("test_policy_*.py")):
        if path.stem == _SELF:
            continue
        module = importlib.import_module(path.stem)
        for index, entry in enumerate(getattr(module, REGISTRY_NAME, ())):
            line = entry[0] if isinstance(entry, (tuple, list)) else entry
            if not isinstance(line, str):
                raise TypeError(f"{path.name}: {REGISTRY_NAME}[{index}] is {entry!r}; entries must be "
                                "command lines or table rows whose first item is the line")
            if line not in seen:
                seen.add(line)
                found.append(CorpusLine(line, f"{path.stem}.{REGISTRY_NAME}[{index}]", "tables"))
    return found


def all_lines() -> list[CorpusLine]:
    return ordinary_lines() + hostile_lines() + registered_lines()


def _load_yaml(name: str):
    return yaml.safe_load((CORPUS_DIR / name).read_text())


def _entry(entry: object, name: str) -> str:
    if not isinstance(entry, str):
        raise TypeError(f"{name}: every entry must be a string (a command line), not {entry!r}")
    # Block scalars end with a newline the author did not mean as part of the line.
    return entry[:-1] if entry.endswith("\n") else entry
