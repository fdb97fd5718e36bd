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

Saving is atomic: the archive is written to a temporary file in the target directory, flushed
and fsynced, then renamed over the destination with ``os.replace``. A crash or an exception
mid-write therefore leaves either the old checkpoint or the new one, never a truncated file.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

if TYPE_CHECKING:  # imported lazily at run time: model sits above checkpoint's helpers
    from numpy_seq2seq.data.vocab import Vocab
    from numpy_seq2seq.model import Seq2Seq

__all__ = ["Checkpoint", "save_checkpoint", "load_checkpoint", "FORMAT", "FORMAT_VERSION"]

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


def _decode_extra(text: str, data: Any) -> dict[str, Any]:
    def hook(obj: dict[str, Any]) -> Any:
        if set(obj) == {_ARRAY_TAG}:
            return data[obj[_ARRAY_TAG]]
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

    path.parent.mkdir(parents=True, exist_ok=True)
    # same directory as the destination, so os.replace is a rename within one filesystem
    tmp = tempfile.NamedTemporaryFile(
        delete=False, dir=path.parent, prefix=f".{path.name}.", suffix=".npz"
    )
    try:
        with tmp:
            # a file object, not a name: np.savez would append ".npz" to a name
            np.savez(tmp, **arrays)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp.name, path)
    except BaseException:
        # also on KeyboardInterrupt: never leave a half-written temp file behind
        try:
            os.unlink(tmp.name)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(path.parent)
    return path


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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
        If the file is not a numpy_seq2seq checkpoint, has a newer format version, or its params
        do not match the model its config describes (the key and both shapes are named).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    not_checkpoint = f"{path} is not a numpy_seq2seq checkpoint"
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        # a text file or a pickle makes np.load try (and refuse) unpickling: ValueError
        raise ValueError(f"{not_checkpoint} (not an .npz archive: {err})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):  # a bare .npy array
        raise ValueError(f"{not_checkpoint} (a single .npy array, not an .npz archive)")

    with data:
        if "format" not in data.files or str(data["format"][()]) != FORMAT:
            raise ValueError(f"{not_checkpoint} (no {FORMAT!r} marker)")
        absent = [k for k in ("format_version", "config") if k not in data.files]
        if absent:
            raise ValueError(f"{path} is a damaged numpy_seq2seq checkpoint: no {absent} entries")
        version = int(data["format_version"][()])
        if version > FORMAT_VERSION:
            raise ValueError(
                f"{path} has checkpoint format version {version}; this numpy_seq2seq reads "
                f"versions up to {FORMAT_VERSION}"
            )

        config = json.loads(str(data["config"][()]))
        stored = {k[len(_PARAM):]: data[k] for k in data.files if k.startswith(_PARAM)}
        src_vocab = _load_vocab(data, "src_vocab")
        tgt_vocab = _load_vocab(data, "tgt_vocab")
        extra = _decode_extra(str(data["extra"][()]), data) if "extra" in data.files else None

    from numpy_seq2seq.model import Seq2Seq  # lazy: keeps checkpoint importable on its own

    model = Seq2Seq.from_config(config)
    _copy_params(model.params, stored, path)
    return Checkpoint(model, src_vocab, tgt_vocab, extra)


def _load_vocab(data: Any, key: str) -> Vocab | None:
    if key not in data.files:
        return None
    from numpy_seq2seq.data.vocab import Vocab  # lazy, as for the model

    return Vocab.from_dict(_decode_extra(str(data[key][()]), data))


def _copy_params(params: dict[str, np.ndarray], stored: dict[str, np.ndarray],
                 path: Path) -> None:
    """Copy ``stored`` into the live arrays of ``params`` after checking keys and shapes."""
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
    for key, p in params.items():
        # into the existing array: keeps the config's dtype and any references to it
        p[...] = stored[key]
