"""Matplotlib figures for attention maps, training curves and gradient-flow experiments.

Every function takes plain arrays, lists and dicts (nothing here imports the model), builds its
figure with the object API and returns the `~matplotlib.figure.Figure`; nothing calls
``plt.show()``, so the module works under the non-interactive Agg backend (scripts, tests, CI)
as well as inline in notebooks. Save with `save_figure`.

Letters: S source length, T target length (rows of an attention map are the T-1 decoder outputs,
or however many tokens the caller labels them with).

Non-Latin tokens
----------------
Date-task sources contain Korean and Japanese characters, which matplotlib's default DejaVu Sans
does not have. `cjk_fallback_fonts` looks for installed fonts that really contain Hangul, kana or
kanji (checked in each font's character map, not guessed from its name), and token labels are
drawn with the family list ``[default family, *those fonts, "Last Resort High-Efficiency"]``, so
matplotlib (>= 3.6) falls back glyph by glyph. Without a CJK font the characters come from
matplotlib's bundled Last Resort font (>= 3.10): a box marked with the script (가, 字, ...)
instead of a blank box, and no "Glyph ... missing from font(s)" warning. On older matplotlib,
where that font is absent, the warning is suppressed inside `save_figure` (one warning per
character per draw would bury everything else, and the boxes already show the problem); a
notebook's inline display may still show it. Install e.g. Noto Sans CJK (``fonts-noto-cjk``) to
see the real glyphs.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = [
    "plot_attention",
    "plot_attention_grid",
    "plot_training",
    "plot_grad_norm_by_position",
    "plot_norm_ratio_vs_length",
    "plot_accuracy_vs_length",
    "plot_param_grad_norms",
    "save_figure",
    "cjk_fallback_fonts",
]

# Hangul syllables GA and HAN, hiragana A, katakana A, and two common kanji (day, year)
_CJK_PROBES = {"hangul": (0xAC00, 0xD55C), "kana": (0x3042, 0x30A2), "han": (0x65E5, 0x5E74)}
# well-known CJK families, tried before scanning every installed font
_KNOWN_CJK_FAMILIES = (
    "Noto Sans CJK KR", "Noto Sans CJK JP", "Noto Sans KR", "Noto Sans JP", "Source Han Sans",
    "NanumGothic", "Malgun Gothic", "AppleGothic", "Apple SD Gothic Neo", "Hiragino Sans",
    "Yu Gothic", "MS Gothic", "IPAexGothic", "IPAGothic", "TakaoGothic", "WenQuanYi Zen Hei",
    "Droid Sans Fallback", "Unifont",
)
_LAST_RESORT = "Last Resort High-Efficiency"
_GLYPH_WARNING = r"Glyph \d+ .*missing from (current )?font"
_DPI = 120


# ----------------------------------------------------------------------------------------------
# fonts and warnings

def _covers(fname: str, codepoints: Sequence[int]) -> bool:
    try:
        charmap = matplotlib.ft2font.FT2Font(fname).get_charmap()
    except (OSError, RuntimeError, ValueError):  # unreadable or unsupported font file
        return False
    return all(cp in charmap for cp in codepoints)


@functools.lru_cache(maxsize=1)
def cjk_fallback_fonts() -> tuple[str, ...]:
    """Installed font families that contain Hangul, kana or kanji glyphs, best first.

    Known CJK families are checked first; only if none of them is installed is every font
    scanned. Each candidate's character map is checked, so a font is listed only if it really
    has the glyphs. matplotlib's "Last Resort" font is skipped: it maps every code point, but to
    placeholder boxes. The result is cached for the session.

    Returns
    -------
    tuple of str
        Family names, possibly empty; Hangul-covering fonts come first.
    """
    entries = [f for f in font_manager.fontManager.ttflist if f.name != _LAST_RESORT]
    rank = {name: i for i, name in enumerate(_KNOWN_CJK_FAMILIES)}
    known = sorted((f for f in entries if f.name in rank), key=lambda f: rank[f.name])
    candidates = known or entries
    found: dict[str, int] = {}  # family -> best script rank (0 hangul, 1 kana, 2 han)
    checked: set[str] = set()
    for entry in candidates:
        if entry.fname in checked or entry.name in found:
            continue
        checked.add(entry.fname)
        for script_rank, probes in enumerate(_CJK_PROBES.values()):
            if _covers(entry.fname, probes):
                found[entry.name] = script_rank
                break
    return tuple(sorted(found, key=lambda name: found[name]))


def _token_font_family() -> list[str]:
    """The default family, then CJK fonts, then Last Resort, for per-glyph fallback."""
    default = matplotlib.rcParams["font.family"]
    family = [default] if isinstance(default, str) else list(default)
    family += [f for f in cjk_fallback_fonts() if f not in family]
    if _has_last_resort():
        family.append(_LAST_RESORT)
    return family


@functools.lru_cache(maxsize=1)
def _has_last_resort() -> bool:
    return any(f.name == _LAST_RESORT for f in font_manager.fontManager.ttflist)


@contextlib.contextmanager
def _quiet_missing_glyphs() -> Iterator[None]:
    """Suppress matplotlib's per-character "Glyph missing" warning (see module docstring)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_GLYPH_WARNING, category=UserWarning)
        yield


