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
does not have. Token labels and titles are drawn with `numpy_seq2seq.fonts.cjk_font_family`: the
user's font family, then IPAexGothic and NanumGothic, fonts that come with two PyPI dependencies
and are registered without changing rcParams, so Hangul, kana and kanji render with real glyphs on
any machine. A character none of these fonts has still raises matplotlib's "Glyph ... missing"
warning; it is never silenced.
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .data.tokenize import display_width, show_token
from .files import atomic_write
from .fonts import cjk_font_family

__all__ = [
    "AttentionExample",
    "attention_title",
    "colour_limit",
    "colourbar_label",
    "plot_attention",
    "plot_attention_grid",
    "plot_training",
    "plot_grad_norm_by_position",
    "plot_norm_ratio_vs_length",
    "plot_accuracy_vs_length",
    "plot_param_grad_norms",
    "save_figure",
]

_DPI = 120
_TITLE_WIDTH = 44  # characters per title line of an attention panel


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

class AttentionExample(NamedTuple):
    """One attention map and what it is a map of; a plain ``(weights, src, out)`` triple works too.

    ``source``, ``output`` and ``reference`` are display strings for the panel title; compare-able
    forms (e.g. ``Vocab.canonical``) should be given, since ✓/✗ is ``output == reference``.
    """

    weights: np.ndarray  # (T, S)
    src_tokens: Sequence[str]  # S column labels
    out_tokens: Sequence[str]  # T row labels
    source: str | None = None  # the input text
    output: str | None = None  # the model's output text
    reference: str | None = None  # the expected output, when known


def attention_title(example: AttentionExample, index: int) -> str:
    """``"source" → "output"`` plus ✓, or ✗ and the reference; ``example i`` without texts.

    Long titles are wrapped at about 44 characters a line.
    """
    if example.source is None or example.output is None:
        return f"example {index}"
    title = f"{example.source!r} → {example.output!r}"
    if example.reference is not None:
        right = example.output == example.reference
        title += " ✓" if right else f" ✗ expected {example.reference!r}"
    return textwrap.fill(title, _TITLE_WIDTH)


SCALES = ("map", "fixed")  # a map's colours run to its own maximum, or to 1
_UPRIGHT_WIDTH = 4  # a tick label this wide or narrower stays upright (display_width)


def _tick_rotation(label: str) -> int:
    """0 (upright) for a short label, 90 for a longer one: decided per label, so a Hangul
    syllable or a letter reads upright in every panel, whatever its neighbours are."""
    return 0 if display_width(label) <= _UPRIGHT_WIDTH else 90


def _position_ticks(n: int) -> np.ndarray:
    """The 0-based positions to number on an axis of n tokens: all of them up to 12, else the
    first and every fifth (1-based 5, 10, ...)."""
    if n <= 12:
        return np.arange(n)
    return np.unique(np.r_[0, np.arange(4, n, 5)])


def _number_positions(ax: Axes, S: int, T: int) -> None:
    """Source positions 1..S along the top, decoder steps 1..T down the right."""
    top = ax.secondary_xaxis("top")
    top.set_xticks(_position_ticks(S), [str(i + 1) for i in _position_ticks(S)])
    top.tick_params(labelsize="x-small", length=2)
    top.set_xlabel("source position", fontsize="small")
    right = ax.secondary_yaxis("right")
    right.set_yticks(_position_ticks(T), [str(i + 1) for i in _position_ticks(T)])
    right.tick_params(labelsize="x-small", length=2)
    right.set_ylabel("decoder step", fontsize="small")


def colour_limit(weights: np.ndarray, scale: str) -> float:
    """The weight drawn in the brightest colour: 1 (``"fixed"``) or the map's maximum
    (``"map"``; 1 for a map of zeros)."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}, got {scale!r}")
    top = float(np.max(weights)) if np.size(weights) else 0.0
    return 1.0 if scale == "fixed" or top <= 0 else top


def colourbar_label(vmax: float) -> str:
    """``attention weight (0 to 1)``, or for a map's own scale ``attention weight (0 to
    0.43, this map's maximum)``."""
    if vmax == 1.0:
        return "attention weight (0 to 1)"
    return f"attention weight (0 to {vmax:.2g}, this map's maximum)"


