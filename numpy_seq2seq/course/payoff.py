"""The payoff: the dates translator trained with the student's own functions.

``student_functions()`` gathers the functions the student wrote in the earlier assignments. It
reads each earlier assignment's notebook, found beside the current one (which is where they are
in the course's source tree, in a release folder and in a student's copy) or, in nbgrader's
autograde layout ``autograded/<student>/<assignment>/``, in ``submitted/<student>/``; or, given
``earlier`` (``course grade`` on a platform's flat downloads: the same student's notebooks of
those assignments in the same run, told apart by their metadata), that notebook. From each
it runs the answer code (answers.py: the source's import statements and the student's answer
cells) in a fresh namespace, then checks every exercise function found there with the
exercise's own check. A function that passes is used; one that is missing, not implemented or
failing is listed with the reason, and the library's function stands in for it, so the training
always runs, but the graded cells give their points only when every function the dates model
needs is the student's own. (``numpy-seq2seq course grade`` does the same with the answers run
in its sandbox: the ``load`` argument.)

``check_training`` trains a float64 dates model for a few steps with the student's functions
and with the library's, and requires the same losses, held-out scores and parameters (1e-6).
``train_translator`` trains what ``numpy-seq2seq train`` trains (the default task and model,
through the library's run layer, ``numpy_seq2seq.run``) with the student's functions;
``check_translator`` requires ≥ 99 % exact match on 1,000 fresh dates
(``translator_exact_match``: the trained checkpoint, decoded greedily by the library, compared
as text) at the full budget; at the ci budget a short run must complete with the student's
functions doing the work.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..checkpoint import load_checkpoint
from ..data import Vocab, encode_pairs, make_task, pad_sequences, split_pairs
from ..model import Seq2Seq
from ..runs import new_run_dir
from ..substitute import REPLACEABLE, library_function, use_functions
from ..training import train
from .answers import AnswerCode, answer_code, run_answers
from .exercises import CALLS, EXERCISES, evaluate, standing_in, stood_in_note
from .grading import CheckFailed, Raised, Result, StudentRaised, count_calls
from .notebooks import RELEASED, label_of, notebooks, read_notebook
from .sandbox import RemoteFunction

PAYOFF_ASSIGNMENT = "a4_translator"  # the assignment that trains with the others' answers
EARLIER = ("a1_rnn", "a2_gates", "a3_attention")  # the assignments written before it
# what the dates model (LSTM, general attention) calls, and so what must be the student's
NEEDED = ("lstm_step_backward", "cross_entropy_forward", "cross_entropy_backward",
          "masked_softmax_forward", "masked_softmax_backward", "general_score_forward",
          "general_score_backward", "attention_backward", "greedy_decode")
TARGET = 0.99  # exact match on the fresh dates at the full budget
FRESH_DATES, FRESH_SEED = 1000, 99  # the dates the translator is scored on (not its own split)
SAME = 1e-6  # relative difference allowed between training with yours and with the library's
# backward -> its forward, whose check the backward's check uses
FORWARD_OF = {name: name.replace("backward", "forward") for name in EXERCISES
              if name.endswith("backward")}


@dataclass
class Collected:
    """The student's functions that pass their checks, and why any others are not used."""

    functions: dict[str, Callable] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)  # name -> "a2_gates/gates.ipynb"
    missing: dict[str, str] = field(default_factory=dict)  # name -> why it is not used
    # name -> why: written but failing its check, so the library's stands in for it (also where
    # the student's other functions call it by name); it was charged in its own assignment
    stood_in: dict[str, str] = field(default_factory=dict)

    def needed_missing(self) -> dict[str, str]:
        return {k: self.missing[k] for k in NEEDED if k in self.missing}

    def show(self) -> None:
        """Print which function comes from where (the needed ones marked with *)."""
        for name in sorted(set(self.functions) | set(self.missing) | set(self.stood_in),
                           key=_order):
            star = "*" if name in NEEDED else " "
            where = f"yours, from {self.origin[name]}" if name in self.functions \
                else f"the library's, standing in: {self.stood_in[name]}" \
                if name in self.stood_in else f"the library's: {self.missing[name]}"
            print(f"{star} {name:<24} {where}")
        print("* needed by the dates model")


def _order(name: str) -> int:
    return EXERCISES.index(name) if name in EXERCISES else len(EXERCISES)


# ---------------------------------------------------------------------------------------------
# gathering the student's functions

