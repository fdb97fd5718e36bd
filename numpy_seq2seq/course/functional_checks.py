"""Checks of forward/backward pairs: the cells, BPTT, the masked softmax, the cross-entropy, the
three scores and the attention layer.

A forward is run on fixed float64 inputs and compared with the library's (≤ 1e-10), cache
included: the backward reads the cache's fields, so a student's forward must return the
library's NamedTuple for the two to be interchangeable in the model. A backward is given the
library forward's cache (for BPTT: the student's own ``rnn_forward``'s) and compared with the
library's gradients (≤ 1e-8) and with centred differences of the student's own forward
(≤ 1e-7; of the library's, if the student's forward does not pass). Both must leave their
inputs alone and keep float32 as float32.

When a result is wrong, the message names the fault if it is one of the known mistakes listed
with each pair (each is recognised from what the function returns, never from its source), and
otherwise says how the worst array is wrong (transposed, wrong sign or scale, which gate block,
which time step).

Letters: N batch, T time (or decoder) steps, S source positions, D input features, H hidden
units, A concat attention size, V vocabulary, G gates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..functional.attention import AttentionCache, ConcatCache, DotCache, GeneralCache
from ..functional.gru import GRUCache
from ..functional.lstm import LSTMCache
from ..functional.recurrent import rnn_backward, rnn_forward
from ..functional.rnn import RNNCache
from ..functional.softmax import CrossEntropyCache, SoftmaxCache
from ..gradcheck import numeric_gradient, rel_error, sample_indices
from ..substitute import REPLACEABLE
from .grading import (
    MATCH,
    TOL_FORWARD,
    TOL_NUMERIC,
    TOL_REFERENCE,
    CheckFailed,
    Layout,
    NotImplementedYet,
    as_array,
    call,
    difference,
    errors,
    matches,
    require_float32,
    require_unchanged,
    snapshot,
    to_dtype,
    unpack,
    wrong_message,
)

N, T, S, D, H, A, V = 3, 5, 7, 4, 6, 5, 9  # distinct, so a transpose or a swapped axis fails
SEED = 8  # every check's inputs come from this seed
MAX_COORDS = 120  # centred differences at most this many coordinates per array
# rnn_forward / rnn_backward are not replaceable (the model's unrolled layer is generic over
# cells and never calls them), so use_functions cannot touch them
_UNROLLED = {"rnn_forward": rnn_forward, "rnn_backward": rnn_backward}


# exercise -> the exercises its answer calls by name: while it is checked, the library's function
# stands in for each of those that fails its own check (exercises.evaluate, and the message says
# so), so that one mistake costs one exercise; for the same reason, calling the library's under
# one of these names is charged to that exercise alone (ownership.py). rnn_backward reaches
# rnn_step_forward through the student's rnn_forward, which makes its cache
CALLS = {"rnn_forward": ("rnn_step_forward",),
         "rnn_backward": ("rnn_step_forward", "rnn_step_backward"),
         "attention_backward": ("masked_softmax_backward",)}


def reference(name: str) -> Callable:
    """The library's own function of that name, also while ``use_functions`` is in force."""
    return REPLACEABLE[name] if name in REPLACEABLE else _UNROLLED[name]


@dataclass(frozen=True)
class Case:
    """What a fault test may look at: the inputs, the reference, and the student's results."""

    inputs: dict[str, Any]
    cache: Any  # the cache the backward was given
    douts: tuple  # the upstream gradients
    ref: dict[str, np.ndarray]  # the reference outputs (forward) or gradients (backward)
    got: dict[str, np.ndarray]  # the student's
    student: Callable  # the student's function


@dataclass(frozen=True)
class Fault:
    """A known mistake: ``test(case)`` is True when the student's results show it."""

    hint: str
    test: Callable[[Case], bool]


@dataclass(frozen=True)
class FunctionPair:
    """A forward/backward pair of the functional contract, and how to check it."""

    forward: str  # the library's name, e.g. "rnn_step_forward"
    backward: str
    make_inputs: Callable[[np.random.Generator], dict[str, Any]]  # float64, fixed by the seed
    outputs: tuple[str, ...]  # the forward's values before the cache, e.g. ("h", "c")
    differentiable: int  # how many of those get an upstream gradient (attention: h̃ only)
    returns: tuple[str, ...]  # the backward's values by the input they differentiate
    cache_type: type | None  # the NamedTuple the forward must return; None: the student's own
    layouts: dict[str, Layout] = field(default_factory=dict)  # by gradient label
    forward_faults: tuple[Fault, ...] = ()
    backward_faults: tuple[Fault, ...] = ()
    alone_hints: dict[str, str] = field(default_factory=dict)  # label -> hint if only it's wrong
    diagnose: Callable[[Case], str | None] | None = None  # a last resort before the generic words
    # how to derive the backward, for a notebook that withholds its formulas (a1, a2: deriving
    # them is the exercise): added to a failure no known mistake explains, so the hint comes
    # when a check fails, not before
    derivation: str | None = None


