"""Save and load a trained Seq2Seq model as one ``.npz`` file, without pickle.

Layout of the archive (every entry is a plain numeric or unicode array, so
``np.load(path, allow_pickle=False)`` reads it all and loading can never run arbitrary code):

============================  ================================================================
key                           content
============================  ================================================================
``format``                    0-d str array ``"numpy_seq2seq.checkpoint"`` (the marker)
``format_version``            0-d int array, currently 1
``config``                    0-d str array: ``json.dumps(model.config)``
``param/<name>``              one entry per ``model.params[name]``, in the model's dtype
``src_vocab``, ``tgt_vocab``  0-d str arrays: JSON of ``vocab.to_dict()`` (absent when not
                              given); a bpe tokenizer's model is its own uint8 array
                              ``<side>_vocab_array/<i>``, referenced as below
``extra``                     0-d str array: JSON of the ``extra`` dict (absent when None)
``extra_array/<i>``           arrays found inside ``extra``; the JSON holds
                              ``{"__ndarray__": "extra_array/<i>"}`` in their place
============================  ================================================================

Saving is atomic (``files.atomic_write``): the archive goes to a temporary file in the target
directory, is fsynced, then renamed over the destination, so a crash or Ctrl-C mid-write leaves
either the old checkpoint or the new one, never a truncated file; it gets the permissions any
new file gets (0644 under umask 022).

Loading refuses, with one message that starts ``<path> is not a numpy_seq2seq checkpoint:`` and
says what the file is instead, anything that is not such an archive: a text file, a pickle
(never unpickled), a single ``.npy`` array, a truncated or corrupted zip, an ``.npz`` without the
marker. A checkpoint of a format version this code does not read is named with its version and
what to do. Every error names the file: a model config, vocabulary or ``extra`` that cannot be
used, a parameter stored as integers (never cast silently) or holding NaN or inf (a model that
would decode empty lines), a run folder given instead of one of its checkpoints (the message
lists them). `train` keeps its state for resuming inside ``extra["training"]``, so a checkpoint
written before resuming existed still loads for translating and evaluating.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from .checks import is_int
from .files import atomic_write

if TYPE_CHECKING:  # imported lazily at run time: model sits above checkpoint's helpers
    from numpy_seq2seq.data.vocab import Vocab
    from numpy_seq2seq.model import Seq2Seq

__all__ = ["Checkpoint", "save_checkpoint", "load_checkpoint", "read_extra", "FORMAT",
           "FORMAT_VERSION"]

FORMAT = "numpy_seq2seq.checkpoint"
FORMAT_VERSION = 1

_PARAM = "param/"
_EXTRA_ARRAY = "extra_array/"
_ARRAY_TAG = "__ndarray__"


class Checkpoint(NamedTuple):
    """What `load_checkpoint` returns; unpacks as ``model, src_vocab, tgt_vocab, extra``.

    Attributes
    ----------
    model : Seq2Seq
        A model built from the stored config, holding the stored parameters.
    src_vocab, tgt_vocab : Vocab or None
        The vocabularies, or None if they were not saved.
    extra : dict or None
        The ``extra`` dict given to `save_checkpoint` (arrays restored as arrays), or None.
    """

    model: Seq2Seq
    src_vocab: Vocab | None
    tgt_vocab: Vocab | None
    extra: dict[str, Any] | None


def _str_array(text: str) -> np.ndarray:
    # a 0-d unicode array, which np.load reads without pickle (an object array would need it)
    return np.array(text, dtype=np.str_)


def _encode_extra(extra: dict[str, Any],
                  prefix: str = _EXTRA_ARRAY) -> tuple[str, dict[str, np.ndarray]]:
    """JSON-encode ``extra``, moving every ndarray out into its own archive entry."""
    arrays: dict[str, np.ndarray] = {}

    def default(obj: Any) -> Any:
        if isinstance(obj, np.ndarray):
            key = f"{prefix}{len(arrays)}"
            arrays[key] = obj
            return {_ARRAY_TAG: key}
        if isinstance(obj, np.generic):  # numpy scalars such as np.int64(3)
            return obj.item()
        raise TypeError(f"extra holds a {type(obj).__name__}, which is neither JSON nor ndarray")

    try:
        text = json.dumps(extra, default=default, allow_nan=True)
    except (TypeError, ValueError) as err:
        raise ValueError(f"extra must be JSON-serialisable (arrays allowed): {err}") from None
    return text, arrays


def _decode_extra(text: str, entry: Callable[[str], np.ndarray]) -> dict[str, Any]:
    def hook(obj: dict[str, Any]) -> Any:
        if set(obj) == {_ARRAY_TAG}:
            return entry(obj[_ARRAY_TAG])
        return obj

    return json.loads(text, object_hook=hook)


# ----------------------------------------------------------------------------------------------
# save

def save_checkpoint(
    path: str | os.PathLike[str],
    model: Seq2Seq,
    src_vocab: Vocab | None = None,
    tgt_vocab: Vocab | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write the model's config and params, the vocabularies and ``extra`` to one ``.npz`` file.

    Parameters
    ----------
    path : str or PathLike
        Destination, used exactly as given (no ``.npz`` is appended). Parent directories are
        created. An existing file is replaced atomically.
    model : Seq2Seq
        Anything with a ``params`` dict of arrays and a JSON-serialisable ``config`` dict.
    src_vocab, tgt_vocab : Vocab, optional
        Vocabularies with a ``to_json()`` method.
    extra : dict, optional
        Training state to keep alongside, e.g. ``{"step": 1200, "optimizer": opt.state_dict()}``.
        Values must be JSON-serialisable or ndarrays (at any nesting depth).

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    ValueError
        If the config or ``extra`` cannot be stored without pickle.
    """
    path = Path(path)
    try:
        config_json = json.dumps(model.config)
    except (TypeError, ValueError) as err:
        raise ValueError(f"model.config must be JSON-serialisable: {err}") from None

    arrays: dict[str, np.ndarray] = {
        "format": _str_array(FORMAT),
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "config": _str_array(config_json),
    }
    for name, value in model.params.items():
        arrays[_PARAM + name] = np.asarray(value)
    for key, vocab in (("src_vocab", src_vocab), ("tgt_vocab", tgt_vocab)):
        if vocab is not None:
            vocab_json, vocab_arrays = _encode_extra(vocab.to_dict(), prefix=f"{key}_array/")
            arrays[key] = _str_array(vocab_json)
            arrays.update(vocab_arrays)
    if extra is not None:
        extra_json, extra_arrays = _encode_extra(extra)
        arrays["extra"] = _str_array(extra_json)
        arrays.update(extra_arrays)
    for key, value in arrays.items():
        if value.dtype == object:
            raise ValueError(f"{key!r} is an object array, which would need pickle to load")

    with atomic_write(path) as f:
        np.savez(f, **arrays)  # a file object, not a name: np.savez would append ".npz" to a name
    return path


