"""The kernel table: the functions the library calls by name, so that another can run instead.

The model is composed of a few pure functions that the course's students write too: the cell
steps, the attention scores, attention, the masked softmax, cross-entropy and the decoders. The
library never calls one of these by a name it imported; it looks it up in ``KERNELS`` at the
moment of the call::

    weights, cache = KERNELS["masked_softmax_forward"](scores, mask)

Each such function is registered where it is defined (``@kernel`` above its ``def``), so
``LIBRARY`` always holds the library's own. ``substitute.use_functions`` swaps entries of
``KERNELS`` for the length of a ``with`` block and puts them back after it; no module's names
change. Two registries read the table rather than copying from it: the scores'
``SCORE_FORWARD`` / ``SCORE_BACKWARD`` (``attention.py``, views of it by score name), and the
recurrent layers' cell lookup (``recurrent.current_cell``), which runs a cell through its step
kernels when they are not the library's (``step_cells.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

__all__ = ["KERNELS", "LIBRARY", "KernelView", "kernel", "register"]

KERNELS: dict[str, Callable] = {}  # name -> the function the library calls by that name now
LIBRARY: dict[str, Callable] = {}  # name -> the library's own function of that name


def register(name: str, fn: Callable) -> Callable:
    """Make ``fn`` the library's kernel ``name`` (and the one in force); returns ``fn``."""
    LIBRARY[name] = KERNELS[name] = fn
    return fn


def kernel(fn: Callable) -> Callable:
    """Decorator: register ``fn`` under its own name (``register(fn.__name__, fn)``)."""
    return register(fn.__name__, fn)


class KernelView(Mapping):
    """A read-only view of some table entries by a short key.

    ``KernelView(("dot", "general"), "{}_score_forward")["dot"]`` is
    ``KERNELS["dot_score_forward"]`` at the moment of the lookup, so the view shows a swapped
    kernel while the swap lasts.
    """

    def __init__(self, keys: tuple[str, ...], pattern: str) -> None:
        self._keys = tuple(keys)
        self._pattern = pattern

    def __getitem__(self, key: str) -> Callable:
        if key not in self._keys:
            raise KeyError(key)
        return KERNELS[self._pattern.format(key)]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"KernelView({self._keys!r}, {self._pattern!r})"