# ----------------------------------------------------------------------------------------------
# validation helpers

def _as_1d(name: str, values: Sequence[float] | np.ndarray, length: int | None = None,
           length_name: str = "") -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if length is not None and arr.shape[0] != length:
        raise ValueError(f"{name} has {arr.shape[0]} values but {length_name} has {length}")
    return arr


def _check_nonempty(name: str, mapping: Mapping[str, object]) -> None:
    if not mapping:
        raise ValueError(f"{name} is empty; give at least one line to plot")


# ----------------------------------------------------------------------------------------------
# attention

def plot_attention(
    weights: np.ndarray,
    src_tokens: Sequence[str],
    tgt_tokens: Sequence[str],
    ax: Axes | None = None,
    title: str | None = None,
    colorbar: bool = True,
) -> Figure:
    """Heat map of one attention matrix: output steps down, source positions across.

    Parameters
    ----------
    weights : ndarray of shape (T, S)
        ``weights[t, s]`` is the attention output step t paid to source position s (rows sum
        to 1 over the unpadded positions). The colour scale is fixed to [0, 1] so maps of
        different examples can be compared by eye.
    src_tokens : sequence of str, length S
        Labels of the columns (x axis).
    tgt_tokens : sequence of str, length T
        Labels of the rows (y axis), usually the tokens the decoder produced.
    ax : Axes, optional
        Draw into this axes; a new figure is made when None.
    title : str, optional
        Axes title; defaults to "Attention weights".
    colorbar : bool
        Add a colorbar labelled "attention weight".

    Returns
    -------
    Figure

    Raises
    ------
    ValueError
        If ``weights`` is not 2-D of shape ``(len(tgt_tokens), len(src_tokens))``.
    """
    w = np.asarray(weights, dtype=np.float64)
    expected = (len(tgt_tokens), len(src_tokens))
    if w.ndim != 2 or w.shape != expected:
        raise ValueError(
            f"weights has shape {w.shape}, but len(tgt_tokens) x len(src_tokens) is "
            f"{expected[0]} x {expected[1]}"
        )
    if ax is None:
        T, S = expected
        fig, ax = plt.subplots(figsize=(1.5 + 0.4 * max(S, 4), 1.2 + 0.35 * max(T, 4)),
                               layout="constrained")
    fig = ax.figure

    image = ax.imshow(w, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto",
                      interpolation="nearest")
    family = _token_font_family()
    ax.set_xticks(np.arange(len(src_tokens)))
    ax.set_xticklabels([str(t) for t in src_tokens], rotation=90, fontfamily=family)
    ax.set_yticks(np.arange(len(tgt_tokens)))
    ax.set_yticklabels([str(t) for t in tgt_tokens], fontfamily=family)
    ax.set_xlabel("source token (position)")
    ax.set_ylabel("output token (decoder step)")
    ax.set_title("Attention weights" if title is None else title)
    if colorbar:
        fig.colorbar(image, ax=ax, label="attention weight")
    return fig


