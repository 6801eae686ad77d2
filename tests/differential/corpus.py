"""The lines the differential test runs: the corpus files in tests/corpus/ and the lines policy
table tests register.

Lines from the policy table tests
---------------------------------
Every module `tests/test_policy_*.py` is imported and its tables are read:
- a module that declares a module-level `DIFFERENTIAL` list registers exactly its entries: each a
  command line, or a table row whose first string item is the line (`DIFFERENTIAL = BLOCKED`
  works as it is; `DIFFERENTIAL = []` registers nothing);
- a module without one registers the lines of all its public module-level tables: UPPER_CASE
  lists or tuples (not `_PRIVATE` ones) whose entries are lines or rows holding one (the first
  string item of each row).
The table test keeps asserting what the policy decides; the differential test runs the same lines
under the real shells (except lines the parser itself refuses: nothing of them runs).
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
    """The lines of the policy table tests (see the module docstring), each line once."""
    found: list[CorpusLine] = []
    seen: set[str] = set()
    for path in sorted(TESTS_DIR.glob("test_policy_*.py")):
        if path.stem == _SELF:
            continue
        for source, line in _module_lines(importlib.import_module(path.stem)):
            if line not in seen:
                seen.add(line)
                found.append(CorpusLine(line, source, "tables"))
    return found


def _module_lines(module) -> list[tuple[str, str]]:
    name = module.__name__
    if hasattr(module, REGISTRY_NAME):
        found = []
        for index, entry in enumerate(getattr(module, REGISTRY_NAME)):
            line = _line_of(entry)
            if line is None:
                raise TypeError(f"{name}.{REGISTRY_NAME}[{index}] is {entry!r}; entries must be "
                                "command lines or table rows holding the line")
            found.append((f"{name}.{REGISTRY_NAME}[{index}]", line))
        return found
    tables = {table: rows for table, rows in vars(module).items()
              if table.isupper() and not table.startswith("_") and isinstance(rows, (list, tuple))}
    return [(f"{name}.{table}[{index}]", line) for table, rows in tables.items()
            for index, row in enumerate(rows) if (line := _line_of(row)) is not None]


def _line_of(entry: object) -> str | None:
    if isinstance(entry, str):
        return entry
    if isinstance(entry, (tuple, list)):
        return next((item for item in entry if isinstance(item, str)), None)
    return None


def all_lines() -> list[CorpusLine]:
    return ordinary_lines() + hostile_lines() + registered_lines()


def _load_yaml(name: str):
    return yaml.safe_load((CORPUS_DIR / name).read_text())


def _entry(entry: object, name: str) -> str:
    if not isinstance(entry, str):
        raise TypeError(f"{name}: every entry must be a string (a command line), not {entry!r}")
    # Block scalars end with a newline the author did not mean as part of the line.
    return entry[:-1] if entry.endswith("\n") else entry