# ----------------------------------------------------------------------------------------------
# load

def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Load a checkpoint written by `save_checkpoint`, without ever unpickling.

    Parameters
    ----------
    path : str or PathLike
        The ``.npz`` file.

    Returns
    -------
    Checkpoint
        ``(model, src_vocab, tgt_vocab, extra)``; the model is built with
        ``Seq2Seq.from_config`` and the stored params are copied into its arrays.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a numpy_seq2seq checkpoint (the message says what it is), has a
        format version this code does not read (the message says which, and what to do), or its
        params do not match the model its config describes (the key and both shapes are named).
    """
    path = Path(path)
    with _checked_archive(path) as (files, entry):
        config = _model_config(path, str(entry("config")[()]))
        stored = {k[len(_PARAM):]: entry(k) for k in files if k.startswith(_PARAM)}
        src_vocab, tgt_vocab = (_load_vocab(path, entry, files, k)
                                for k in ("src_vocab", "tgt_vocab"))
        extra = _extra(path, files, entry)

    from numpy_seq2seq.model import Seq2Seq  # lazy: keeps checkpoint importable on its own

    model = Seq2Seq.from_config(config)
    _copy_params(model.params, stored, path)
    return Checkpoint(model, src_vocab, tgt_vocab, extra)


def read_extra(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """A checkpoint's ``extra`` dict alone, without building the model (e.g. to see which epoch
    it holds: ``read_extra("runs/x/best.npz")["epoch"]``). Raises as `load_checkpoint` does."""
    with _checked_archive(Path(path)) as (files, entry):
        return _extra(Path(path), files, entry)


@contextmanager
def _checked_archive(path: Path) -> Iterator[tuple[list[str], Callable[[str], np.ndarray]]]:
    """The entry names of a checked checkpoint and a function reading one entry."""
    if path.is_dir():
        raise IsADirectoryError(_folder_message(path))
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    with _open_archive(path) as data:

        def entry(key: str) -> np.ndarray:
            return _read_entry(path, data, key)

        _check_format(path, data.files, entry)
        yield data.files, entry


def _folder_message(path: Path) -> str:
    """What to say when a run folder is given where a checkpoint file belongs."""
    found = sorted(p.name for p in path.glob("*.npz"))
    if not found:
        return f"{path} is a folder with no checkpoint (.npz) in it, not a checkpoint file"
    pick = "best.npz" if "best.npz" in found else found[0]
    return (f"{path} is a folder, not a checkpoint file; it holds {', '.join(found)}: give one "
            f"of them, e.g. {path / pick}")


def _extra(path: Path, files: list[str],
           entry: Callable[[str], np.ndarray]) -> dict[str, Any] | None:
    if "extra" not in files:
        return None
    try:
        return _decode_extra(str(entry("extra")[()]), entry)
    except (ValueError, TypeError, KeyError) as err:  # JSON, or an array entry it names
        raise ValueError(f"{path}: its extra cannot be read: {err}") from None


_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first entry, or an empty zip
_NPY_MAGIC = b"\x93NUMPY"


def _open_archive(path: Path) -> Any:
    """``np.load`` of a zip archive; anything else is named, never handed to NumPy's unpickler.

    (NumPy would answer a text file or a pickle with advice to pass ``allow_pickle=True``:
    wrong for a text file, and unsafe for a file from elsewhere.)
    """
    with open(path, "rb") as f:
        head = f.read(8)
    not_checkpoint = f"{path} is not a numpy_seq2seq checkpoint"
    if not head.startswith(_ZIP_MAGIC):
        raise ValueError(f"{not_checkpoint}: it is {_what_is(head)}, not an .npz archive")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile):
        raise ValueError(f"{not_checkpoint}: it is a truncated or corrupted zip archive "
                         "(an interrupted copy or download?)") from None


def _what_is(head: bytes) -> str:
    """What a file's first bytes say it is, in words."""
    if not head:
        return "an empty file"
    if head.startswith(_NPY_MAGIC):
        return "a single NumPy array (.npy)"
    if head[0] == 0x80:  # the PROTO opcode that starts every pickle since protocol 2
        return "a Python pickle (which numpy_seq2seq never loads: unpickling can run any code)"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return f"a binary file starting with {head[:4]!r}"
    return "a text file"


