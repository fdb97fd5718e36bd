"""The process that runs a student's code for ``numpy-seq2seq course grade`` (see sandbox.py).

    python -m numpy_seq2seq.course.worker      # started by the grader, never by hand

It reads requests from stdin and writes replies to stdout, one ``wire`` message each, and points
both streams at /dev/null before any student code runs (what the student prints goes nowhere).
Requests, each a dict in the message's "value":

* ``new`` {label}: a new namespace for answer code; reply {ns};
* ``run`` {ns, label, block, cell}: run one answer cell (answers.run_block) there; reply
  {problem};
* ``export`` {ns, names}: reply {functions: name -> signature, borrowed: name -> why it is not
  the student's own work (ownership.py)}. Every exported function is wrapped so that its calls
  are counted, also the calls the student's other functions make by its name;
* ``call`` {ns, name, args, kwargs}: call a function; reply {result, changed}, where changed
  lists the argument arrays (by their order in ``wire.arrays_in``) the call wrote into;
* ``calls`` {ns}: reply {counts}: how often each function ran;
* ``stand_in`` {ns, names}: bind those names in namespace ns to the library's functions until
  the next ``stand_in`` for ns (an empty list puts back what was there); reply {};
* ``use`` {uses: [[name, ns], …]}: from now on run the library with those functions in place of
  its own (``use_functions``; an empty list ends it); reply {};
* ``train`` {argv}: train ``numpy_seq2seq.run.prepare(**argv)`` (argv: prepare's keyword
  arguments, as payoff.run_translator gives them); reply {status}: 0, or what it raised.

What a student's function raises (anything, SystemExit included) is replied as {"raised": …}
(``grading.Raised``). Nothing here is trusted by the grader: it reads replies as data only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import os
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any, BinaryIO

import numpy as np

from ..substitute import use_functions
from .answers import AnswerCode, new_namespace, run_block
from .functional_checks import reference
from .grading import Raised, count_calls
from .ownership import borrowed
from .wire import Decoder, Encoder, arrays_in, read_message, write_message

_MISSING = object()  # a name that was not bound


class Worker:
    """The namespaces of the loaded answers and the values the grader holds references to."""

    def __init__(self) -> None:
        self.namespaces: list[dict] = []
        self.counts: list[Counter] = []
        self.kept: list[Any] = []
        self.calling: Callable | None = None  # the student's function running now
        self.using = contextlib.ExitStack()  # the use_functions block in force (op_use)
        self.replaced: dict[int, dict] = {}  # ns -> what op_stand_in replaced there

    def keep(self, value: Any) -> int:
        self.kept.append(value)
        return len(self.kept) - 1

    def handle(self, header: dict, buffers: list[bytes]) -> tuple[dict, list[bytes]]:
        request = Decoder(buffers, resolve=self.kept.__getitem__).value(header.get("value"))
        encoder = Encoder(keep=self.keep)
        self.calling = None
        try:
            reply = getattr(self, f"op_{header['op']}")(**request)
            return {"value": encoder.node(reply)}, encoder.buffers
        except BaseException as e:  # noqa: BLE001 - the student's code may raise anything
            raised = Raised.of(e, self.calling or (lambda: None))
            return {"raised": dataclasses.asdict(raised)}, []

    def op_new(self, label: str) -> dict:
        self.namespaces.append(new_namespace(label))
        self.counts.append(Counter())
        return {"ns": len(self.namespaces) - 1}

    def op_run(self, ns: int, label: str, block: str, cell: str) -> dict:
        code = AnswerCode(label, (block,), (), (cell,))
        return {"problem": run_block(self.namespaces[ns], code, 0)}

    def op_export(self, ns: int, names: list) -> dict:
        namespace, counts = self.namespaces[ns], self.counts[ns]
        functions, borrowed_from = {}, {}
        for name in names:
            fn = namespace.get(name)
            if callable(fn):
                if (why := borrowed(name, fn)) is not None:
                    borrowed_from[name] = why
                namespace[name] = count_calls(fn, name, counts)
                functions[name] = _signature(fn)
        return {"functions": functions, "borrowed": borrowed_from}

    def op_call(self, ns: int, name: str, args: list, kwargs: dict) -> dict:
        self.calling = fn = self.namespaces[ns][name]
        before = [a.copy() for a in arrays_in((args, kwargs))]
        result = fn(*args, **kwargs)
        after = arrays_in((args, kwargs))
        changed = [[i, a] for i, (a, b) in enumerate(zip(after, before))
                   if a.shape != b.shape or not np.array_equal(a, b, equal_nan=True)]
        return {"result": result, "changed": changed}

    def op_stand_in(self, ns: int, names: list) -> dict:
        """Bind ``names`` in namespace ``ns`` to the library's functions, after putting back
        what an earlier ``stand_in`` replaced there; an empty list only puts it back."""
        namespace = self.namespaces[ns]
        for name, value in self.replaced.pop(ns, {}).items():
            if value is _MISSING:
                namespace.pop(name, None)
            else:
                namespace[name] = value
        if names:
            self.replaced[ns] = {name: namespace.get(name, _MISSING) for name in names}
            namespace.update({name: reference(name) for name in names})
        return {}

    def op_calls(self, ns: int) -> dict:
        return {"counts": dict(self.counts[ns])}

    def op_use(self, uses: list) -> dict:
        """From now on (until the next ``use``), the library in this process calls these
        functions in place of its own: as in the notebook, where the student's
        attention_backward reaches the student's score backward through the library's
        SCORE_BACKWARD table."""
        self.using.close()
        self.using = contextlib.ExitStack()
        self.using.enter_context(use_functions(
            {name: self.namespaces[ns][name] for name, ns in uses}))
        return {}

    def op_train(self, argv: dict) -> dict:
        from .. import run

        run.fit(run.prepare(**argv), progress=False)
        return {"status": 0}


def _signature(fn: Callable) -> list | None:
    """[[name, kind, has a default], …] of ``fn``'s parameters, or None if it has none to read."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except Exception:  # noqa: BLE001 - a student's object may raise anything here
        return None
    return [[p.name, int(p.kind), p.default is not p.empty] for p in parameters]


def _exactly(stream: BinaryIO) -> Callable[[int], bytes]:
    def read(n: int) -> bytes:
        data = stream.read(n)
        if len(data) != n:
            raise EOFError
        return data
    return read


def main() -> None:
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    sys.stdin, sys.stdout = open(os.devnull), open(os.devnull, "w")  # noqa: SIM115
    worker, read = Worker(), _exactly(requests)
    while True:
        try:
            header, buffers = read_message(read)
        except EOFError:
            return
        write_message(replies, *worker.handle(header, buffers))


if __name__ == "__main__":
    main()