def plot_attention_grid(
    examples: Sequence[tuple[np.ndarray, Sequence[str], Sequence[str]]],
    ncols: int = 2,
    suptitle: str | None = None,
) -> Figure:
    """Several attention maps side by side, sharing one [0, 1] colorbar.

    Parameters
    ----------
    examples : sequence of (weights, src_tokens, tgt_tokens)
        Arguments of `plot_attention` for each example; ``weights`` of shape (T, S) may differ in
        size between examples.
    ncols : int
        Number of columns; rows are added as needed.
    suptitle : str, optional
        Figure title; defaults to "Attention weights".

    Returns
    -------
    Figure
        One axes per example, titled "example 1", "example 2", ...; unused cells are hidden.

    Raises
    ------
    ValueError
        If ``examples`` is empty, ``ncols`` < 1, or an example's shapes do not match its tokens.
    """
    if len(examples) == 0:
        raise ValueError("examples is empty; give at least one (weights, src, tgt) triple")
    if ncols < 1:
        raise ValueError(f"ncols must be >= 1, got {ncols}")
    ncols = min(ncols, len(examples))
    nrows = math.ceil(len(examples) / ncols)
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, layout="constrained",
                             figsize=(4.0 * ncols + 1.0, 3.5 * nrows + 0.5))
    image = None
    used = axes.flat[: len(examples)]
    for i, (ax, (weights, src, tgt)) in enumerate(zip(used, examples, strict=True)):
        try:
            plot_attention(weights, src, tgt, ax=ax, title=f"example {i + 1}", colorbar=False)
        except ValueError as err:
            plt.close(fig)
            raise ValueError(f"example {i + 1}: {err}") from None
        image = ax.images[-1]
    for ax in axes.flat[len(examples):]:
        ax.set_visible(False)
    fig.colorbar(image, ax=axes.ravel().tolist(), label="attention weight")
    fig.suptitle("Attention weights" if suptitle is None else suptitle)
    return fig


# ----------------------------------------------------------------------------------------------
# training curves

def plot_training(history: Mapping[str, Sequence[float]]) -> Figure:
    """Training loss and gradient norm against the optimizer step, both on log axes.

    Parameters
    ----------
    history : dict
        Required: ``"step"``, ``"loss"`` and ``"grad_norm"`` (the global norm *before*
        clipping), lists of equal length. Optional:

        - ``"epoch_end_steps"``: steps at which epochs ended, drawn as dotted vertical lines;
        - ``"valid_loss"``: validation loss per epoch end, drawn on the loss panel;
        - ``"valid_exact_match"``: validation exact-match per epoch end, which adds a third
          panel (needs ``"epoch_end_steps"`` of the same length);
        - ``"max_norm"``: the clipping threshold, drawn as a horizontal dashed line.

    Returns
    -------
    Figure
        Panels "Training loss" and "Gradient norm before clipping" (and "Validation exact
        match"), sharing the step axis.

    Raises
    ------
    ValueError
        If a required key is missing or lengths disagree.
    """
    missing = [k for k in ("step", "loss", "grad_norm") if k not in history]
    if missing:
        raise ValueError(f"history lacks {missing}; it has {sorted(history)}")
    step = _as_1d("history['step']", history["step"])
    loss = _as_1d("history['loss']", history["loss"], len(step), "history['step']")
    grad_norm = _as_1d("history['grad_norm']", history["grad_norm"], len(step), "history['step']")
    epoch_ends = history.get("epoch_end_steps")
    epoch_ends = None if epoch_ends is None else _as_1d("history['epoch_end_steps']", epoch_ends)

    per_epoch = {}
    for key in ("valid_loss", "valid_exact_match"):
        if history.get(key) is not None:
            if epoch_ends is None:
                raise ValueError(f"history[{key!r}] needs history['epoch_end_steps'] as its x")
            per_epoch[key] = _as_1d(f"history[{key!r}]", history[key], len(epoch_ends),
                                    "history['epoch_end_steps']")

    npanels = 3 if "valid_exact_match" in per_epoch else 2
    fig, axes = plt.subplots(npanels, 1, sharex=True, layout="constrained",
                             figsize=(7.0, 2.6 * npanels + 0.4))
    ax_loss, ax_grad = axes[0], axes[1]

    ax_loss.plot(step, loss, lw=1.0, label="training loss")
    if "valid_loss" in per_epoch:
        ax_loss.plot(epoch_ends, per_epoch["valid_loss"], "o-", label="validation loss")
    ax_loss.set_yscale("log")
    ax_loss.set_ylabel("cross-entropy (nats per token)")
    ax_loss.set_title("Training loss")

    ax_grad.plot(step, grad_norm, lw=1.0, color="tab:red", label="global gradient norm")
    max_norm = history.get("max_norm")
    if max_norm is not None and math.isfinite(float(max_norm)):
        ax_grad.axhline(float(max_norm), color="k", ls="--", lw=1.0,
                        label=f"clip threshold ({float(max_norm):g})")
    ax_grad.set_yscale("log")
    ax_grad.set_ylabel("L2 norm of all gradients")
    ax_grad.set_title("Gradient norm before clipping")

    if npanels == 3:
        ax_acc = axes[2]
        ax_acc.plot(epoch_ends, per_epoch["valid_exact_match"], "o-", color="tab:green",
                    label="validation exact match")
        ax_acc.set_ylim(-0.02, 1.02)
        ax_acc.set_ylabel("exact match (fraction)")
        ax_acc.set_title("Validation exact match")

    for ax in axes:
        if epoch_ends is not None:
            for i, s in enumerate(epoch_ends):
                ax.axvline(s, color="0.6", ls=":", lw=0.8, label="epoch end" if i == 0 else None)
        ax.legend(loc="best", fontsize="small")
    axes[-1].set_xlabel("training step (optimizer updates)")
    return fig