def _read_entry(path: Path, data: Any, key: str) -> np.ndarray:
    """One archive entry; a pickled or damaged entry is reported, not unpickled."""
    try:
        return data[key]
    except ValueError:  # an object array: np.load refuses to unpickle it
        raise ValueError(f"{path} is not a numpy_seq2seq checkpoint: its entry {key!r} is a "
                         "pickled object array, which numpy_seq2seq never loads") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error):
        raise ValueError(f"{path} is a damaged numpy_seq2seq checkpoint: its entry {key!r} is "
                         "truncated or corrupted") from None


def _check_format(path: Path, files: list[str], entry: Callable[[str], np.ndarray]) -> None:
    """The marker, the format version this code reads, and the entries every version has."""
    if "format" not in files or str(entry("format")[()]) != FORMAT:
        raise ValueError(f"{path} is not a numpy_seq2seq checkpoint: it is an .npz archive "
                         f"without the {FORMAT!r} marker (written by np.savez, not by "
                         "save_checkpoint?)")
    absent = [k for k in ("format_version", "config") if k not in files]
    if absent:
        raise ValueError(f"{path} is a damaged numpy_seq2seq checkpoint: no {absent} entries")
    raw = entry("format_version")
    stored = raw.item() if raw.size == 1 else raw.tolist()  # printed as 'one', not np.str_('one')
    version = stored if is_int(stored) else None
    if version is not None and version > FORMAT_VERSION:
        from numpy_seq2seq import __version__  # lazy: the package imports this module

        raise ValueError(
            f"{path} has checkpoint format version {version}, written by a newer "
            f"numpy_seq2seq; this one ({__version__}) reads versions 1 to {FORMAT_VERSION}. "
            "Upgrade it (pip install --upgrade numpy_seq2seq) to load this checkpoint."
        )
    if version is None or version < 1:
        raise ValueError(
            f"{path} has checkpoint format version {stored!r}, which no numpy_seq2seq ever "
            f"wrote (this one reads versions 1 to {FORMAT_VERSION}); the file was not made by "
            "save_checkpoint. Save the model again with save_checkpoint, or retrain it."
        )


