"""Shared fixtures: every random generator in the tests is seeded here."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import shutil
import signal

import numpy as np
import pytest

from numpy_seq2seq.functional.params import layer_prefix, with_prefix
from numpy_seq2seq.functional.recurrent import CELLS, cell_param_shapes

from sizes import D, H


@pytest.fixture(scope="session", autouse=True)
def signals_interrupt():
    """Ctrl-C raises KeyboardInterrupt and SIGTERM ends the process, as in a terminal, even when
    pytest was started with either signal ignored (``cmd &`` in a script inherits SIGINT
    ignored, ``trap '' TERM`` SIGTERM; train leaves an ignored signal alone): otherwise the
    interrupt tests would fail, or test nothing. The processes the tests start inherit the
    default actions, not the ignoring."""
    defaults = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}
    previous = {sig: signal.getsignal(sig) for sig in defaults}
    for sig, handler in defaults.items():
        signal.signal(sig, handler)
    yield
    for sig, handler in previous.items():
        signal.signal(sig, handler)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def ragged_batch() -> tuple[np.ndarray, np.ndarray]:
    """A right-padded batch of N=3: source lengths 6, 2, 7 and target lengths 5, 3, 4."""
    src = np.array([[5, 6, 7, 8, 9, 4, 0], [4, 5, 0, 0, 0, 0, 0], [9, 8, 7, 6, 5, 4, 6]])
    tgt = np.array([[1, 5, 6, 7, 2], [1, 8, 2, 0, 0], [1, 9, 10, 2, 0]])
    return src, tgt


@pytest.fixture(scope="session")
def course_dir(tmp_path_factory):
    """A copy of the course's sources (``source/<assignment>/``) and their release
    (``release/<assignment>/``), for the course's tests to grade and edit."""
    from numpy_seq2seq.course.notebooks import SOURCES, assignments, notebooks, release

    root = tmp_path_factory.mktemp("course")
    for folder in assignments(SOURCES):
        (root / "source" / folder.name).mkdir(parents=True)
        for nb in notebooks(folder):
            shutil.copy(nb, root / "source" / folder.name / nb.name)
    release(root / "release")
    return root


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module's tests: with tiny tensors a second intra-op thread only
    adds overhead (4x slower on a busy 2-core machine)."""
    import torch  # lazy: only the torch tests ask for this, and they skip without torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def assert_refused(call, match: str, where: str | None = None) -> None:
    """``call()`` raises a ValueError of one line matching ``match``: what the public functions
    promise for bad input (no broadcast, no NumPy IndexError, no wrapped id). With ``where``,
    the line must start with that function's name, unless ``match`` is anchored itself (``^``:
    a scalar's message names the argument alone)."""
    if where is not None and not match.startswith("^"):
        match = f"^{where}: {match}"
    with pytest.raises(ValueError, match=match) as info:
        call()
    assert "\n" not in str(info.value)


@contextlib.contextmanager
def patched_cell(cell: str, **fields):
    """Register a copy of a cell with some fields replaced (e.g. a deliberately wrong
    ``core_backward``) while the block runs; yields the original ``Cell``.

    Layers look the cell up when their forward runs and keep it in the cache, so a forward run
    inside the block is differentiated with the patched cell too.
    """
    original = CELLS[cell]
    CELLS[cell] = dataclasses.replace(original, **fields)
    try:
        yield original
    finally:
        CELLS[cell] = original


def randomize(params: dict[str, np.ndarray], rng: np.random.Generator, scale: float = 0.5) -> None:
    """Move a model to a generic point: fresh N(0, scale²) values in every parameter, in place.

    At the default initialisation some gradients (e.g. the concat score's W_a) are ~1e-5, where
    the finite-difference rounding error (~1e-16 · |L| / h) is no longer small next to them.
    """
    for v in params.values():
        v[...] = rng.normal(0.0, scale, v.shape)


def stack_params(cell, k, bidirectional, rng):
    """N(0, 0.25) parameters of a stack of k layers reading D inputs, under the names
    ``stacked_forward`` reads (``l1_Wx``, ``fwd_Wh``, ...)."""
    directions = ("fwd", "bwd") if bidirectional else (None,)
    p = {}
    for layer, direction in itertools.product(range(k), directions):
        shapes = cell_param_shapes(cell, D if layer == 0 else H, H // len(directions))
        p.update(with_prefix({name: rng.standard_normal(s) * 0.5 for name, s in shapes.items()},
                             layer_prefix(layer, direction)))
    return p


# ---------------------------------------------------------------------------------------------
# gradient-check bookkeeping: every check goes through ``assert_gradcheck``, which records the
# worst relative error per family of checks and prints the table at the end of the run

WORST_ERRORS: dict[str, tuple[float, str]] = {}


def assert_gradcheck(report, family: str, tol: float, broken: bool = False) -> None:
    """Assert a gradient check passed (or, for a deliberately wrong backward, that it failed).

    Parameters
    ----------
    report : GradCheckReport
    family : the row of the summary table, e.g. "cells (one step)"
    tol : the largest relative error a correct backward may show
    broken : True for the twin whose backward is wrong on purpose; the checker must see an
        error far above ``tol`` (at least 1e-3)
    """
    if broken:
        assert report.max_error > 1e-3, f"the checker missed a wrong backward:\n{report}"
        return
    worst, _ = WORST_ERRORS.get(family, (0.0, ""))
    if report.max_error >= worst:
        WORST_ERRORS[family] = (report.max_error, report.worst)
    assert report.max_error <= tol, str(report)


def pytest_terminal_summary(terminalreporter) -> None:
    if not WORST_ERRORS:
        return
    terminalreporter.section("worst relative error of the gradient checks (float64)")
    for family, (error, where) in sorted(WORST_ERRORS.items()):
        terminalreporter.write_line(f"{family:<32} {error:.2e}  ({where})")


def resumed_numbers(metrics):
    """What must not change when a run is stopped and resumed (metrics.json): all but the
    times."""
    history = {k: v for k, v in metrics["history"].items()
               if k not in ("epoch_time", "epoch_end_time")}
    epochs = [{k: v for k, v in e.items() if k not in ("time", "end_time")}
              for e in metrics["epochs"]]
    return history, epochs, metrics["training"], metrics["checkpoints"]