def plot_attention(
    weights: np.ndarray,
    src_tokens: Sequence[str],
    tgt_tokens: Sequence[str],
    ax: Axes | None = None,
    title: str | None = None,
    colorbar: bool = True,
    scale: str = "map",
) -> Figure:
    """Heat map of one attention matrix: output steps down, source positions across.

    Parameters
    ----------
    weights : ndarray of shape (T, S)
        ``weights[t, s]`` is the attention output step t paid to source position s (rows sum
        to 1 over the unpadded positions).
    src_tokens : sequence of str, length S
        Labels of the columns (x axis); a space token, and a bpe piece's ``▁``, are drawn as
        ``␣``. Labels of up to 4 cells (a short word, two Hangul syllables) stay upright,
        longer ones turn 90°. Positions 1..S are numbered along the top.
    tgt_tokens : sequence of str, length T
        Labels of the rows (y axis), usually the tokens the decoder produced; decoder steps
        1..T are numbered down the right.
    ax : Axes, optional
        Draw into this axes; a new figure is made when None.
    title : str, optional
        Axes title; defaults to "Attention weights".
    colorbar : bool
        Add a colorbar, labelled with the scale (`colourbar_label`).
    scale : {"map", "fixed"}
        "map" (default): colours run from 0 to this map's largest weight, so diffuse attention
        (no weight above 0.3, say) still shows its pattern; the colour bar says so. "fixed":
        0 to 1, so maps can be compared by eye.

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

    vmax = colour_limit(w, scale)
    image = ax.imshow(w, cmap="viridis", vmin=0.0, vmax=vmax, aspect="auto",
                      interpolation="nearest")
    family = cjk_font_family()
    src_labels = [show_token(t) for t in src_tokens]
    ax.set_xticks(np.arange(len(src_tokens)))
    ax.set_xticklabels(src_labels, fontfamily=family)
    for label, text in zip(ax.get_xticklabels(), src_labels, strict=True):
        label.set_rotation(_tick_rotation(text))
    ax.set_yticks(np.arange(len(tgt_tokens)))
    ax.set_yticklabels([show_token(t) for t in tgt_tokens], fontfamily=family)
    ax.set_xlabel("source token")
    ax.set_ylabel("output token")
    _number_positions(ax, w.shape[1], w.shape[0])
    ax.set_title("Attention weights" if title is None else title, fontfamily=family)
    if colorbar:
        fig.colorbar(image, ax=ax, label=colourbar_label(vmax))
    return fig


def plot_attention_grid(
    examples: Sequence[AttentionExample | tuple[np.ndarray, Sequence[str], Sequence[str]]],
    ncols: int = 2,
    suptitle: str | None = None,
    scale: str = "map",
) -> Figure:
    """Several attention maps side by side, each with its own colour scale (or one [0, 1]
    scale for all).

    Parameters
    ----------
    examples : sequence of AttentionExample or (weights, src_tokens, tgt_tokens)
        ``weights`` of shape (T, S) may differ in size between examples. Each panel is titled
        with `attention_title`: the source and the model's output, ✓ or ✗ against the
        reference when one is given (``example i`` for a bare triple).
    ncols : int
        Number of columns; rows are added as needed.
    suptitle : str, optional
        Figure title; defaults to "Attention weights".
    scale : {"map", "fixed"}
        "map" (default): each panel's colours run to its own largest weight, with a colour bar
        of its own that says so; "fixed": one colour bar, 0 to 1, shared by all panels.

    Returns
    -------
    Figure
        One axes per example (first in ``fig.axes``, then the colour bars); unused cells are
        hidden. Panels grow with the longest example.

    Raises
    ------
    ValueError
        If ``examples`` is empty, ``ncols`` < 1, or an example's shapes do not match its tokens.
    """
    if len(examples) == 0:
        raise ValueError("examples is empty; give at least one (weights, src, tgt) triple")
    if ncols < 1:
        raise ValueError(f"ncols must be >= 1, got {ncols}")
    examples = [AttentionExample(*ex) for ex in examples]
    ncols = min(ncols, len(examples))
    nrows = math.ceil(len(examples) / ncols)
    longest_s = max(len(ex.src_tokens) for ex in examples)
    longest_t = max(len(ex.out_tokens) for ex in examples)
    width = max(4.0, 1.5 + 0.28 * longest_s)
    height = max(3.5, 2.0 + 0.25 * longest_t)
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, layout="constrained",
                             figsize=(width * ncols + 1.0, height * nrows + 0.5))
    colour_limit(np.zeros(0), scale)  # refuse a bad scale before drawing
    for i, (ax, ex) in enumerate(zip(axes.flat, examples), start=1):
        try:
            plot_attention(ex.weights, ex.src_tokens, ex.out_tokens, ax=ax,
                           title=attention_title(ex, i), colorbar=False, scale=scale)
        except ValueError as err:
            plt.close(fig)
            raise ValueError(f"example {i}: {err}") from None
        ax.title.set_fontsize("small")
    for ax in axes.flat[len(examples):]:
        ax.set_visible(False)
    drawn = list(axes.flat[:len(examples)])
    if scale == "fixed":
        fig.colorbar(drawn[-1].images[-1], ax=axes.ravel().tolist(), label=colourbar_label(1.0))
    else:
        for ax in drawn:
            image = ax.images[-1]
            bar = fig.colorbar(image, ax=ax)
            bar.set_label(colourbar_label(image.get_clim()[1]), fontsize="x-small")
    fig.suptitle("Attention weights" if suptitle is None else suptitle,
                 fontfamily=cjk_font_family())
    return fig


# ----------------------------------------------------------------------------------------------
# training curves

SMOOTH_POINTS = 50  # plot_training summarises the loss over windows of len(steps) / 50 steps


def _rolling_quantiles(values: np.ndarray, window: int, qs: Sequence[float]) -> list[np.ndarray]:
    """Each quantile in ``qs`` of the ``window`` values centred on every step (the window
    shrinks at both ends, so the result has the length of ``values``)."""
    half = window // 2
    out = [np.empty(len(values)) for _ in qs]
    for i in range(len(values)):
        part = values[max(0, i - half):i + half + 1]
        for arr, q in zip(out, np.quantile(part, qs), strict=True):
            arr[i] = q
    return out


def _on_epochs(values: list[float], epochs: Sequence[int], n_epochs: int, key: str) -> list:
    """``values`` recorded after ``epochs`` (1-based), as a list over all ``n_epochs``, NaN
    where an epoch was not scored."""
    if len(values) != len(epochs) or not all(1 <= int(e) <= n_epochs for e in epochs):
        raise ValueError(f"history[{key!r}] has {len(values)} values for valid_epochs "
                         f"{list(epochs)}; expected one per scored epoch, each in 1..{n_epochs}")
    spread = [np.nan] * n_epochs
    for value, epoch in zip(values, epochs, strict=True):
        spread[int(epoch) - 1] = value
    return spread


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
        - ``"valid_epochs"``: the epochs (1-based) the ``valid_*`` lists were recorded after,
          when not every epoch was scored (``TrainConfig.eval_every``);
        - ``"valid_bleu"``, ``"valid_chrf"``: held-out BLEU and chrF per epoch end, None (or
          NaN) for an epoch not scored; a panel "Held-out BLEU and chrF" shows the epochs that
          were (a translation task's exact match can sit at 0 while these rise); with
          ``"bleu_name": "char_bleu"`` (character targets) the BLEU is labelled char-BLEU;
        - ``"max_norm"``: the clipping threshold, drawn as a horizontal dashed line.

    With 150 steps or more the loss panel shows each step's loss faintly, and over it the
    median and the 10–90 % band of a window of len(steps) / 50 steps centred on each step: a
    batch's loss jumps with the batch, and the trend is what one reads. The gradient norm is
    drawn step by step (its spikes are what one looks for).

    Returns
    -------
    Figure
        Panels "Training loss" and "Gradient norm before clipping" (then "Validation exact
        match" and "Held-out BLEU and chrF" when given), sharing the step axis.

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
    scored_epochs = history.get("valid_epochs")  # None: every epoch was scored
    for key in ("valid_loss", "valid_exact_match", "valid_bleu", "valid_chrf"):
        if history.get(key) is not None:
            if epoch_ends is None:
                raise ValueError(f"history[{key!r}] needs history['epoch_end_steps'] as its x")
            values = [np.nan if v is None else v for v in history[key]]  # None: not scored
            if scored_epochs is not None:  # eval_every: spread them over their epochs
                values = _on_epochs(values, scored_epochs, len(epoch_ends), key)
            per_epoch[key] = _as_1d(f"history[{key!r}]", values, len(epoch_ends),
                                    "history['epoch_end_steps']")
    scored = [k for k in ("valid_bleu", "valid_chrf")
              if k in per_epoch and np.isfinite(per_epoch[k]).any()]

    npanels = 2 + ("valid_exact_match" in per_epoch) + bool(scored)
    fig, axes = plt.subplots(npanels, 1, sharex=True, layout="constrained",
                             figsize=(7.0, 2.6 * npanels + 0.4))
    ax_loss, ax_grad = axes[0], axes[1]

    window = len(step) // SMOOTH_POINTS  # a batch's loss is noisy: summarise every window
    if window >= 3:
        mid, low, high = _rolling_quantiles(loss, window, (0.5, 0.1, 0.9))
        ax_loss.plot(step, loss, lw=0.5, color="tab:blue", alpha=0.25)
        ax_loss.fill_between(step, low, high, color="tab:blue", alpha=0.25, lw=0,
                             label=f"training loss, 10–90 % of {window} steps")
        ax_loss.plot(step, mid, lw=1.5, color="tab:blue",
                     label=f"training loss, median of {window} steps")
    else:
        ax_loss.plot(step, loss, lw=1.0, label="training loss")
    if "valid_loss" in per_epoch:
        done = np.isfinite(per_epoch["valid_loss"])  # the epochs that were scored
        ax_loss.plot(epoch_ends[done], per_epoch["valid_loss"][done], "o-",
                     label="validation loss")
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

    if "valid_exact_match" in per_epoch:
        ax_acc = axes[2]
        done = np.isfinite(per_epoch["valid_exact_match"])
        ax_acc.plot(epoch_ends[done], per_epoch["valid_exact_match"][done], "o-",
                    color="tab:green", label="validation exact match")
        ax_acc.set_ylim(-0.02, 1.02)
        ax_acc.set_ylabel("exact match (fraction)")
        ax_acc.set_title("Validation exact match")
    if scored:
        ax_bleu = axes[-1]
        bleu = "char-BLEU" if history.get("bleu_name") == "char_bleu" else "BLEU"
        for key, label, colour in (("valid_bleu", bleu, "tab:purple"),
                                   ("valid_chrf", "chrF", "tab:orange")):
            if key in scored:
                done = np.isfinite(per_epoch[key])  # the epochs that were scored
                ax_bleu.plot(epoch_ends[done], per_epoch[key][done], "o-", color=colour,
                             label=f"held-out {label}")
        ax_bleu.set_ylim(-2, 102)
        ax_bleu.set_ylabel("score (0-100, sacreBLEU)")
        ax_bleu.set_title(f"Held-out {bleu} and chrF")

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
    """Save ``fig`` to ``path`` (format from the suffix) atomically (`files.atomic_write`),
    creating parent directories.

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
    with atomic_write(path) as f:  # an interrupted save leaves the old figure, not half a file
        # an explicit format: matplotlib would append ".png" to a name without a suffix
        fig.savefig(f, dpi=dpi, bbox_inches="tight", format=fmt)
    return path
