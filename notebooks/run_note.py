"""Run the Python paragraphs of a Zeppelin note outside Zeppelin, in order, in one namespace.

    .venv/bin/python notebooks/run_note.py notebooks/03-threshold-tuning-backtest.zpln \
        --set ARCHIVE_PATH=notebooks/sample/raw --set LABELS_PATH=notebooks/sample/labels.json \
        --set PARTITIONS=[]

Meant for the backtest note, whose detectors need Python 3.10+ (Studio has 3.8). ``--set KEY=VALUE``
values land in the note's settings through ``OVERRIDES``; a value that parses as JSON is used as
such (``[]``, ``0``), anything else as a string. SQL and Markdown paragraphs are skipped. Without
Zeppelin, ``z`` is undefined and the note's ``show`` prints tables.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

PYTHON_INTERPRETERS = ("%flink.pyflink", "%flink.ipyflink")


def interpreter_of(text: str) -> str:
    """``%flink.ssql`` of ``%flink.ssql(type=update)\\nSELECT ...``."""
    first = text.lstrip().split("\n", 1)[0].strip()
    return first.split("(", 1)[0]


def body_of(text: str) -> str:
    """The paragraph text without its interpreter line."""
    return text.lstrip().split("\n", 1)[1] if "\n" in text.lstrip() else ""


def python_paragraphs(note: dict[str, Any]) -> list[tuple[str, str]]:
    """(title, source) of every Python paragraph, in note order."""
    return [
        (p.get("title", ""), body_of(p["text"]))
        for p in note["paragraphs"]
        if interpreter_of(p.get("text", "")) in PYTHON_INTERPRETERS
    ]


def run_note(path: str | Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Execute the note's Python paragraphs; return the namespace they ran in."""
    note = json.loads(Path(path).read_text())
    namespace: dict[str, Any] = {"__name__": "__zeppelin_note__", "OVERRIDES": dict(overrides or {})}
    for i, (title, source) in enumerate(python_paragraphs(note), 1):
        print(f"--- paragraph {i}: {title}", flush=True)
        exec(compile(source, f"{Path(path).name}[{title}]", "exec"), namespace)  # noqa: S102 - our own note
    return namespace


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("note", type=Path)
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    overrides = {}
    for pair in args.settings:
        key, sep, value = pair.partition("=")
        if not sep:
            parser.error(f"--set takes KEY=VALUE, got {pair!r}")
        overrides[key] = _value(value)
    run_note(args.note, overrides)


if __name__ == "__main__":
    main()