# ---------------------------------------------------------------------------------------------
# running a forward

def _forward_values(pair: FunctionPair, name: str, out) -> tuple[dict[str, Any], Any]:
    *values, cache = unpack(name, out, (*pair.outputs, "cache"))
    return dict(zip(pair.outputs, values)), cache


def check_forward(pair: FunctionPair, fn: Callable) -> str:
    """Check a student's forward; returns the success message or raises CheckFailed."""
    name = pair.forward
    inputs = pair.make_inputs(np.random.default_rng(SEED))
    ref_out, ref_cache = _forward_values(pair, name, reference(name)(*inputs.values()))
    before = snapshot(inputs)
    got_out, got_cache = _forward_values(pair, name, call(name, fn, *inputs.values()))
    got = {k: as_array(f"{name}'s {k}", got_out[k], ref_out[k]) for k in pair.outputs}
    errs = errors(got, ref_out)
    if max(errs.values()) > TOL_FORWARD:
        case = Case(inputs, None, (), ref_out, got, fn)
        hint = next((f.hint for f in pair.forward_faults if f.test(case)), None)
        worst = max(errs, key=errs.get)
        raise CheckFailed(wrong_message(name, errs, TOL_FORWARD,
                                        hint or difference(got[worst], ref_out[worst])))
    if pair.cache_type is not None:
        _check_cache(name, pair.cache_type, got_cache, ref_cache)
    require_unchanged(name, before, inputs)
    out32, _ = _forward_values(pair, name, call(name, fn, *to_dtype(inputs, np.float32).values()))
    require_float32(name, out32)
    return (f"{name} passes: {', '.join(pair.outputs)} and the cache match the library "
            f"(relative error {max(errs.values()):.1e}); inputs untouched; float32 stays "
            "float32.")


def _check_cache(name: str, cache_type: type, got, ref) -> None:
    fields = ", ".join(cache_type._fields)
    if type(got) is not cache_type:
        raise CheckFailed(f"{name} must return its cache as the library's "
                          f"{cache_type.__name__}({fields}), got {type(got).__name__}; the "
                          "backward reads the cache by field name.")
    for key in cache_type._fields:
        g, r = getattr(got, key), getattr(ref, key)
        if isinstance(r, np.ndarray):
            ok = isinstance(g, np.ndarray) and g.shape == r.shape and rel_error(g, r) <= TOL_FORWARD
        elif isinstance(r, tuple) and hasattr(r, "_fields"):
            ok = type(g) is type(r)  # a nested cache: its own forward is checked elsewhere
        else:
            ok = g == r if not isinstance(g, np.ndarray) else False
        if not ok:
            raise CheckFailed(f"{name}: the cache's field {key!r} differs from the library's "
                              f"{cache_type.__name__}({fields}).")


# ---------------------------------------------------------------------------------------------
# running a backward

def _labels(pair: FunctionPair, ref_out) -> dict[str, tuple]:
    """Gradient label -> the path of the input it differentiates, e.g. "dWh" -> ("Wh",)."""
    paths = {}
    for i, r in enumerate(pair.returns):
        if r == "grads":
            for k in ref_out[i]:
                paths[f"grads[{k!r}]"] = ("grads", k)
        else:
            paths[f"d{r}"] = (r,)
    return paths


def _grad_values(pair: FunctionPair, name: str, out, paths: dict[str, tuple]) -> dict[str, Any]:
    out = (out,) if len(pair.returns) == 1 else unpack(name, out, [f"d{r}" for r in pair.returns])
    values = {}
    for i, r in enumerate(pair.returns):
        if r != "grads":
            values[f"d{r}"] = out[i]
            continue
        keys = [p[1] for p in paths.values() if p[0] == "grads"]
        if not isinstance(out[i], dict) or sorted(out[i]) != sorted(keys):
            raise CheckFailed(f"{name} should return its parameter gradients as a dict with the "
                              f"keys {sorted(keys)}, got {_describe(out[i])}.")
        values.update({f"grads[{k!r}]": out[i][k] for k in keys})
    return values


def _describe(value) -> str:
    return f"keys {sorted(value)}" if isinstance(value, dict) else type(value).__name__


def _input_at(inputs: dict, path: tuple) -> np.ndarray:
    if path[0] != "grads":
        return inputs[path[0]]
    return inputs[path[1]] if path[1] in inputs else inputs["p"][path[1]]


def _douts(pair: FunctionPair, values: dict, rng: np.random.Generator) -> tuple:
    return tuple(rng.standard_normal(np.shape(values[k])) if np.ndim(values[k]) else 1.7
                 for k in pair.outputs[: pair.differentiable])


def check_backward(pair: FunctionPair, fn: Callable, forward: Callable | None = None) -> str:
    """Check a student's backward (with their forward, if given, for the centred differences).

    Returns the success message or raises CheckFailed.
    """
    rng = np.random.default_rng(SEED)
    inputs = pair.make_inputs(rng)
    own_forward, inputs, note = _passing_forward(pair, forward, inputs)
    try:
        return _check_backward(pair, fn, own_forward, inputs, rng) + note
    except NotImplementedYet:  # nothing was graded: the note would be noise
        raise
    except CheckFailed as e:
        raise CheckFailed(f"{e}{note}") from None