def plot_param_grad_norms(
    history: Mapping[str, Sequence[float]],
    steps: Sequence[float] | None = None,
) -> Figure:
    """Gradient norm of each parameter over training, one line per parameter, log y.

    Parameters
    ----------
    history : dict of str to list of float
        Parameter name (e.g. ``"enc_Wh"``) -> its gradient's L2 norm at each recorded step;
        all lists of the same length.
    steps : sequence of float, optional
        The step of each record; 1, 2, ... when None.

    Returns
    -------
    Figure
        Titled "Gradient norm per parameter", legend entries named after the parameters.
    """
    _check_nonempty("history", history)
    names = list(history)
    length = len(history[names[0]])
    x = np.arange(1, length + 1) if steps is None else _as_1d("steps", steps)
    if len(x) != length:
        raise ValueError(f"steps has {len(x)} values but history[{names[0]!r}] has {length}")

    fig, ax = plt.subplots(figsize=(8.0, 4.5), layout="constrained")
    # tab20 gives 20 distinguishable colours, enough for every parameter of the largest model
    colors = plt.get_cmap("tab20")(np.linspace(0, 1, 20))
    for i, name in enumerate(names):
        y = _as_1d(f"history[{name!r}]", history[name], length, f"history[{names[0]!r}]")
        ax.plot(x, y, lw=1.0, color=colors[i % 20], label=name,
                ls="-" if i < 20 else "--")
    ax.set_yscale("log")
    ax.set_xlabel("training step (optimizer updates)")
    ax.set_ylabel("gradient L2 norm")
    ax.set_title("Gradient norm per parameter")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small",
              ncols=1 if len(names) <= 16 else 2)
    return fig


# ----------------------------------------------------------------------------------------------
# gradient flow and length experiments