def student_functions(current: Mapping[str, Callable] | None = None,
                      here: str | Path = ".",
                      assignments: tuple[str, ...] = EARLIER,
                      load: Callable[[AnswerCode], tuple[Mapping, str | None]] | None = None,
                      earlier: Mapping[str, Path | str] | None = None) -> Collected:
    """The student's functions from the earlier assignments (see the module docstring).

    Parameters
    ----------
    current : functions written in the current notebook, e.g. {"greedy_decode": greedy_decode}
    here : the current assignment's folder (the notebook's working directory)
    assignments : the earlier assignments' folder names
    load : runs a notebook's answer code; returns (namespace, first problem or None). Default:
        ``answers.run_answers``, in this process
    earlier : assignment -> the student's notebook of it, wherever it is and whatever its name
        (or why none can be used: two of them); the others are looked for beside ``here``
    """
    found: dict[str, tuple[Callable, str, Mapping]] = {}
    reasons: dict[str, str] = {}
    for assignment in assignments:
        code = earlier_answers(Path(here).resolve(), assignment, (earlier or {}).get(assignment))
        if isinstance(code, str):
            reasons[assignment] = code
            continue
        namespace, problem = (load or run_answers)(code)
        if problem:
            reasons[assignment] = problem
        for name, fn in namespace.items():
            if name in EXERCISES and callable(fn) and name not in found:
                found[name] = (fn, code.label, namespace)
    for name, fn in (current or {}).items():
        found[name] = (fn, "this notebook", dict(current))
    return _keep_passing(found, reasons, assignments)


def earlier_answers(here: Path, assignment: str, given: Path | str | None = None
                    ) -> AnswerCode | str:
    """The answer code of ``assignment``'s notebook: ``given`` (a path), else the one found from
    ``here``; or why there is none (``given`` as a string: why the run's notebooks did not
    tell)."""
    (src,) = notebooks(RELEASED / assignment)
    if isinstance(given, Path):
        return answer_code(read_notebook(given), read_notebook(src), label_of(src))
    candidates = [here.parent / assignment,  # source tree, release folder, a student's copy
                  here.parent.parent.parent / "submitted" / here.parent.name / assignment]
    folder = next((c for c in candidates if c.is_dir() and any(c.glob("*.ipynb"))), None)
    if folder is None:
        return given or f"no {assignment} folder found beside {here.name}"
    if not (folder / src.name).is_file():
        return f"no {src.name} in {folder}"
    return answer_code(read_notebook(folder / src.name), read_notebook(src), label_of(src))


def _keep_passing(found: dict, reasons: dict, assignments: tuple[str, ...]) -> Collected:
    out = Collected()
    for name in EXERCISES:
        if name not in REPLACEABLE:  # rnn_forward/rnn_backward: the model never calls them
            continue
        if name not in found:
            out.missing[name] = _why_missing(name, reasons, assignments)
            continue
        fn, label, namespace = found[name]
        forward = namespace.get(FORWARD_OF.get(name, ""))
        failed = [d for d in CALLS.get(name, ()) if d not in out.functions]
        result = evaluate(name, fn, forward if callable(forward) else None, failed=failed)
        why = f"{label}: {result.message.split(': ', 1)[-1]}"
        if result.passed:
            out.functions[name], out.origin[name] = fn, label
        elif result.attempted:  # a wrong answer, charged in its own assignment
            out.stood_in[name] = why
        else:
            out.missing[name] = why
    return out


def _why_missing(name: str, reasons: dict, assignments: tuple[str, ...]) -> str:
    problems = "; ".join(reasons[a] for a in assignments if a in reasons)
    return f"not found ({problems})" if problems else "not defined in an answer cell"


# ---------------------------------------------------------------------------------------------
# training with them

@contextlib.contextmanager
def _counted(functions: Mapping[str, Callable], calls: Counter) -> Iterator[dict[str, Callable]]:
    """Wrappers that count calls, also bound in the students' own namespaces while the block
    runs (your attention_backward calls your masked_softmax_backward by its name there). A
    function in the grader's sandbox counts its own calls: it is used as it is."""
    remote = {name: fn for name, fn in functions.items() if isinstance(fn, RemoteFunction)}
    before = {name: fn.calls() for name, fn in remote.items()}
    wrapped = {name: remote.get(name) or count_calls(fn, name, calls)
               for name, fn in functions.items()}
    rebound = [(fn.__globals__, name, fn) for name, fn in functions.items()
               if getattr(fn, "__globals__", {}).get(name) is fn]
    for namespace, name, _ in rebound:
        namespace[name] = wrapped[name]
    try:
        yield wrapped
    finally:
        for namespace, name, fn in rebound:
            namespace[name] = fn
        for name, fn in remote.items():
            calls[name] += fn.calls() - before[name]