def _check_backward(pair: FunctionPair, fn: Callable, own_forward: Callable | None,
                    inputs: dict, rng: np.random.Generator) -> str:
    name = pair.backward
    make_cache = reference(pair.forward) if pair.cache_type else own_forward
    values, cache = _forward_values(pair, pair.forward, call(pair.forward, make_cache,
                                                             *inputs.values()))
    douts = _douts(pair, values, rng)
    _, lib_cache = _forward_values(pair, pair.forward, reference(pair.forward)(*inputs.values()))
    ref_raw = reference(name)(*douts, lib_cache)
    paths = _labels(pair, ref_raw if len(pair.returns) > 1 else (ref_raw,))
    ref = _grad_values(pair, name, ref_raw, paths)
    args = {f"d{k}": d for k, d in zip(pair.outputs, douts)} | {"cache": cache}
    before = snapshot(args)
    got_raw = _grad_values(pair, name, call(name, fn, *douts, cache), paths)
    got = {k: as_array(f"{name}'s {k}", got_raw[k], ref[k]) for k in ref}
    errs = errors(got, ref)
    if max(errs.values()) > TOL_REFERENCE:
        raise CheckFailed(_backward_message(pair, Case(inputs, cache, douts, ref, got, fn), errs))
    require_unchanged(name, before, args)
    numeric = _numeric_errors(pair, own_forward or reference(pair.forward), inputs,
                              douts, paths, got)
    worst = max(numeric, key=numeric.get)
    mine = own_forward is not None and own_forward is not reference(pair.forward)
    whose = f"your {pair.forward}" if mine else f"the library's {pair.forward}"
    if numeric[worst] > TOL_NUMERIC:
        raise CheckFailed(f"{name}: {worst} disagrees with centred differences of {whose} "
                          f"(relative error {numeric[worst]:.1e}).")
    _check_float32(pair, fn, make_cache, inputs, douts, paths)
    what = {1: "its gradient matches", 2: "both gradients match"}.get(
        len(ref), f"all {len(ref)} gradients match")
    return (f"{name} passes: {what} the library (worst relative error "
            f"{max(errs.values()):.1e}) and centred differences of {whose} (worst "
            f"{numeric[worst]:.1e}); inputs untouched; float32 stays float32.")


def _passing_forward(pair: FunctionPair, forward: Callable | None, inputs: dict
                     ) -> tuple[Callable | None, dict, str]:
    """(the student's forward if it passes its own check, else None; the inputs to check the
    backward on; a note for the message).

    For a pair whose cache is the student's own (BPTT) the backward needs the student's forward.
    If it fails on the padded batch but is right on the same batch without padding, the backward
    is checked there, so that a mistake in the forward's padding is not charged twice; else
    CheckFailed.
    """
    if forward is None and pair.cache_type is not None:
        return None, inputs, ""
    if forward is None:
        raise CheckFailed(f"{pair.backward} runs on the cache of your {pair.forward}, which "
                          "was not given.")
    try:
        check_forward(pair, forward)
        return forward, inputs, ""
    except CheckFailed as e:
        if pair.cache_type is not None:
            return None, inputs, ""
        failure = e
    if "mask" in inputs and not isinstance(failure, NotImplementedYet):
        unpadded = {**inputs, "mask": np.ones_like(inputs["mask"])}
        try:
            want, _ = _forward_values(pair, pair.forward, reference(pair.forward)(
                *unpadded.values()))
            got, _ = _forward_values(pair, pair.forward, call(pair.forward, forward,
                                                              *unpadded.values()))
            if max(errors({k: as_array(k, got[k], want[k]) for k in want}, want).values()) \
                    <= TOL_FORWARD:
                return forward, unpadded, (f" Graded on the batch without padding, since your "
                                           f"{pair.forward} fails its check on the padded one.")
        except CheckFailed:
            pass
    kind = NotImplementedYet if isinstance(failure, NotImplementedYet) else CheckFailed
    raise kind(f"{pair.backward} runs on the cache of your {pair.forward}, which must pass "
               f"first: {failure}")


def _backward_message(pair: FunctionPair, case: Case, errs: dict[str, float]) -> str:
    wrong = [k for k, e in errs.items() if e > TOL_REFERENCE]
    hint = next((f.hint for f in pair.backward_faults if f.test(case)), None)
    if hint is None and len(wrong) == 1 and wrong[0] in pair.alone_hints:
        hint = pair.alone_hints[wrong[0]]
    if hint is None and pair.diagnose is not None:
        hint = pair.diagnose(case)
    if hint is None:  # the first gradient (in the order returned) that says something useful
        hint = next((d if len(wrong) == 1 else f"in {k}, {d}" for k in wrong
                     if (d := difference(case.got[k], case.ref[k], pair.layouts.get(k)))), None)
        if pair.derivation and (hint is None or "wrong in " in hint):  # only where, not what
            hint = f"{hint}; {pair.derivation}" if hint else pair.derivation
    return wrong_message(pair.backward, errs, TOL_REFERENCE, hint)