def _model_config(path: Path, text: str) -> dict[str, Any]:
    """The stored model config, with today's defaults for keys an older file lacks."""
    from numpy_seq2seq.config import ModelConfig  # lazy, as for the model

    try:
        return ModelConfig.from_dict(json.loads(text)).to_dict()
    except (ValueError, TypeError) as err:  # json.JSONDecodeError is a ValueError
        raise ValueError(f"{path}: its model config cannot be used: {err}") from None


def _load_vocab(path: Path, entry: Callable[[str], np.ndarray], files: list[str],
                key: str) -> Vocab | None:
    if key not in files:
        return None
    from numpy_seq2seq.data.vocab import Vocab  # lazy, as for the model

    try:
        return Vocab.from_dict(_decode_extra(str(entry(key)[()]), entry))
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        raise ValueError(f"{path}: its {key} cannot be used: {err}") from None


def _copy_params(params: dict[str, np.ndarray], stored: dict[str, np.ndarray],
                 path: Path) -> None:
    """Copy ``stored`` into the live arrays of ``params`` after checking keys, shapes, dtypes
    and values."""
    missing, unexpected = sorted(set(params) - set(stored)), sorted(set(stored) - set(params))
    if missing or unexpected:
        raise ValueError(
            f"{path}: stored params do not match the model built from its config; "
            f"missing from the file: {missing}, not in the model: {unexpected}"
        )
    for key, p in params.items():
        if stored[key].shape != p.shape:
            raise ValueError(
                f"{path}: param {key!r} has shape {stored[key].shape} in the file, but the "
                f"model built from its config expects {p.shape}"
            )
        if stored[key].dtype.kind != "f":
            raise ValueError(f"{path}: param {key!r} is stored as {stored[key].dtype}; a "
                             f"checkpoint holds float parameters ({p.dtype} here)")
        bad = int(np.size(stored[key]) - np.isfinite(stored[key]).sum())
        if bad:
            raise ValueError(f"{path}: param {key!r} holds {bad} NaN or infinite value(s), so "
                             "the model cannot translate; load an earlier checkpoint of the run "
                             "or train again (a smaller learning rate or clip keeps it finite)")
    for key, p in params.items():
        # into the existing array: keeps the config's dtype and any references to it
        p[...] = stored[key]
