"""Call a student's functions from the grader without running any of the student's code in it.

``numpy-seq2seq course grade`` starts one ``Sandbox`` per notebook: a separate Python process
(worker.py, this same interpreter, the notebook's folder as its working directory) that runs the
student's answer cells. The grader holds a ``RemoteFunction`` for each function they define.
Calling one sends the arguments to that process as data (wire.py), runs the student's function
there, and returns what it returned, also as data; arrays the function wrote into are written
back into the grader's arguments, as if the call had been local. The checks (exercises.py)
compute the library's reference values and compare in the grader's own process, whose memory
the student's code cannot reach: whatever it redefines, patches or prints, it changes only what
its functions return. It is a separate process, not a separate user or filesystem: it can write
any file the grader can, the package's own source included. Nothing here prevents that;
``autograde.grade_all`` detects it in the package (fingerprint.py) and zeroes the notebook.

Limits: each answer cell and each check has its own time limit, ``timeout`` seconds (the
grader moves ``deadline`` before each check); a read or write that would pass it kills the
process and raises ``TimeLimit``. A process that exits (``os._exit``, a crash) or sends something
that is not a reply raises ``WorkerLost``, and ``revive`` starts a fresh one with the same
answers. Both are ``CheckFailed``: the exercise being checked fails with their message. An
answer cell that hangs or ends the process is left out, and the answers are run again without
it (``load``): it costs the functions it defines, no more.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .answers import AnswerCode
from .grading import CheckFailed, Raised, StudentRaised
from .wire import Decoder, Encoder, WireError, arrays_in, read_message, write_message

# the student's process gets one BLAS thread, as the notebooks do (small matrices), and writes
# no .pyc into the package: any change there is the student's (fingerprint.py)
WORKER_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "PYTHONDONTWRITEBYTECODE": "1"}


class TimeLimit(CheckFailed):
    """The time limit of a cell or a check passed while the student's code ran."""


class WorkerLost(CheckFailed):
    """The student's process ended, or sent something that is not a reply."""


class RemoteFunction:
    """A student's function, called in the sandbox; it has the student's name and signature."""

    def __init__(self, sandbox: Sandbox, ns: int, name: str, signature: list | None,
                 borrowed: str | None = None) -> None:
        self.sandbox, self.ns, self.__name__ = sandbox, ns, name
        self.borrowed = borrowed  # why it is not the student's own work (ownership.py), or None
        self.__qualname__ = name
        if signature is not None:
            self.__signature__ = _signature(signature)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.sandbox.call(self, args, kwargs)

    def calls(self) -> int:
        """How often the function has run so far, also when the student's own code called it."""
        return self.sandbox.request("calls", {"ns": self.ns}, self.__name__)["counts"].get(
            self.__name__, 0)

    def __repr__(self) -> str:
        return f"<the student's {self.__name__}>"


def _signature(parameters: list) -> inspect.Signature:
    try:
        return inspect.Signature([inspect.Parameter(
            str(name), type(inspect.Parameter.POSITIONAL_ONLY)(kind),
            default=None if has_default else inspect.Parameter.empty)
            for name, kind, has_default in parameters])
    except (TypeError, ValueError):
        raise WireError("not a signature") from None