def _loss(pair: FunctionPair, forward: Callable, inputs: dict, douts: tuple) -> Callable[[], float]:
    def f() -> float:
        values, _ = _forward_values(pair, pair.forward, forward(*inputs.values()))
        return float(sum(np.sum(np.asarray(values[k]) * d)
                         for k, d in zip(pair.outputs, douts)))
    return f


def _numeric_errors(pair, forward, inputs, douts, paths, got) -> dict[str, float]:
    f = _loss(pair, forward, inputs, douts)
    rng = np.random.default_rng(SEED)
    out = {}
    for label, path in paths.items():
        x = _input_at(inputs, path)
        idx = sample_indices(x.shape, MAX_COORDS, rng)
        num = call(pair.forward, numeric_gradient, f, x, 1e-5, idx)
        out[label] = rel_error(np.asarray(got[label]).reshape(-1)[idx], num)
    return out


def _check_float32(pair, fn, make_cache, inputs, douts, paths) -> None:
    inputs32 = to_dtype(inputs, np.float32)
    _, cache32 = _forward_values(pair, pair.forward, call(pair.forward, make_cache,
                                                          *inputs32.values()))
    douts32 = tuple(np.asarray(d, dtype=np.float32) if np.ndim(d) else d for d in douts)
    require_float32(pair.backward, _grad_values(pair, pair.backward,
                                                call(pair.backward, fn, *douts32, cache32), paths))


# ---------------------------------------------------------------------------------------------
# faults recognised from what a function returns

def output_fault(hint: str, expected: Callable[[Case], dict[str, np.ndarray]]) -> Fault:
    """A mistake whose results ``expected(case)`` computes (with the library's functions)."""
    return Fault(hint, lambda case: matches(case.got, expected(case)))


def gate_fault(hint: str, backward: str, factors: dict[int, Callable]) -> Fault:
    """A mistake in the gradient of the gate pre-activations, da (N, G·H).

    Given a cache whose W_x is the identity, a cell's backward returns dx = da W_xᵀ = da, so the
    student's da can be read off and compared with the reference da whose gate block k is
    multiplied by ``factors[k](cache, douts)`` (e.g. 1 / σ′ for a missing σ′).
    """

    def test(case: Case) -> bool:
        cache = case.cache._replace(Wx=np.eye(case.cache.Wx.shape[1]))
        try:
            da_got = np.asarray(call(backward, case.student, *case.douts, cache)[0])
        except (CheckFailed, IndexError, TypeError):
            return False
        da = reference(backward)(*case.douts, cache)[0].copy()
        Hc = case.cache.h_prev.shape[1]
        with np.errstate(all="ignore"):
            for k, factor in factors.items():
                da[:, k * Hc:(k + 1) * Hc] *= factor(case.cache, case.douts)
        return da_got.shape == da.shape and rel_error(da_got, da) <= MATCH

    return Fault(hint, test)


def _replaced_cache(backward: str, **fields) -> Callable[[Case], dict[str, np.ndarray]]:
    """The library backward's gradients on a cache with some fields replaced (computed from the
    cache and the upstream gradients), labelled like the student's."""

    def expected(case: Case) -> dict[str, np.ndarray]:
        new = {k: f(case.cache, case.douts) for k, f in fields.items()}
        out = reference(backward)(*case.douts, case.cache._replace(**new))
        out = out if isinstance(out, tuple) else (out,)
        flat = []
        for value in out:
            flat.extend(value.values() if isinstance(value, dict) else [value])
        return dict(zip(case.ref, flat))

    return expected


# ---------------------------------------------------------------------------------------------
# the cells

def _cell_inputs(cell: str, gates: int) -> Callable[[np.random.Generator], dict]:
    def make(rng: np.random.Generator) -> dict[str, Any]:
        d = {"x": rng.standard_normal((N, D)), "h_prev": rng.standard_normal((N, H))}
        if cell == "lstm":
            d["c_prev"] = rng.standard_normal((N, H))
        d["Wx"] = 0.5 * rng.standard_normal((D, gates * H))
        d["Wh"] = 0.5 * rng.standard_normal((H, gates * H))
        d["b"] = 0.5 * rng.standard_normal(gates * H)
        if cell == "gru":
            d["bhn"] = 0.5 * rng.standard_normal(H)
        return d
    return make


def _gate_layouts(gates: tuple[str, ...]) -> dict[str, Layout]:
    return {k: Layout(-1, gates) for k in ("dWx", "dWh", "db")}


def _no_dsigmoid(backward: str, gates: tuple[str, ...], gate: str, role: str) -> Fault:
    """σ′ = s(1 − s) of one gate, whose cached value is s, is missing from its block of da."""
    return gate_fault(f"σ′ of the {role} gate, {gate} ⊙ (1 − {gate}), is missing", backward,
                      {gates.index(gate): lambda cache, douts: 1 / (
                          getattr(cache, gate) * (1 - getattr(cache, gate)))})