def plot_grad_norm_by_position(
    norms_by_mode: Mapping[str, Sequence[float] | np.ndarray],
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Gradient norm reaching each source position, one line per attention mode, log y.

    Without attention the loss reaches early source positions only back through the whole
    encoder recurrence, so their gradient decays with distance; attention adds a direct path
    to every position. This plot makes the difference visible.

    Parameters
    ----------
    norms_by_mode : dict of str to ndarray of shape (S,)
        Attention mode ("none", "dot", "general", "concat") -> gradient norm at source
        positions 1..S (lengths may differ between modes).
    ax : Axes, optional
        Draw into this axes; a new figure is made when None.
    title : str, optional
        Defaults to "Gradient norm by source position".

    Returns
    -------
    Figure
    """
    _check_nonempty("norms_by_mode", norms_by_mode)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 4.0), layout="constrained")
    for mode, norms in norms_by_mode.items():
        y = _as_1d(f"norms_by_mode[{mode!r}]", norms)
        ax.plot(np.arange(1, len(y) + 1), y, "o-", ms=3, label=str(mode))
    ax.set_yscale("log")
    ax.set_xlabel("source position s (tokens from the start)")
    ax.set_ylabel("gradient L2 norm at position s")
    ax.set_title("Gradient norm by source position" if title is None else title)
    ax.legend(title="attention", fontsize="small")
    return ax.figure


def _lines_vs_length(
    lengths: Sequence[int] | np.ndarray,
    ys_by_label: Mapping[str, Sequence[float] | np.ndarray],
    name: str,
) -> tuple[Figure, Axes]:
    """A new figure with one line per label against source length (validated: ``name`` is the
    caller's argument, used in errors)."""
    _check_nonempty(name, ys_by_label)
    x = _as_1d("lengths", lengths)
    fig, ax = plt.subplots(figsize=(6.5, 4.0), layout="constrained")
    for label, ys in ys_by_label.items():
        ax.plot(x, _as_1d(f"{name}[{label!r}]", ys, len(x), "lengths"), "o-", ms=4,
                label=str(label))
    ax.set_xlabel("source length S (tokens)")
    return fig, ax


def plot_norm_ratio_vs_length(
    lengths: Sequence[int] | np.ndarray,
    ratios_by_mode: Mapping[str, Sequence[float] | np.ndarray],
) -> Figure:
    """Ratio of first- to last-position gradient norm against source length, log y.

    A ratio far below 1 means the first source tokens receive a vanishing share of the
    gradient; the dashed line at 1 marks equal flow.

    Parameters
    ----------
    lengths : sequence of int, length L
        Source lengths S at which the ratio was measured.
    ratios_by_mode : dict of str to ndarray of shape (L,)
        Attention mode -> ``norm(position 1) / norm(position S)`` at each length.

    Returns
    -------
    Figure
        Titled "First / last position gradient norm vs source length".
    """
    fig, ax = _lines_vs_length(lengths, ratios_by_mode, "ratios_by_mode")
    ax.axhline(1.0, color="0.5", ls="--", lw=1.0, label="equal flow (ratio 1)")
    ax.set_yscale("log")
    ax.set_ylabel("gradient norm ratio, first / last position")
    ax.set_title("First / last position gradient norm vs source length")
    ax.legend(title="attention", fontsize="small")
    return fig


def plot_accuracy_vs_length(
    lengths: Sequence[int] | np.ndarray,
    acc_by_model: Mapping[str, Sequence[float] | np.ndarray],
) -> Figure:
    """Exact-match accuracy against source length, one line per model.

    Parameters
    ----------
    lengths : sequence of int, length L
        Source lengths (or length-bucket centres).
    acc_by_model : dict of str to ndarray of shape (L,)
        Model label -> fraction of outputs exactly right at each length, in [0, 1]
        (NaN for an empty bucket leaves a gap).

    Returns
    -------
    Figure
        Titled "Exact match vs source length".
    """
    fig, ax = _lines_vs_length(lengths, acc_by_model, "acc_by_model")
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("exact match (fraction of sequences)")
    ax.set_title("Exact match vs source length")
    ax.legend(fontsize="small")
    return fig


# ----------------------------------------------------------------------------------------------
# saving

def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = _DPI) -> Path:
    """Save ``fig`` to ``path`` (format from the suffix), creating parent directories.

    Parameters
    ----------
    fig : Figure
    path : str or PathLike
        E.g. ``runs/dates/attention.png``.
    dpi : int
        Resolution for raster formats.

    Returns
    -------
    Path
        The path written: exactly ``path`` (a name without a suffix is written as PNG, and no
        ``.png`` is appended to it).

    Raises
    ------
    ValueError
        If the suffix names no format matplotlib can write (the message lists those it can).
    """
    path = Path(path)
    fmt = path.suffix[1:].lower() or "png"
    formats = fig.canvas.get_supported_filetypes()
    if fmt not in formats:
        raise ValueError(f"cannot save a figure as {path.name!r}: no image format "
                         f"'.{fmt}'; use one of {', '.join('.' + f for f in sorted(formats))}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with _quiet_missing_glyphs():
        # an explicit format: matplotlib would append ".png" to a name without a suffix
        fig.savefig(path, dpi=dpi, bbox_inches="tight", format=fmt)
    return path
