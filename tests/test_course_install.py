"""Install advice in the course kit is advice that works: the package is not on PyPI, so every
``pip install`` the kit's files suggest installs from the checkout (``.`` or ``'.[extra]'``,
optionally ``-e``), and names extras that setup.cfg defines; targets are found quoted or not."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest

import numpy_seq2seq

ROOT = Path(__file__).resolve().parent.parent
KIT = sorted([ROOT / "README.md", *(ROOT / "course").glob("*.md"), *(ROOT / "course").glob("*.py"),
              *(ROOT / "numpy_seq2seq" / "course").glob("*.py"),
              *(ROOT / "tests").glob("test_course*.py")])
KIT.remove(Path(__file__).resolve())  # its twin quotes bad advice on purpose
# a target quoted or not, after any flags; none when the command's words end (`pip install`)
PIP = re.compile(r"""pip install (?:-[-\w]+ )*('[^']+'|"[^"]+"|[^-\s`'"][^\s`'"]*)""")


def _setup_cfg() -> configparser.ConfigParser:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    return cfg


def _extras() -> set[str]:
    return set(_setup_cfg()["options.extras_require"])


def install_problem(target: str, extras: set[str]) -> str | None:
    """Why installing ``target`` with pip would fail from a checkout, or None if it would not:
    the checkout, or the wheel ``pip wheel --no-deps -w dist/ .`` builds from it (what students
    install), each with extras setup.cfg defines."""
    version = numpy_seq2seq.__version__  # setup.cfg's version is this attribute
    wheel = re.escape(f"numpy_seq2seq-{version}-py3-none-any.whl")
    found = re.fullmatch(rf"(?:\.|(?:dist/)?{wheel})(?:\[([\w,]+)\])?", target.strip("'\""))
    if not found:
        return (f"{target!r} is neither the checkout ('.[extra]') nor its wheel "
                f"(numpy_seq2seq-{version}-py3-none-any.whl); the package is not on PyPI")
    unknown = set((found[1] or "").split(",")) - extras - {""}
    return f"{target!r} names extras setup.cfg does not define: {sorted(unknown)}" if unknown \
        else None


@pytest.mark.parametrize("path", KIT, ids=[str(p.relative_to(ROOT)) for p in KIT])
def test_every_pip_install_in_the_kit_works_from_the_checkout(path):
    extras = _extras()
    problems = [p for t in PIP.findall(path.read_text(encoding="utf-8"))
                if (p := install_problem(t, extras))]
    assert not problems, problems


def test_twin_advice_that_would_fail_is_caught():
    extras = _extras()
    assert "not on PyPI" in install_problem("numpy_seq2seq[course]", extras)
    assert "does not define" in install_problem(".[kursus]", extras)
    assert install_problem(".[course]", extras) is None
    version = numpy_seq2seq.__version__
    assert install_problem(f"'numpy_seq2seq-{version}-py3-none-any.whl[course]'", extras) is None
    assert "not on PyPI" in install_problem("'numpy_seq2seq-9.9-py3-none-any.whl[course]'",
                                            extras)


@pytest.mark.parametrize("text, targets", [
    ("pip install numpy_seq2seq[course]", ["numpy_seq2seq[course]"]),
    ("`pip install -e numpy_seq2seq`", ["numpy_seq2seq"]),
    ("pip install -q --upgrade \"numpy_seq2seq\"", ['"numpy_seq2seq"']),
    ("pip install -e '.[course]' torch", ["'.[course]'"]),
    ("pip install . && numpy-seq2seq train", ["."]),
    ("refuse `pip install` into the system Python; `pip install -e`, needs", []),
], ids=["unquoted", "flag-unquoted", "double-quoted", "quoted", "the-checkout", "no-target"])
def test_twin_every_target_is_found_quoted_or_not(text, targets):
    assert PIP.findall(text) == targets