_RNN_TANH = "the tanh′ factor (1 − h²) is missing: da = dh ⊙ (1 − h²)"


def _rnn_forward_fault(hint: str, change: Callable[[dict], dict]) -> Fault:
    return output_fault(hint, lambda case: {"h": reference("rnn_step_forward")(
        *change(dict(case.inputs)).values())[0]})


RNN_STEP = FunctionPair(
    "rnn_step_forward", "rnn_step_backward", _cell_inputs("rnn", 1), ("h",), 1,
    ("x", "h_prev", "Wx", "Wh", "b"), RNNCache,
    forward_faults=(
        _rnn_forward_fault("h_prev is multiplied by W_h transposed; use h_prev @ Wh",
                           lambda d: {**d, "Wh": d["Wh"].T}),
        _rnn_forward_fault("the bias b is missing", lambda d: {**d, "b": 0 * d["b"]}),
        output_fault("tanh is missing", lambda case: {"h": case.inputs["x"] @ case.inputs["Wx"]
                     + case.inputs["h_prev"] @ case.inputs["Wh"] + case.inputs["b"]}),
        output_fault("tanh is applied twice: h = tanh(a), once",
                     lambda case: {"h": np.tanh(case.ref["h"])}),
    ),
    backward_faults=(gate_fault(_RNN_TANH, "rnn_step_backward",
                                {0: lambda c, d: 1 / (1 - c.h * c.h)}),),
    alone_hints={"db": "db sums da over the batch (axis 0)"},
    derivation=("derive it in two stages: da = dh ⊙ tanh′(a) with tanh′(a) = 1 − h² from the "
                "cached h, then each input's gradient is da times the other factor of its "
                "product, transposed so the shapes fit (dx = da W_xᵀ, dW_x = xᵀ da, and so for "
                "h_prev and W_h), the weights' and db summed over the batch"),
)

_LSTM_GATES = ("i", "f", "g", "o")
_dc_total = lambda c, d: d[1] + d[0] * c.o * (1 - c.tanh_c ** 2)  # noqa: E731
LSTM_STEP = FunctionPair(
    "lstm_step_forward", "lstm_step_backward", _cell_inputs("lstm", 4), ("h", "c"), 2,
    ("x", "h_prev", "c_prev", "Wx", "Wh", "b"), LSTMCache, layouts=_gate_layouts(_LSTM_GATES),
    backward_faults=(
        _no_dsigmoid("lstm_step_backward", _LSTM_GATES, "i", "input"),
        _no_dsigmoid("lstm_step_backward", _LSTM_GATES, "f", "forget"),
        gate_fault("tanh′ of the candidate, 1 − g², is missing", "lstm_step_backward",
                   {2: lambda c, d: 1 / (1 - c.g * c.g)}),
        _no_dsigmoid("lstm_step_backward", _LSTM_GATES, "o", "output"),
        gate_fault("tanh′ of the cell, 1 − tanh²(c_t), is missing from dc", "lstm_step_backward",
                   dict.fromkeys((0, 1, 2), lambda c, d: (d[1] + d[0] * c.o) / _dc_total(c, d))),
        gate_fault("the incoming dc is dropped: dc_t = dc + dh ⊙ o ⊙ (1 − tanh²(c_t))",
                   "lstm_step_backward", dict.fromkeys(
                       (0, 1, 2), lambda c, d: d[0] * c.o * (1 - c.tanh_c ** 2) / _dc_total(c, d))),
    ),
    alone_hints={"dc_prev": "dc_prev = dc_t ⊙ f, with dc_t the total gradient reaching c_t",
                 "db": "db sums da over the batch (axis 0)"},
    derivation=("c_t gets dc_t = dc + dh ⊙ o ⊙ (1 − tanh²(c_t)); each gate's pre-activation "
                "gradient is what reaches its output times its σ′ or tanh′ from the cached "
                "values (a_i: dc_t ⊙ g, a_f: dc_t ⊙ c_prev, a_g: dc_t ⊙ i, a_o: dh ⊙ tanh(c_t)); "
                "stacked i, f, g, o they give the products as in rnn_step_backward, and "
                "dc_prev = dc_t ⊙ f"),
)

_GRU_GATES = ("r", "z", "n")
GRU_STEP = FunctionPair(
    "gru_step_forward", "gru_step_backward", _cell_inputs("gru", 3), ("h",), 1,
    ("x", "h_prev", "Wx", "Wh", "b", "bhn"), GRUCache, layouts=_gate_layouts(_GRU_GATES),
    backward_faults=(
        _no_dsigmoid("gru_step_backward", _GRU_GATES, "r", "reset"),
        _no_dsigmoid("gru_step_backward", _GRU_GATES, "z", "update"),
        gate_fault("tanh′ of the candidate, 1 − n², is missing", "gru_step_backward",
                   dict.fromkeys((0, 2), lambda c, d: 1 / (1 - c.n * c.n))),
        gate_fault("∂h/∂z has the wrong sign: h = (1 − z) ⊙ n + z ⊙ h_prev, so "
                   "∂h/∂z = h_prev − n", "gru_step_backward", {1: lambda c, d: -1.0}),
    ),
    alone_hints={"dbhn": "b_hn sits inside r ⊙ (h_prev W_hn + b_hn), so dbhn sums r ⊙ da_n "
                         "over the batch",
                 "db": "db sums da over the batch (axis 0)"},
)


