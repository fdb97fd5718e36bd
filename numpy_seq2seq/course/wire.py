"""What crosses between the grader and the process that runs a student's code: values as data.

The grader never unpickles what the other process sends (unpickling runs code). A message is a
JSON header describing the value plus the raw bytes of its arrays::

    4 bytes   header length (big-endian)
    8 bytes   length of the array bytes that follow the header
    header    UTF-8 JSON: {"value": <node>, "sizes": [bytes of array 0, 1, …], …}
    arrays    their bytes, one after the other

A node is JSON's own ``null``, ``true``/``false``, a number or a string, or an object tagged by
``"$"``: ``array`` (numeric or boolean dtype, its shape, the index of its bytes), ``scalar`` (a
NumPy scalar), ``float`` (inf or NaN), ``list``, ``tuple``, ``dict`` (a list of key/value
pairs), ``named`` (one of the library's NamedTuples and dataclasses in ``NAMED``, rebuilt as
that class), ``model`` (a ``Seq2Seq``: its config and parameters; only ever sent *to* the
student's process) and ``ref`` (anything else, kept by the process that owns it; the other side
holds an ``Opaque`` stand-in named after its type and can only hand it back). Decoding checks
every dtype, shape and size, so a message can describe data and nothing else.
"""

from __future__ import annotations

import dataclasses
import json
import math
import struct
from collections.abc import Callable
from typing import Any, BinaryIO

import numpy as np

from ..decoding import Hypothesis
from ..functional.attention import AttentionCache, ConcatCache, DotCache, GeneralCache
from ..functional.gru import GRUCache
from ..functional.lstm import LSTMCache
from ..functional.rnn import RNNCache
from ..functional.softmax import CrossEntropyCache, SoftmaxCache
from ..model import Encoded, Seq2Seq

NAMED = {cls.__name__: cls for cls in (
    RNNCache, LSTMCache, GRUCache, SoftmaxCache, CrossEntropyCache, DotCache, GeneralCache,
    ConcatCache, AttentionCache, Hypothesis, Encoded)}
MAX_BYTES = 1 << 28  # a message of more than 256 MiB is refused
MAX_DEPTH = 64
_PREFIX = struct.Struct(">IQ")


class WireError(Exception):
    """A message that is not one (truncated, malformed, too large, or of a kind not allowed)."""


class Opaque:
    """The stand-in for a value the other process keeps (``type(x).__name__`` is its type's)."""

    __slots__ = ("ref",)

    def __init__(self, ref: int) -> None:
        self.ref = ref

    def __repr__(self) -> str:
        return f"<{type(self).__name__} kept by the student's process>"


_opaque_types: dict[str, type] = {}


def _opaque(type_name: str, ref: int) -> Opaque:
    cls = _opaque_types.get(type_name)
    if cls is None:
        cls = _opaque_types[type_name] = type(type_name[:80], (Opaque,), {"__slots__": ()})
    return cls(ref)


# ---------------------------------------------------------------------------------------------
# values <-> (node, arrays)

