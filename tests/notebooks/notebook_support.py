"""Shared helpers for the notebook tests: the notes, their paragraphs, and notebooks/run_note.py.

(No conftest.py here: tests/infra imports its own ``conftest`` by name, and a second conftest module
would shadow it when both folders are collected together.)
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from localdev.interpreters import find_python

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
SAMPLE = NOTEBOOKS / "sample"
NOTE_PATHS = sorted(NOTEBOOKS.glob("*.zpln"))
BACKTEST_NOTE = NOTEBOOKS / "03-threshold-tuning-backtest.zpln"


def _load_run_note():
    spec = importlib.util.spec_from_file_location("run_note", NOTEBOOKS / "run_note.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run_note = _load_run_note()


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def paragraphs(interpreter: str | tuple[str, ...]) -> list[tuple[str, dict[str, Any]]]:
    """(test id, paragraph) of every paragraph of every note run by ``interpreter``."""
    wanted = (interpreter,) if isinstance(interpreter, str) else interpreter
    out = []
    for path in NOTE_PATHS:
        for i, p in enumerate(load(path)["paragraphs"]):
            if run_note.interpreter_of(p["text"]) in wanted:
                out.append((f"{path.stem}#{i}", p))
    return out


def all_notes() -> dict[str, dict[str, Any]]:
    return {p.name: load(p) for p in NOTE_PATHS}


PYTHON38 = find_python("3.8")