# ---------------------------------------------------------------------------------------------
# BPTT over a ragged batch (the cache is the student's own)

def _bptt_inputs(rng: np.random.Generator) -> dict[str, Any]:
    lengths = np.array([T, 2, 4])
    return {"x": rng.standard_normal((N, T, D)), "h0": rng.standard_normal((N, H)),
            "Wx": 0.5 * rng.standard_normal((D, H)), "Wh": 0.5 * rng.standard_normal((H, H)),
            "b": 0.5 * rng.standard_normal(H), "mask": np.arange(T) < lengths[:, None]}


def _bptt_hint(case: Case) -> str | None:
    """Where dx is right says which part of the BPTT loop is wrong. The rows with padding are
    looked at before the steps: a loop that drops dh on padded rows leaves only the last step
    of those rows right, which is not the missing carry."""
    got, want = np.asarray(case.got["dx"]), case.ref["dx"]
    steps = want.shape[1]
    if want[:, -1].any() and not got[:, -1].any():
        return (f"dx at the last step, t = {steps - 1}, is zero: the loop starts one step late "
                "(off-by-one); start at t = T − 1")
    if (where := _padding_hint(got, want, case.inputs["mask"])) is not None:
        return where
    right = [t for t in range(steps) if rel_error(got[:, t], want[:, t]) <= MATCH]
    if right == [steps - 1]:
        return ("only the last step is right: the gradient from later steps never reaches "
                "earlier ones; carry dh_next (step t's dh_prev) into step t − 1")
    if right == list(range(1, steps)):
        return ("every step but t = 0 is right: the loop stops one step early (off-by-one); "
                "run it down to t = 0")
    if right == list(range(steps)) and _first_step_only(case):
        return ("dWx, dWh and db hold step 0's gradient only: the weights are shared by every "
                "step, so sum the steps' gradients (dWh += dWh_t, not dWh = dWh_t)")
    return None


def _padding_hint(got: np.ndarray, want: np.ndarray, mask: np.ndarray) -> str | None:
    """The message for dx right on every full row and wrong on a padded one, or None."""
    full = mask.all(axis=1)
    ok_rows = [rel_error(got[n], want[n]) <= MATCH for n in range(len(full))]
    if not (all(ok for ok, f in zip(ok_rows, full) if f) and not all(ok_rows)):
        return None
    if got[~mask].any():  # the cell ran backward on padded steps
        return ("the rows with padding are wrong: the padded steps get a gradient; where mask "
                "is False the state is carried, so the cell gets no gradient (give it dh with "
                "padded rows zeroed) and dh passes to h_{t−1} unchanged")
    return ("the rows with padding are wrong: dh does not pass through the padding; where mask "
            "is False the state was copied, so dh_next = dh there, not the cell's dh_prev")


def _first_step_only(case: Case) -> bool:
    """True if the student's weight gradients equal step 0's alone (computed here with the
    library's step functions), wherever they are wrong."""
    step_forward, step_backward = reference("rnn_step_forward"), reference("rnn_step_backward")
    x, h, Wx, Wh, b, mask = case.inputs.values()
    caches = []
    for t in range(x.shape[1]):
        h_new, cache = step_forward(x[:, t], h, Wx, Wh, b)
        h = np.where(mask[:, t, None], h_new, h)
        caches.append(cache)
    dhs, dh_next, first = case.douts[0], np.zeros_like(h), None
    for t in reversed(range(x.shape[1])):
        keep = mask[:, t, None]
        dh = dhs[:, t] + dh_next
        _, dh_prev, *first = step_backward(np.where(keep, dh, 0), caches[t])
        dh_next = np.where(keep, dh_prev, dh)
    wrong = [k for k in ("dWx", "dWh", "db") if rel_error(case.got[k], case.ref[k]) > MATCH]
    return bool(wrong) and all(rel_error(case.got[k], first[("dWx", "dWh", "db").index(k)])
                               <= MATCH for k in wrong)


def _carry_ignored(case: Case) -> dict[str, np.ndarray]:
    return {"hs": rnn_forward(*{**case.inputs, "mask": None}.values())[0]}


