"""Lower layers never import higher ones (docs/architecture.md): the import graph read from the
source, and what a fresh interpreter really loads for one import."""

from __future__ import annotations

import ast
import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "numpy_seq2seq"
FUNCTIONAL = sorted(p.stem for p in (PACKAGE / "functional").glob("*.py") if p.stem != "__init__")

# module (or folder) -> the modules of the package it must never import, at any depth of its
# code (functions and TYPE_CHECKING blocks included)
ABOVE_MODEL = {"training", "cli", "plots", "course", "analysis", "decoding", "checkpoint",
               "substitute", "torch_export", "history", "runs", "run"}
FORBIDDEN = {
    "functional": ABOVE_MODEL | {"model", "config", "data", "optim"},
    "data": ABOVE_MODEL | {"model", "functional", "optim"},
    "checks": ABOVE_MODEL | {"model", "config", "data", "optim", "functional"},
    "config": ABOVE_MODEL | {"model", "data", "optim"},
    "optim": ABOVE_MODEL | {"model", "data"},
    "model": ABOVE_MODEL | {"data", "optim"},
}


def _imports(path: Path, root: Path = PACKAGE.parent) -> set[str]:
    """The package modules a source file below ``root`` imports, as dotted names below
    numpy_seq2seq ("functional.rnn")."""
    package = path.relative_to(root).parts[:-1]  # a module's package; __init__.py's own
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            name = ".".join(base + ([node.module] if node.module else []))
            names = [name] if node.module else [f"{name}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {n.split(".", 1)[1] for n in names if n.startswith("numpy_seq2seq.")}
    return found


def _layer_files(layer: str) -> list[Path]:
    folder = PACKAGE / layer
    return sorted(folder.glob("*.py")) if folder.is_dir() else [PACKAGE / f"{layer}.py"]


@pytest.mark.parametrize("layer", list(FORBIDDEN))
def test_no_layer_imports_one_above_it(layer):
    wrong = {f"{path.name} imports {name}"
             for path in _layer_files(layer) for name in _imports(path)
             if name.split(".")[0] in FORBIDDEN[layer]}
    assert not wrong, sorted(wrong)


def test_the_graph_reader_sees_an_import_inside_a_function(tmp_path):
    """The twin of the test above: a lazy import of a higher layer is caught."""
    fake = tmp_path / "numpy_seq2seq" / "functional" / "probe.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("def f():\n    from ..training import train\n    from . import rnn\n"
                    "import numpy_seq2seq.plots\n")
    assert _imports(fake, tmp_path) == {"training", "functional.rnn", "plots"}


# ---------------------------------------------------------------------------------------------
# no circles: the graph of every import the package's modules make at run time

# edges left out of the circle check, each with the change that removes it (none left: the
# last, functional.rnn -> functional.recurrent, went when rnn_forward moved beside its loop)
KNOWN_EDGES: set[tuple[str, str]] = set()


def _module_name(path: Path, root: Path) -> str:
    """numpy_seq2seq/functional/rnn.py -> "numpy_seq2seq.functional.rnn"; a package's
    __init__.py is the package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, at module level and inside functions, but those under ``if
    TYPE_CHECKING:`` (which never run)."""
    typing_only = {id(n) for node in ast.walk(tree)
                   if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                   for statement in node.body for n in ast.walk(statement)}
    return [n for n in ast.walk(tree)
            if isinstance(n, (ast.Import, ast.ImportFrom)) and id(n) not in typing_only]


