"""Lower layers never import higher ones (docs/architecture.md): the import graph read from the
source, and what a fresh interpreter really loads for one import."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "numpy_seq2seq"
FUNCTIONAL = sorted(p.stem for p in (PACKAGE / "functional").glob("*.py") if p.stem != "__init__")

# module (or folder) -> the modules of the package it must never import, at any depth of its
# code (functions and TYPE_CHECKING blocks included)
ABOVE_MODEL = {"training", "cli", "plots", "course", "analysis", "decoding", "checkpoint",
               "substitute", "torch_export", "history", "runs"}
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
    assert own_model == {"checks", "config", "functional", "lazy", "model", "threads"}
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
