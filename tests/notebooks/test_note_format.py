"""Every note is a Zeppelin 0.10 note Studio can import, and its Python is Python 3.8 (Studio's)."""

from __future__ import annotations

import ast
import subprocess

import pytest
from notebook_support import NOTE_PATHS, PYTHON38, load, paragraphs, run_note

KNOWN_INTERPRETERS = {"%flink.ssql", "%flink.pyflink", "%flink.ipyflink", "%md"}
PYTHON = ("%flink.pyflink", "%flink.ipyflink")

# Python 3.9+ APIs that ast.parse(feature_version=(3, 8)) cannot see (they are calls, not grammar).
NEWER_METHODS = {"removeprefix", "removesuffix"}  # str/bytes, 3.9


def test_there_are_the_three_notes():
    names = {p.stem for p in NOTE_PATHS}
    assert {"01-live-stream-exploration", "02-anomaly-review", "03-threshold-tuning-backtest"} <= names


@pytest.mark.parametrize("path", NOTE_PATHS, ids=lambda p: p.stem)
def test_note_parses_with_zeppelin_structure(path):
    note = load(path)
    assert isinstance(note["name"], str) and note["name"]
    assert isinstance(note["config"], dict) and isinstance(note["info"], dict)
    assert note["paragraphs"], "a note without paragraphs"
    ids = [p["id"] for p in note["paragraphs"]]
    assert len(ids) == len(set(ids)), "paragraph ids must be unique"
    for p in note["paragraphs"]:
        assert isinstance(p["title"], str)
        assert isinstance(p["text"], str) and p["text"].strip()
        assert isinstance(p["config"], dict) and p["config"]["editorMode"].startswith("ace/mode/")
        graph = p["config"].get("results", {}).get("0", {}).get("graph")
        if graph:
            assert graph["mode"] in ("table", "lineChart", "multiBarChart", "stackedAreaChart", "pieChart",
                                     "scatterChart")
            assert graph["keys"] and graph["values"], f"chart without axes in {p['title']!r}"


@pytest.mark.parametrize("path", NOTE_PATHS, ids=lambda p: p.stem)
def test_every_paragraph_names_a_known_interpreter(path):
    for p in load(path)["paragraphs"]:
        assert run_note.interpreter_of(p["text"]) in KNOWN_INTERPRETERS, p["text"][:60]


PY_PARAGRAPHS = paragraphs(PYTHON)


def test_there_are_python_paragraphs():
    assert len(PY_PARAGRAPHS) >= 5


@pytest.mark.parametrize("paragraph", [p for _, p in PY_PARAGRAPHS], ids=[i for i, _ in PY_PARAGRAPHS])
def test_python_paragraph_uses_python_38_grammar_and_apis(paragraph):
    source = run_note.body_of(paragraph["text"])
    tree = ast.parse(source, feature_version=(3, 8))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            assert node.attr not in NEWER_METHODS, f"{node.attr} is Python 3.9+"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "zip":
            assert not any(k.arg == "strict" for k in node.keywords), "zip(strict=) is Python 3.10+"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance":
            assert not any(isinstance(a, ast.BinOp) for a in node.args), "isinstance(x, A | B) is 3.10+"


@pytest.mark.skipif(PYTHON38 is None, reason="no python3.8 interpreter on this machine")
def test_python_paragraphs_compile_on_python38(tmp_path):
    files = []
    for test_id, p in PY_PARAGRAPHS:
        f = tmp_path / (test_id.replace("#", "_") + ".py")
        f.write_text(run_note.body_of(p["text"]))
        files.append(str(f))
    done = subprocess.run([PYTHON38, "-m", "py_compile", *files], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