def _small_dates() -> tuple:
    train_pairs, valid_pairs = split_pairs(make_task("dates", 400, seed=1), 0.2, seed=1)
    src_vocab = Vocab.from_texts([s for s, _ in train_pairs])
    tgt_vocab = Vocab.from_texts([t for _, t in train_pairs])
    return (len(src_vocab), len(tgt_vocab), encode_pairs(train_pairs, src_vocab, tgt_vocab),
            encode_pairs(valid_pairs, src_vocab, tgt_vocab))


def _train_small(functions: Mapping[str, Callable]) -> tuple[list[float], dict]:
    n_src, n_tgt, train_ids, valid_ids = _small_dates()
    model = Seq2Seq(n_src, n_tgt, dtype=np.float64, seed=0)  # the dates model, in float64
    with use_functions(functions):
        history = train(model, train_ids, valid_ids, epochs=1, batch_size=64, lr=5e-3, seed=0,
                        progress=False, threads=1)
    numbers = history.loss + history.valid_loss + history.valid_exact_match
    return numbers, model.params


def evaluate_training(mine: Collected) -> Result:
    """Train the dates model in float64 for 5 steps with your functions and with the library's
    and compare every loss, the held-out loss and exact match, and every parameter."""
    name = "train_with_your_functions"
    calls: Counter = Counter()
    lib_numbers, lib_params = _train_small({})
    try:
        with standing_in(mine.functions.values(), mine.stood_in), \
                _counted(mine.functions, calls) as counted:
            numbers, params = _train_small(counted)
    except CheckFailed as e:  # the grader's sandbox: a time limit, a lost process
        return Result(name, False, f"{name}: {e}")
    except Exception as e:  # what the student's functions raise, or make the library raise
        failed = Raised.of(e, lambda: None) if not isinstance(e, StudentRaised) else e.raised
        return Result(name, False, f"{name}: training with your functions raised "
                                   f"{failed.kind}: {failed.message}")
    diff = max([_rel(a, b) for a, b in zip(numbers, lib_numbers)]
               + [_rel(params[k], lib_params[k]) for k in params])
    unused = [k for k in NEEDED if k in mine.functions and not calls[k]]
    missing = mine.needed_missing()
    if diff > SAME:
        return Result(name, False, f"{name}: training with your functions differs from training "
                                   f"with the library's by {diff:.1e} (relative); run the "
                                   "earlier assignments' checks again.")
    if missing:
        return Result(name, False, f"{name}: {len(missing)} of the {len(NEEDED)} functions the "
                                   f"dates model needs are not yours yet (the library's stood in "
                                   f"for them): {', '.join(missing)}." + folders_needed(missing))
    if unused:
        return Result(name, False, f"{name}: {', '.join(unused)} were never called.")
    total = sum(calls.values())
    return Result(name, True, f"{name} passes: {len(numbers)} training and held-out numbers and "
                              f"every parameter equal the library's (worst relative difference "
                              f"{diff:.1e}); your functions ran {total:,} times."
                  + stood_in_note(k for k in NEEDED if k in mine.stood_in))


def folders_needed(missing: Mapping[str, str]) -> str:
    """A sentence naming the earlier assignments' folders, when some were not found."""
    lost = [a for a in EARLIER if any(f"no {a} folder" in why or f"no {a}/" in why
                                       for why in missing.values())]
    if not lost:
        return ""
    return (f" Assignment 4 trains with your answers to {', '.join(EARLIER)}: grade it with "
            f"those folders beside its own (<student>/a1_rnn/… next to <student>/a4_translator/…)"
            f", or in one run with the same student's notebooks of them (a platform's flat "
            f"downloads); not found: {', '.join(lost)}.")


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


def check_training(mine: Collected) -> None:
    evaluate_training(mine).show()


@dataclass
class TranslatorRun:
    """What ``train_translator`` measured."""

    budget: str
    exact_match: float  # on the fresh dates, after the last epoch (NaN if skipped)
    seconds: float
    calls: Counter  # how often each of your functions ran
    folder: Path | None  # the run's folder (checkpoint.npz, metrics.json, figures)
    missing: dict[str, str]  # needed functions that are not yours: the run is skipped
    stood_in: tuple[str, ...] = ()  # needed functions of yours that fail: the library's ran

    @classmethod
    def skipped(cls, budget: str, missing: dict[str, str]) -> TranslatorRun:
        return cls(budget, float("nan"), 0.0, Counter(), None, missing)