class Sandbox:
    """The student's process (see the module docstring); use it as a context manager.

    Parameters
    ----------
    folder : its working directory (the notebook's folder: an answer may import a file beside it)
    deadline : ``time.monotonic()`` after which nothing more is read from it
    timeout : the limit the deadline stands for, in seconds (for the message)
    """

    def __init__(self, folder: Path, deadline: float, timeout: float) -> None:
        self.folder, self.deadline, self.timeout = folder, deadline, timeout
        self.loads: list[_Load] = []
        self.process: subprocess.Popen | None = None
        self.log = tempfile.TemporaryFile()  # its stderr, for the last line when it dies
        self.lost: str | None = None  # why the current process can no longer be used

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -----------------------------------------------------------------------------------------
    def load(self, code: AnswerCode, names: tuple[str, ...]) -> tuple[dict, str | None]:
        """Run answer code in the sandbox, one cell at a time, each with the time limit;
        ({name: RemoteFunction} for the ``names`` it defines, the first problem or None).

        A cell that hangs or ends the process is left out: the process is started afresh, the
        answers loaded so far run again without it, and the problem names it."""
        self.loads.append(_Load(code, names))
        ns = len(self.loads) - 1
        self._build(ns)
        load = self.loads[ns]
        reply = load.exported
        borrowed = reply.get("borrowed", {})
        return ({name: RemoteFunction(self, ns, name, sig, borrowed.get(name))
                 for name, sig in reply["functions"].items()}, load.problem())

    def _build(self, first: int) -> None:
        """Run the answers ``loads[first:]`` (after a restart, all of them) into namespaces."""
        while True:
            start = first if self.process is not None else 0
            try:
                for ns in range(start, len(self.loads)):
                    self._run_load(ns)
                return
            except _Restart:
                continue

    def _run_load(self, ns: int) -> None:
        load, label = self.loads[ns], self.loads[ns].code.label
        got = self.request("new", {"label": label}, label,
                           deadline=time.monotonic() + self.timeout)["ns"]
        if got != ns:
            raise WorkerLost(f"{label}: the process running your code lost count of its "
                             "namespaces.")
        load.raised = None
        for number, block in enumerate(load.code.blocks):
            if number in load.skipped:
                continue
            cell = load.code.cell(number)
            try:
                reply = self.request("run", {"ns": ns, "label": label, "block": block,
                                             "cell": cell}, cell,
                                     deadline=time.monotonic() + self.timeout)
            except (TimeLimit, WorkerLost) as e:
                why = f"did not finish within {self.timeout:g} s" if isinstance(e, TimeLimit) \
                    else "ended the process running your code"
                load.skipped[number] = f"{label}: {cell} {why}, so it was not run"
                self._stop()
                self.lost = None
                raise _Restart from None
            load.raised = load.raised or reply["problem"]
        load.exported = self.request("export", {"ns": ns, "names": list(load.names)}, label,
                                     deadline=time.monotonic() + self.timeout)

    def call(self, fn: RemoteFunction, args: tuple, kwargs: dict) -> Any:
        reply = self.request("call", {"ns": fn.ns, "name": fn.__name__, "args": list(args),
                                      "kwargs": kwargs}, fn.__name__)
        mine = arrays_in((list(args), kwargs))
        for index, value in reply["changed"]:  # the student's in-place writes, made here too
            if 0 <= index < len(mine) and getattr(value, "shape", None) == mine[index].shape:
                with contextlib.suppress(ValueError, TypeError):  # read-only, or not castable
                    mine[index][...] = value
        return reply["result"]

    @contextlib.contextmanager
    def using(self, functions: dict[str, RemoteFunction]) -> Iterator[None]:
        """While the block runs, the library *in the sandbox* calls these functions in place of
        its own (the student's functions call the library's tables there)."""
        uses = [[name, fn.ns] for name, fn in functions.items()]
        self.request("use", {"uses": uses}, "use_functions")
        try:
            yield
        finally:
            if self.lost is None:
                self.request("use", {"uses": []}, "use_functions")

    @contextlib.contextmanager
    def standing_in(self, ns: int, names: list[str]) -> Iterator[None]:
        """While the block runs, ``names`` in the answers' namespace ``ns`` are bound to the
        library's functions (exercises.standing_in)."""
        self.request("stand_in", {"ns": ns, "names": names}, "the reference's stand-in")
        try:
            yield
        finally:
            if self.lost is None:
                self.request("stand_in", {"ns": ns, "names": []}, "the reference's stand-in")

    def train(self, functions: dict[str, RemoteFunction], argv: list[str]) -> int:
        """``numpy-seq2seq ARGV`` run in the sandbox with these functions in place of the
        library's; its exit status."""
        with self.using(functions):
            return self.request("train", {"argv": argv}, "the training run")["status"]

    def revive(self) -> None:
        """After ``WorkerLost`` or ``TimeLimit``: a fresh process with the same answers."""
        if self.lost is not None:
            self._stop()
            self.lost = None
            self._build(len(self.loads))

    def close(self) -> None:
        self._stop()
        self.log.close()

    # -----------------------------------------------------------------------------------------
    def request(self, op: str, value: dict, what: str, deadline: float | None = None) -> Any:
        """Send one request and return the reply's value (raising what the student's code
        raised as ``StudentRaised``); ``deadline`` defaults to the sandbox's."""
        if self.lost is not None:
            raise WorkerLost(f"{what}: {self.lost}")
        deadline = self.deadline if deadline is None else deadline
        process = self._process()
        encoder = Encoder()
        node = encoder.node(value)
        try:
            _write_message(process, {"op": op, "value": node}, encoder.buffers, deadline)
            header, buffers = read_message(lambda n: _read(process, n, deadline))
            result = Decoder(buffers).value(header.get("value"))
            raised = header.get("raised")
            if raised is not None:
                raise StudentRaised(Raised(**{k: raised[k] for k in Raised.__annotations__}))
            if not isinstance(result, dict):
                raise WireError("a reply that is not a dict")
            return result
        except TimeoutError:
            self.lost = f"the time limit of {self.timeout:g} s was reached"
            self._stop()
            raise TimeLimit(f"{what}: {self.lost} while it ran.") from None
        except (EOFError, OSError):
            self.lost = self._ended()
        except (WireError, KeyError, TypeError, ValueError, RecursionError) as e:
            self.lost = f"the process running your code sent something that is not a reply ({e})"
        self._stop()
        raise WorkerLost(f"{what}: {self.lost}.")

    def _process(self) -> subprocess.Popen:
        if self.process is None:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "numpy_seq2seq.course.worker"], cwd=self.folder,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                env={**os.environ, **WORKER_ENV}, start_new_session=True)
            os.set_blocking(self.process.stdin.fileno(), False)
        return self.process

    def _ended(self) -> str:
        try:
            status = self.process.wait(timeout=2) if self.process else None
        except subprocess.TimeoutExpired:
            status = "none yet: it closed its output"
        self.log.seek(0)
        last = [line for line in self.log.read().decode("utf-8", "replace").splitlines()
                if line.strip()][-1:]
        return f"the process running your code ended (exit status {status})" + (
            f": {last[0].strip()[:200]}" if last else "")

    def _stop(self) -> None:
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # its children too
            except (ProcessLookupError, PermissionError):
                pass
            self.process.wait()
            for stream in (self.process.stdin, self.process.stdout):
                stream.close()
            self.process = None