def import_graph(package: Path) -> dict[str, set[str]]:
    """module -> the package's modules it imports (dotted names). ``from .x import y`` is an
    edge to the module x.y when y is a module, else to x; relative imports are resolved
    against the importing module's package."""
    root = package.parent
    paths = {_module_name(p, root): p for p in sorted(package.rglob("*.py"))}
    graph = {}
    for name, path in paths.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
                continue
            base = node.module or ""
            if node.level:
                parts = here.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in paths else base
                      for a in node.names}
        graph[name] = {m for m in found if m in paths and m != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle ``[a, b, …, a]`` of the graph, or None (depth-first search, in name order)."""
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return path[path.index(node):] + [node]
        if node in done:
            return None
        path.append(node)
        for nxt in sorted(graph[node]):
            if (found := visit(nxt)) is not None:
                return found
        path.pop()
        done.add(node)
        return None

    return next((c for c in map(visit, sorted(graph)) if c is not None), None)


def test_the_import_graph_has_no_circle():
    graph = import_graph(PACKAGE)
    for a, b in KNOWN_EDGES:
        graph[a].discard(b)
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_the_circle_check_finds_a_circle_through_a_function_and_a_relative_import(tmp_path):
    """The twin: a planted circle through an import inside a function, a package's __init__,
    an absolute import and a relative one; a TYPE_CHECKING import makes none."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                  "    from . import c\ndef f():\n    from .sub import g\n")
    (package / "sub" / "__init__.py").write_text("from .b import g\n")
    (package / "sub" / "b.py").write_text("import pkg.c\ng = 1\n")
    (package / "c.py").write_text("from .a import f\n")
    graph = import_graph(package)
    assert graph["pkg.a"] == {"pkg.sub"} and graph["pkg.sub"] == {"pkg.sub.b"}
    assert find_cycle(graph) == ["pkg.a", "pkg.sub", "pkg.sub.b", "pkg.c", "pkg.a"]
    graph["pkg.c"].clear()
    assert find_cycle(graph) is None


def test_only_main_imports_the_command_line_and_only_it_the_course_kit():
    """The library runs training through ``run.py``, never through ``cli.main``; the course kit
    is loaded by its own modules and by the ``course`` command (inside cmd_course)."""
    graph = import_graph(PACKAGE)
    cli = {m for m, imported in graph.items() if "numpy_seq2seq.cli" in imported}
    assert cli == {"numpy_seq2seq.__main__"}
    course = {m for m, imported in graph.items() if not m.startswith("numpy_seq2seq.course")
              and any(i.startswith("numpy_seq2seq.course") for i in imported)}
    assert course == {"numpy_seq2seq.cli"}


def test_the_command_line_loads_no_course_module():
    """The course kit (notebooks, sandbox, grader) is loaded by ``numpy-seq2seq course`` only."""
    probe = ("import sys, numpy_seq2seq.cli\n"
             "print([m for m in sys.modules if m.startswith('numpy_seq2seq.course')])")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip() == "[]"
    probe = probe.replace("numpy_seq2seq.cli\n", "numpy_seq2seq.cli\n"
                          "numpy_seq2seq.cli.main(['course', 'release', '--help'])\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120)
    assert "numpy_seq2seq.course.commands" in out.stdout  # the twin: the command loads it
    assert "usage: numpy-seq2seq course release" in out.stdout


# ---------------------------------------------------------------------------------------------
# docs/architecture.md: every module it names exists, and its layer list holds for every import

ROOT = PACKAGE.parent
ARCHITECTURE = ROOT / "docs" / "architecture.md"
FILE_NAME = re.compile(r"^[\w.]+(\.py|/)$")


def tree_paths(text: str) -> list[Path]:
    """The files and folders of the doc's first code block, a tree indented two spaces a level
    (``rnn.py gru.py lstm.py   …`` names three; a line that starts with words is a comment)."""
    block = text.split("```")[1]
    folders: list[str] = []
    found = []
    for line in block.splitlines()[1:]:
        depth = (len(line) - len(line.lstrip())) // 2
        names = []
        for word in line.split(" ")[depth * 2:]:
            if not FILE_NAME.match(word):
                break
            names.append(word)
        if not names:
            continue  # a comment's continuation
        del folders[depth:]
        found += [ROOT.joinpath(*folders, n) for n in names]
        if names[-1].endswith("/"):
            folders.append(names[-1].rstrip("/"))
    return found


def named_paths(text: str) -> list[str]:
    """Paths and module names the doc's text names, the tree's comments included:
    ``tests/test_x.py``, ``recurrent.py``, ``notebooks/…ipynb``, ``functional.decoder``."""
    files = re.findall(r"[\w./-]*\w\.(?:py|ipynb|md)\b", text)
    dotted = re.findall(r"\bfunctional\.(\w+)\.", text)
    return files + [f"functional/{m}.py" for m in dotted]


def missing_paths(text: str) -> list[str]:
    """What the doc names that is not there: a tree entry at its place, any other path relative
    to the repository, the package or one of its folders."""
    folders = [ROOT, PACKAGE, *(p for p in PACKAGE.iterdir() if p.is_dir())]
    missing = [str(p.relative_to(ROOT)) for p in tree_paths(text) if not p.exists()]
    missing += [p for p in named_paths(text) if not any((f / p).exists() for f in folders)]
    return list(dict.fromkeys(missing))  # each once


def doc_layers(text: str) -> dict[str, int]:
    """Top-level module or package of numpy_seq2seq -> its layer in the doc's numbered list."""
    section = text[text.index("The layers, lowest first"):]
    layers = {}
    for number, item in re.findall(r"^(\d+)\. (.*(?:\n   .*)*)", section, re.MULTILINE):
        for name in re.findall(r"`([\w/]+)`", item):
            layers[name.rstrip("/")] = int(number)
    return layers


def layer_violations(layers: dict[str, int], graph: dict[str, set[str]]) -> list[str]:
    """Imports from a higher layer, and modules the list does not place."""
    def unit(module: str) -> str:  # numpy_seq2seq.functional.rnn -> functional
        parts = module.split(".")
        return parts[1] if len(parts) > 1 else "__init__"

    units = {unit(m) for m in graph}
    wrong = [f"{u} is in no layer" for u in sorted(units - set(layers))]
    wrong += [f"{m} (layer {layers[unit(m)]}) imports {i} (layer {layers[unit(i)]})"
              for m, imported in sorted(graph.items()) for i in sorted(imported)
              if unit(m) in layers and unit(i) in layers and layers[unit(i)] > layers[unit(m)]]
    return wrong


def test_every_module_the_architecture_doc_names_exists():
    text = ARCHITECTURE.read_text(encoding="utf-8")
    named = tree_paths(text)
    assert PACKAGE / "run.py" in named and PACKAGE / "functional" / "self_attention.py" in named
    assert len(named) > 50 and "tests/test_imports.py" in named_paths(text)
    assert missing_paths(text) == []


def test_the_doc_check_sees_a_module_that_is_not_there():
    """The twin: a tree entry and a prose path that do not exist are both reported."""
    text = ("```\nnumpy_seq2seq/\n  functional/   x\n    rnn.py nosuch.py   one step\n"
            "                 and more\n  model.py   Seq2Seq\n```\nsee gone/away.py, "
            "functional.decoder.decoder_step_forward and functional.nothing.f")
    assert missing_paths(text) == ["numpy_seq2seq/functional/nosuch.py", "nosuch.py",
                                   "gone/away.py", "functional/nothing.py"]


def test_every_import_goes_to_the_same_layer_or_below_in_the_doc():
    layers = doc_layers(ARCHITECTURE.read_text(encoding="utf-8"))
    assert layers["checks"] == 1 and layers["run"] < layers["cli"] == layers["course"]
    assert layer_violations(layers, import_graph(PACKAGE)) == []


def test_the_layer_check_sees_an_import_from_above_and_an_unplaced_module():
    """The twin: the doc's list with training and config swapped, and run left out."""
    layers = doc_layers(ARCHITECTURE.read_text(encoding="utf-8"))
    layers["training"], layers["config"] = layers["config"], layers["training"]
    del layers["run"]
    wrong = layer_violations(layers, import_graph(PACKAGE))
    assert "run is in no layer" in wrong
    assert "numpy_seq2seq.training (layer 3) imports numpy_seq2seq.checkpoint (layer 5)" in wrong


# ---------------------------------------------------------------------------------------------
# what importing one module loads in a fresh interpreter

PROBE = """
import json, sys
before = set(sys.modules)
import {module}
new = set(sys.modules) - before
print(json.dumps({{
    "third_party": sorted({{n.split(".")[0] for n in new}} - set(sys.stdlib_module_names)
                          - {{"numpy_seq2seq"}}),
    "own": sorted(n for n in new if n.startswith("numpy_seq2seq."))}}))
"""


@pytest.fixture(scope="module")
def loaded() -> dict[str, dict[str, list[str]]]:
    """module -> the third-party packages and the package's own modules its import loads; all
    interpreters run at once."""
    modules = ["numpy_seq2seq", "numpy_seq2seq.model", "numpy_seq2seq.config",
               "numpy_seq2seq.data.numbers",
               *(f"numpy_seq2seq.functional.{m}" for m in FUNCTIONAL)]
    runs = {m: subprocess.Popen([sys.executable, "-c", PROBE.format(module=m)],
                                stdout=subprocess.PIPE, text=True) for m in modules}
    return {m: json.loads(run.communicate(timeout=120)[0]) for m, run in runs.items()}


@pytest.mark.parametrize("module", ["model", "config", *(f"functional.{m}" for m in FUNCTIONAL)])
def test_an_import_loads_numpy_alone(loaded, module):
    """At most numpy: the kernel table (functional/kernels.py) needs not even that."""
    assert set(loaded[f"numpy_seq2seq.{module}"]["third_party"]) <= {"numpy"}


def test_the_probe_sees_a_third_party_import(loaded):
    """The twin: the numbers task does need num2words, and the probe reports it."""
    assert "num2words" in loaded["numpy_seq2seq.data.numbers"]["third_party"]


def test_the_package_loads_its_layers_on_demand(loaded):
    assert loaded["numpy_seq2seq"]["third_party"] == []  # the public names are lazy
    own_model = {n.split(".")[1] for n in loaded["numpy_seq2seq.model"]["own"]}
    # lazy: the packages' own PEP 562 lookup, loaded with numpy_seq2seq itself
    assert own_model == {"checks", "config", "functional", "lazy", "model", "schedule",
                         "threads"}
    for m in FUNCTIONAL:
        own = {n.split(".")[1] for n in loaded[f"numpy_seq2seq.functional.{m}"]["own"]}
        assert own <= {"checks", "functional", "lazy"}, (m, own)
        assert f"numpy_seq2seq.functional.{m}" in loaded[f"numpy_seq2seq.functional.{m}"]["own"]


def test_the_public_names_still_import():
    import numpy_seq2seq
    from numpy_seq2seq import Seq2Seq, train

    assert Seq2Seq.__module__ == "numpy_seq2seq.model" and train.__module__.endswith("training")
    assert set(numpy_seq2seq.__all__) == {*numpy_seq2seq._HOME, "__version__"}
    assert set(numpy_seq2seq.__all__) <= set(dir(numpy_seq2seq))
    with pytest.raises(AttributeError, match="no attribute 'Seq2Seqq'"):
        numpy_seq2seq.Seq2Seqq  # noqa: B018


@pytest.mark.parametrize("package, name, module", [
    ("numpy_seq2seq", "TrainingInterrupted", "training"),
    ("numpy_seq2seq", "plot_training", "plots"),
    ("numpy_seq2seq.functional", "lstm_step_backward", "functional.lstm"),
    ("numpy_seq2seq.functional", "attention_backward", "functional.attention"),
    ("numpy_seq2seq.functional", "SCORE_FORWARD", "functional.attention"),
    ("numpy_seq2seq.functional", "cross_entropy_forward", "functional.softmax"),
])
def test_the_names_readme_uses_import_where_it_says(package, name, module):
    home = importlib.import_module(f"numpy_seq2seq.{module}")
    assert getattr(importlib.import_module(package), name) is getattr(home, name)


def test_every_functional_name_is_found():
    import numpy_seq2seq.functional as F

    assert all(getattr(F, name) is not None for name in F.__all__)
    assert set(F.__all__) == set(F._HOME) and set(F.__all__) <= set(dir(F))
    with pytest.raises(AttributeError, match="numpy_seq2seq.functional' has no attribute 'lstm_"):
        F.lstm_step_backwards  # noqa: B018


def test_a_substitution_changes_the_kernel_table_not_the_names():
    import numpy_seq2seq.functional as F
    from numpy_seq2seq.functional import attention
    from numpy_seq2seq.substitute import use_functions

    def mine(dh_tilde, cache):
        return attention.attention_backward(dh_tilde, cache)

    with use_functions({"attention_backward": mine}):
        assert F.KERNELS["attention_backward"] is mine
        assert F.attention_backward is attention.attention_backward is not mine
    assert F.KERNELS["attention_backward"] is attention.attention_backward