class Encoder:
    """Turns a value into a JSON node and a list of byte strings.

    ``keep`` (the student's side): called with a value of any other type, returns the reference
    under which it is kept; without it (the grader's side) such a value is a TypeError.
    """

    def __init__(self, keep: Callable[[Any], int] | None = None) -> None:
        self.keep = keep
        self.buffers: list[bytes] = []

    def node(self, value: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise WireError(f"a value nested more than {MAX_DEPTH} deep")
        if value is None or isinstance(value, (bool, int, str)):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else {"$": "float", "repr": repr(value)}
        if isinstance(value, np.ndarray) and value.dtype.kind in "biufc":
            return {"$": "array", "dtype": value.dtype.str, "shape": list(value.shape),
                    "buf": self._buffer(value)}
        if isinstance(value, np.generic) and value.dtype.kind in "biufc":
            return {"$": "scalar", "dtype": value.dtype.str, "buf": self._buffer(np.asarray(value))}
        if isinstance(value, Opaque):
            return {"$": "ref", "ref": value.ref}
        if _is_named(value):
            return {"$": "named", "type": type(value).__name__,
                    "items": [self.node(v, depth + 1) for v in _items(value)]}
        if type(value) in (list, tuple):
            return {"$": type(value).__name__, "items": [self.node(v, depth + 1) for v in value]}
        if type(value) is dict:
            return {"$": "dict", "items": [[self.node(k, depth + 1), self.node(v, depth + 1)]
                                           for k, v in value.items()]}
        if type(value) is Seq2Seq:
            return {"$": "model", "config": value.config,
                    "params": self.node(dict(value.params), depth + 1)}
        if self.keep is None:
            raise TypeError(f"cannot send a {type(value).__name__}")
        return {"$": "ref", "type": type(value).__name__, "ref": self.keep(value)}

    def _buffer(self, array: np.ndarray) -> int:
        self.buffers.append(np.ascontiguousarray(array).tobytes())
        return len(self.buffers) - 1


class Decoder:
    """Turns a node and its byte strings back into a value (see the module docstring).

    ``resolve`` (the student's side): returns the value kept under a reference; without it (the
    grader's side) a reference becomes an ``Opaque`` stand-in.
    """

    def __init__(self, buffers: list[bytes], resolve: Callable[[int], Any] | None = None) -> None:
        self.buffers = buffers
        self.resolve = resolve

    def value(self, node: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise WireError(f"a value nested more than {MAX_DEPTH} deep")
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if not isinstance(node, dict):
            raise WireError(f"unexpected JSON {type(node).__name__}")
        tag = node.get("$")
        if tag == "float":
            return float(_field(node, "repr", str))
        if tag == "array":
            return self._array(node, _field(node, "shape", list))
        if tag == "scalar":
            return self._array(node, [])[()]
        if tag in ("list", "tuple"):
            items = [self.value(v, depth + 1) for v in _field(node, "items", list)]
            return items if tag == "list" else tuple(items)
        if tag == "dict":
            return {self._key(k, depth): self.value(v, depth + 1)
                    for k, v in (_pair(p) for p in _field(node, "items", list))}
        if tag == "named":
            return self._named(node, depth)
        if tag == "model" and self.resolve is not None:
            return self._model(node, depth)
        if tag == "ref":
            ref = _field(node, "ref", int)
            if self.resolve is not None:
                return self.resolve(ref)
            return _opaque(_field(node, "type", str), ref)
        raise WireError(f"unknown node {tag!r}")

    def _array(self, node: dict, shape: list) -> np.ndarray:
        try:
            dtype = np.dtype(_field(node, "dtype", str))
        except TypeError:
            raise WireError(f"not a dtype: {node.get('dtype')!r}") from None
        if dtype.kind not in "biufc" or dtype.fields is not None or dtype.subdtype is not None:
            raise WireError(f"dtype {dtype} is not allowed")
        if len(shape) > 32 or not all(type(n) is int and n >= 0 for n in shape):
            raise WireError(f"not a shape: {shape!r}")
        index = _field(node, "buf", int)
        if not 0 <= index < len(self.buffers):
            raise WireError(f"no array bytes number {index}")
        data = self.buffers[index]
        if len(data) != math.prod(shape) * dtype.itemsize:
            raise WireError(f"{len(data)} bytes do not make an array {shape} of {dtype}")
        return np.frombuffer(data, dtype=dtype).reshape(shape).copy()

    def _key(self, node: Any, depth: int) -> Any:
        key = self.value(node, depth + 1)
        try:
            hash(key)
        except TypeError:
            raise WireError(f"a dict key of type {type(key).__name__}") from None
        return key

    def _named(self, node: dict, depth: int) -> Any:
        cls = NAMED.get(_field(node, "type", str))
        items = _field(node, "items", list)
        if cls is None or len(items) != len(_field_names(cls)):
            raise WireError(f"not a known NamedTuple: {node.get('type')!r}")
        return cls(*(self.value(v, depth + 1) for v in items))

    def _model(self, node: dict, depth: int) -> Seq2Seq:
        try:
            model = Seq2Seq.from_config(_field(node, "config", dict))
        except (TypeError, ValueError) as e:
            raise WireError(f"not a model config: {e}") from None
        params = self.value(_field(node, "params", dict), depth + 1)
        if not isinstance(params, dict) or params.keys() != model.params.keys():
            raise WireError("a model whose parameters do not match its config")
        for key, value in params.items():
            if not isinstance(value, np.ndarray) or value.shape != model.params[key].shape:
                raise WireError(f"parameter {key} has the wrong shape")
            model.params[key][...] = value
        return model


def _is_named(value: Any) -> bool:
    return NAMED.get(type(value).__name__) is type(value)


def _field_names(cls: type) -> tuple[str, ...]:
    """A NamedTuple's or a dataclass's fields, in order."""
    return getattr(cls, "_fields", None) or tuple(f.name for f in dataclasses.fields(cls))


def _items(value: Any) -> list:
    return [getattr(value, name) for name in _field_names(type(value))]


def _field(node: dict, key: str, kind: type) -> Any:
    value = node.get(key)
    if type(value) is not kind:
        raise WireError(f"field {key!r} should be a {kind.__name__}")
    return value


def _pair(item: Any) -> tuple:
    if not isinstance(item, list) or len(item) != 2:
        raise WireError("a dict item that is not a [key, value] pair")
    return item[0], item[1]


def arrays_in(value: Any) -> list[np.ndarray]:
    """The arrays a message carries for ``value`` (in lists, tuples, the library's NamedTuples
    and dict values), in the order it carries them: both sides see the same list."""
    if isinstance(value, np.ndarray):
        return [value] if value.dtype.kind in "biufc" else []
    if type(value) in (list, tuple) or _is_named(value):
        return [a for v in (_items(value) if _is_named(value) else value) for a in arrays_in(v)]
    if type(value) is dict:
        return [a for v in value.values() for a in arrays_in(v)]
    return []


# ---------------------------------------------------------------------------------------------
# messages on a byte stream

def write_message(stream: BinaryIO, header: dict, buffers: list[bytes]) -> None:
    """Write ``header`` (a JSON-able dict; "sizes" is added) and ``buffers`` as one message."""
    text = json.dumps({**header, "sizes": [len(b) for b in buffers]}).encode("utf-8")
    stream.write(_PREFIX.pack(len(text), sum(len(b) for b in buffers)) + text + b"".join(buffers))
    stream.flush()


def read_message(read: Callable[[int], bytes]) -> tuple[dict, list[bytes]]:
    """Read one message with ``read(n)`` (which returns exactly n bytes or raises)."""
    head_len, data_len = _PREFIX.unpack(read(_PREFIX.size))
    if head_len + data_len > MAX_BYTES:
        raise WireError(f"a message of {head_len + data_len:,} bytes (at most {MAX_BYTES:,})")
    try:
        header = json.loads(read(head_len).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise WireError("a header that is not JSON") from None
    sizes = header.get("sizes") if isinstance(header, dict) else None
    if not isinstance(sizes, list) or not all(type(n) is int and n >= 0 for n in sizes) or \
            sum(sizes) != data_len:
        raise WireError("array sizes that do not add up")
    data = read(data_len)
    offsets = np.cumsum([0, *sizes])
    return header, [data[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