def train_translator(mine: Collected, budget: str = "full", out: str | Path | None = None
                     ) -> TranslatorRun:
    """Train the default dates translator (what ``numpy-seq2seq train`` trains) with your
    functions, in this process, into ``out`` (default: a new folder under ``runs/``).

    At the ``ci`` budget the run is cut to 1,000 examples and one epoch. If a function the model
    needs is not yours, nothing is trained (the library's own translator is what the command
    gives anyway): the run says what is missing.
    """
    from .. import run as run_layer

    def run(settings: dict, functions: dict[str, Callable]) -> int:
        with use_functions(functions):
            run_layer.fit(run_layer.prepare(**settings), progress=False)
        return 0

    if mine.needed_missing():
        print(f"not trained: {', '.join(mine.needed_missing())} are not yours yet (see the table "
              "above)")
        return TranslatorRun.skipped(budget, mine.needed_missing())
    # a new folder of its own: a run refuses a folder that is not empty
    folder = Path(out) if out is not None else new_run_dir("runs", prefix="your-translator-")
    return run_translator(mine, budget, folder, run)


def run_translator(mine: Collected, budget: str, folder: Path,
                   run: Callable[[dict, dict[str, Callable]], int]) -> TranslatorRun:
    """``run(settings, functions)`` trains ``numpy_seq2seq.run.prepare(**settings)`` with
    ``functions`` in place of the library's and returns 0 (in this process, or in the grader's
    sandbox, which replies the status); then the trained checkpoint is scored here with
    ``translator_exact_match``."""
    if mine.needed_missing():
        return TranslatorRun.skipped(budget, mine.needed_missing())
    ci = budget == "ci"  # plain data, as it also goes to the sandbox's process
    settings = {"data_config": {"num_examples": 1000} if ci else {},
                "train_config": {"epochs": 1} if ci else {}, "out": str(folder)}
    calls: Counter = Counter()
    start = time.perf_counter()
    with standing_in(mine.functions.values(), mine.stood_in), \
            _counted(mine.functions, calls) as counted:
        status = run(settings, counted)
    if status != 0:
        raise RuntimeError(f"the training run {settings} ended with status {status}")
    seconds = time.perf_counter() - start
    fresh = translator_exact_match(folder / "checkpoint.npz", _fresh_dates(budget))
    return TranslatorRun(budget, fresh, seconds, calls, folder, {},
                         tuple(k for k in NEEDED if k in mine.stood_in))


def _fresh_dates(budget: str) -> int:
    """How many fresh dates score the translator: fewer at the ci budget, whose half-trained
    model rarely ends a date (so each takes the most decoder steps)."""
    return FRESH_DATES if budget == "full" else FRESH_DATES // 5


def translator_exact_match(checkpoint: Path, n: int = FRESH_DATES) -> float:
    """Exact match of a trained dates model on ``n`` fresh dates (seed ``FRESH_SEED``): decoded
    greedily by the library's own ``greedy_decode`` and compared as text (so nothing in the
    checkpoint, vocabularies included, can make a wrong date count as right)."""
    model, src_vocab, tgt_vocab, _ = load_checkpoint(checkpoint)
    pairs = make_task("dates", n, seed=FRESH_SEED)
    decode = library_function("greedy_decode")
    right = 0
    for start in range(0, len(pairs), 250):
        batch = pairs[start:start + 250]
        hyps = decode(model, pad_sequences([src_vocab.encode(s) for s, _ in batch]))
        right += sum(tgt_vocab.decode_text(h.tokens) == t for h, (_, t) in zip(hyps, batch))
    return right / len(pairs)


def evaluate_translator(run: TranslatorRun) -> Result:
    name = "translator_accuracy"
    if run.missing:
        return Result(name, False, f"{name}: not trained, since {len(run.missing)} of the "
                                   f"{len(NEEDED)} functions the dates model needs are not yours "
                                   f"yet: {', '.join(run.missing)}." + folders_needed(run.missing))
    unused = [k for k in NEEDED if not run.calls[k] and k not in run.stood_in]
    if unused:
        return Result(name, False, f"{name}: {', '.join(unused)} were never called.")
    accuracy = (f"{100 * run.exact_match:.2f} % exact match on {_fresh_dates(run.budget):,} "
                f"fresh dates, trained in {run.seconds:.0f} s")
    if run.budget == "ci":
        return Result(name, True, f"{name} passes at the ci budget: one short epoch trained and "
                                  f"decoded with your functions ({accuracy}); the {TARGET:.0%} "
                                  "target applies to the full budget."
                      + stood_in_note(run.stood_in))
    if run.exact_match < TARGET:
        return Result(name, False, f"{name}: {accuracy}, below the {TARGET:.0%} target.")
    return Result(name, True, f"{name} passes: {accuracy}, with your functions called "
                              f"{sum(run.calls.values()):,} times." + stood_in_note(run.stood_in))


def check_translator(run: TranslatorRun) -> None:
    evaluate_translator(run).show()