RNN_BPTT = FunctionPair(
    "rnn_forward", "rnn_backward", _bptt_inputs, ("hs",), 1, ("x", "h0", "Wx", "Wh", "b"), None,
    layouts={"dx": Layout(1, ("step",), blocks=False)},
    forward_faults=(
        output_fault("the padded steps are computed like real ones: where mask[n, t] is False, "
                     "row n keeps its state, h_t = h_{t−1}", _carry_ignored),
        output_fault("the padded steps are zero: where mask[n, t] is False, row n keeps its "
                     "state, h_t = h_{t−1}",
                     lambda case: {"hs": case.ref["hs"] * case.inputs["mask"][..., None]}),
    ),
    diagnose=_bptt_hint,
)


# ---------------------------------------------------------------------------------------------
# the masked softmax and the cross-entropy

def _softmax_inputs(rng: np.random.Generator) -> dict[str, Any]:
    scores = 2 * rng.standard_normal((N, T, S))
    scores[0, 1] += 750  # exp(750) overflows: only a stable softmax gets this row right
    lengths = np.array([S, 3, 0])  # the last row is fully masked: its weights must be 0, not NaN
    return {"scores": scores, "mask": (np.arange(S) < lengths[:, None])[:, None, :]}


def _naive_softmax_after(case: Case) -> dict[str, np.ndarray]:
    s = case.inputs["scores"]
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return {"p": e / e.sum(axis=-1, keepdims=True) * case.inputs["mask"]}


def _not_finite_in(index: tuple) -> Callable[[Case], bool]:
    return lambda case: not np.all(np.isfinite(np.asarray(case.got[next(iter(case.got))])[index]))


MASKED_SOFTMAX = FunctionPair(
    "masked_softmax_forward", "masked_softmax_backward", _softmax_inputs, ("p",), 1,
    ("scores",), SoftmaxCache,
    forward_faults=(
        Fault("the fully masked row gives NaN: fill masked scores with a large finite negative "
              "number (MASK_FILL), not −inf, and multiply the result by the mask",
              _not_finite_in((2,))),
        Fault("exp overflows on large scores (row 0, step 1 has scores near 750): subtract each "
              "row's maximum before exp", _not_finite_in((0, 1))),
        output_fault("the mask is applied after the softmax, so the weights of the real "
                     "positions no longer sum to 1; fill the masked scores first, then "
                     "normalise", _naive_softmax_after),
    ),
    backward_faults=(
        output_fault("the − Σ_k p_k dp_k term is missing: ds = p ⊙ (dp − Σ_k dp_k p_k)",
                     lambda case: {"dscores": case.cache.p * case.douts[0]}),
        output_fault("only the diagonal of the Jacobian is used: ds = p ⊙ (dp − Σ_k dp_k p_k), "
                     "not p ⊙ (1 − p) ⊙ dp",
                     lambda case: {"dscores": case.cache.p * (1 - case.cache.p) * case.douts[0]}),
    ),
)


def _ce_inputs(rng: np.random.Generator) -> dict[str, Any]:
    logits = rng.standard_normal((N, T, V))
    logits[1, 0] += 750  # a naive log(softmax) overflows here
    lengths = np.array([T, 2, 4])
    return {"logits": logits, "targets": rng.integers(0, V, (N, T)),
            "mask": np.arange(T) < lengths[:, None]}


def _ce_scaled(factor: Callable[[Case], float]) -> Callable[[Case], dict[str, float]]:
    return lambda case: {"loss": case.ref["loss"] * factor(case)}


CROSS_ENTROPY = FunctionPair(
    "cross_entropy_forward", "cross_entropy_backward", _ce_inputs, ("loss",), 1, ("logits",),
    CrossEntropyCache,
    forward_faults=(
        Fault("the loss is not finite: exp overflows on large logits; compute log softmax as "
              "z − max − log Σ exp(z − max)", _not_finite_in(())),
        output_fault("the mean is taken over all N·T positions, padding included; divide by "
                     "the number of non-padding targets, Σ mask",
                     _ce_scaled(lambda c: c.inputs["mask"].sum() / c.inputs["mask"].size)),
        output_fault("the losses are summed, not averaged over the Σ mask non-padding targets",
                     _ce_scaled(lambda c: c.inputs["mask"].sum())),
        output_fault("padding is not masked: only targets with mask True count",
                     lambda case: {"loss": reference("cross_entropy_forward")(
                         case.inputs["logits"], case.inputs["targets"],
                         np.ones_like(case.inputs["mask"]))[0]}),
    ),
    backward_faults=(
        output_fault("padding gets a gradient: multiply by the mask",
                     _replaced_cache("cross_entropy_backward",
                                     mask=lambda c, d: np.ones_like(c.mask))),
        output_fault("dloss is ignored: the gradient is dloss · mask ⊙ (softmax(z) − onehot(y)) "
                     "/ Σ mask", lambda case: {"dlogits": case.ref["dlogits"] / case.douts[0]}),
        output_fault("the 1 / Σ mask of the mean is missing",
                     lambda case: {"dlogits": case.ref["dlogits"] * case.cache.count}),
    ),
)


# ---------------------------------------------------------------------------------------------
# the three scores and the attention layer