class _Restart(Exception):
    """A cell was left out: the answers are loaded again in a fresh process."""


@dataclass
class _Load:
    """Answer code loaded into the sandbox, and what became of its cells."""

    code: AnswerCode
    names: tuple[str, ...]
    skipped: dict[int, str] = field(default_factory=dict)  # block -> why it was left out
    raised: str | None = None  # the first problem a cell that ran had
    exported: dict = field(default_factory=dict)  # the last "export" reply

    def problem(self) -> str | None:
        skipped = [self.skipped[k] for k in sorted(self.skipped)]
        return self.code.problem() or (skipped[0] if skipped else None) or self.raised


def _write_message(process: subprocess.Popen, header: dict, buffers: list[bytes],
                   deadline: float) -> None:
    class Pipe:  # write_message's stream: non-blocking writes that give up at the deadline
        @staticmethod
        def write(data: bytes) -> None:
            view, fd = memoryview(data), process.stdin.fileno()
            while view:
                if not select.select([], [fd], [], _left(deadline))[1]:
                    raise TimeoutError
                view = view[os.write(fd, view):]

        @staticmethod
        def flush() -> None:
            pass

    write_message(Pipe, header, buffers)


def _read(process: subprocess.Popen, n: int, deadline: float) -> bytes:
    chunks, fd = [], process.stdout.fileno()
    while n:
        if not select.select([fd], [], [], _left(deadline))[0]:
            raise TimeoutError
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left