def _score_inputs(*params: str) -> Callable[[np.random.Generator], dict]:
    shapes = {"W_a_general": (H, H), "W_a_concat": (2 * H, A), "v_a": (A,)}

    def make(rng: np.random.Generator) -> dict[str, Any]:
        d = {"hd": rng.standard_normal((N, T, H)), "hs": rng.standard_normal((N, S, H))}
        for p in params:
            d[p.split("_")[0] + "_a"] = 0.5 * rng.standard_normal(shapes[p])
        return d
    return make


_SCORE_RETURNS = ("hd", "hs", "grads")
DOT_SCORE = FunctionPair("dot_score_forward", "dot_score_backward", _score_inputs(), ("scores",), 1,
                 _SCORE_RETURNS, DotCache)
GENERAL_SCORE = FunctionPair(
    "general_score_forward", "general_score_backward", _score_inputs("W_a_general"),
    ("scores",), 1, _SCORE_RETURNS, GeneralCache,
    forward_faults=(
        output_fault("W_a is transposed: score = (h_t W_a) · h̄_s", lambda case: {
            "scores": reference("general_score_forward")(
                case.inputs["hd"], case.inputs["hs"], case.inputs["W_a"].T)[0]}),
    ),
    backward_faults=(
        output_fault("dhd misses the product with W_aᵀ: dhd = (dscores h̄) W_aᵀ",
                     _replaced_cache("general_score_backward",
                                     W_a=lambda c, d: np.eye(c.W_a.shape[0]))),
        output_fault("dhd uses W_a where W_aᵀ belongs", _replaced_cache(
            "general_score_backward", W_a=lambda c, d: c.W_a.T)),
    ),
)


def _concat_no_tanh(case: Case) -> dict[str, np.ndarray]:
    out = _replaced_cache("concat_score_backward", act=lambda c, d: np.zeros_like(c.act))(case)
    out["grads['v_a']"] = case.ref["grads['v_a']"]  # v_a's gradient does not pass the tanh
    return out


CONCAT_SCORE = FunctionPair(
    "concat_score_forward", "concat_score_backward",
    _score_inputs("W_a_concat", "v_a"), ("scores",), 1, _SCORE_RETURNS, ConcatCache,
    forward_faults=(
        output_fault("the halves of W_a are swapped: rows [:H] act on h_t, rows [H:] on h̄_s",
                     lambda case: {"scores": reference("concat_score_forward")(
                         case.inputs["hd"], case.inputs["hs"],
                         np.roll(case.inputs["W_a"], H, axis=0), case.inputs["v_a"])[0]}),
    ),
    backward_faults=(
        output_fault("tanh′ = 1 − act² is missing: dpre = dscores ⊙ v_a ⊙ (1 − act²)",
                     _concat_no_tanh),
    ),
    alone_hints={"grads['v_a']": "dv_a = Σ_{n,t,s} dscores[n, t, s] · act[n, t, s, :], with act "
                                 "= tanh(W_a [h_t; h̄_s]) from the cache (after the tanh)"},
)


def _attention_inputs(rng: np.random.Generator) -> dict[str, Any]:
    lengths = np.array([S, 3, 5])
    return {"score": "general", "hd": rng.standard_normal((N, T, H)),
            "hs": rng.standard_normal((N, S, H)), "src_mask": np.arange(S) < lengths[:, None],
            "p": {"W_c": 0.5 * rng.standard_normal((2 * H, H)),
                  "W_a": 0.5 * rng.standard_normal((H, H))}}


def _zeros(name: str) -> Callable:
    return lambda c, d: np.zeros_like(getattr(c, name))


ATTENTION = FunctionPair(
    "attention_forward", "attention_backward", _attention_inputs, ("h_tilde", "weights"), 1,
    _SCORE_RETURNS, AttentionCache,
    backward_faults=(
        output_fault("tanh′ of h̃ is missing: dpre = dh̃ ⊙ (1 − h̃²)",
                     _replaced_cache("attention_backward", h_tilde=_zeros("h_tilde"))),
        output_fault("h_t's direct path is missing: h_t enters h̃_t through W_c[H:] as well as "
                     "through the score", _replaced_cache(
                         "attention_backward", W_c=lambda c, d: np.concatenate(
                             [c.W_c[: c.W_c.shape[1]], 0 * c.W_c[c.W_c.shape[1]:]]))),
        output_fault("h̄_s's path through the context is missing: dh̄ gets aᵀ dc as well as "
                     "the score's part", _replaced_cache("attention_backward",
                                                         weights=_zeros("weights"))),
    ),
    alone_hints={"grads['W_c']": "dW_c = [c_t; h_t]ᵀ dpre, summed over every (n, t)"},
)

# every forward and backward name -> its pair, in the order of the assignments
FUNCTION_PAIRS = {name: p for p in (RNN_STEP, RNN_BPTT, LSTM_STEP, GRU_STEP, CROSS_ENTROPY,
                           MASKED_SOFTMAX, DOT_SCORE, GENERAL_SCORE, CONCAT_SCORE, ATTENTION)
         for name in (p.forward, p.backward)}
