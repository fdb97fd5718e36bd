"""Diagrams drawn by code: the shapes of RNN problems, the unrolled encoder–decoder, one attention
step with its array shapes, backpropagation through time, and a beam-search tree.

The notebooks teach with these pictures, so they are drawn here from the same notation the code
uses (the letters below, Luong et al.'s equations) instead of being pasted in as images that
drift out of date. Every function builds a matplotlib figure with the object API and returns it
(nothing calls ``plt.show()``); nothing here imports the model.

Letters: N batch, S source length, T target length, E embedding, H hidden, V vocabulary.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from .fonts import cjk_font_family

__all__ = [
    "draw_rnn_shapes",
    "draw_encoder_decoder",
    "draw_attention_step",
    "draw_bptt",
    "draw_beam_tree",
]

# one colour per role, used by every diagram: inputs, recurrent cells, outputs, attention, gradient
COLOURS = {"input": "#d8ecd0", "cell": "#e6e6e6", "encoder": "#dbe7f5", "decoder": "#fbe3c8",
           "output": "#cfe0f5", "attention": "#f3d3e6", "grad": "tab:red"}
_BOX_W, _BOX_H = 0.8, 0.5


# ----------------------------------------------------------------------------------------------
# drawing primitives

def _box(ax: Axes, x: float, y: float, text: str, role: str, w: float = _BOX_W,
         h: float = _BOX_H, fontsize: float = 9) -> None:
    """A rounded box centred at (x, y) with ``text`` inside, coloured by its ``role``."""
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.03",
                                facecolor=COLOURS[role], edgecolor="black", linewidth=0.8))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize,
            fontfamily=cjk_font_family())


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float],
           color: str = "black", style: str = "-", width: float = 1.0, rad: float = 0.0) -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=10, color=color,
                                 linestyle=style, linewidth=width, shrinkA=2, shrinkB=2,
                                 connectionstyle=f"arc3,rad={rad}"))


def _frame(ax: Axes, width: float, height: float, title: str) -> None:
    ax.set_xlim(-0.6, width - 0.4)
    ax.set_ylim(-0.6, height - 0.4)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=10)


def _tokens(name: str, tokens: Sequence[str]) -> list[str]:
    tokens = [str(t) for t in tokens]
    if not tokens:
        raise ValueError(f"{name} must hold at least one token, got an empty sequence")
    return tokens


# ----------------------------------------------------------------------------------------------
# the shapes of RNN problems

# (title, inputs at steps, outputs at steps, steps, encoder steps); an input or output at a step is
# drawn below or above that step's cell
_SHAPES = (
    ("one-to-one\n(no recurrence: classify one image)", [0], [0], 1, 1),
    ("one-to-many\n(caption an image)", [0], [0, 1, 2], 3, 1),
    ("many-to-one\n(sentiment of a sentence)", [0, 1, 2], [2], 3, 3),
    ("many-to-many, aligned\n(tag every word: S = T)", [0, 1, 2], [0, 1, 2], 3, 3),
    ("many-to-many, encoder–decoder\n(translate: S = 3, T = 4)", [0, 1, 2], [3, 4, 5, 6], 7, 3),
)


def draw_rnn_shapes() -> Figure:
    """The same recurrent cell in the five shapes of sequence problems, translation last.

    Each panel draws one box per time step (the same cell, the same weights), its input below and
    its output above. In the encoder–decoder the first S steps only read (the encoder), the
    next T only write (the decoder, fed its own previous output), so S and T are free to differ.
    """
    widths = [max(steps, 2.2) for *_, steps, _ in _SHAPES]  # room for the title of one step
    fig, axes = plt.subplots(1, len(_SHAPES), figsize=(0.9 * sum(widths), 3.2),
                             gridspec_kw={"width_ratios": widths}, layout="constrained")
    for ax, (title, ins, outs, steps, enc) in zip(axes, _SHAPES, strict=True):
        for t in range(steps):
            role = "cell" if enc == steps else ("encoder" if t < enc else "decoder")
            _box(ax, t, 1, "RNN", role)
            if t:
                _arrow(ax, (t - 1 + _BOX_W / 2, 1), (t - _BOX_W / 2, 1))
        for k, t in enumerate(ins):
            _box(ax, t, 0, f"x{k + 1}", "input", h=0.4)
            _arrow(ax, (t, 0.2), (t, 1 - _BOX_H / 2))
        for k, t in enumerate(outs):
            _box(ax, t, 2, f"y{k + 1}", "output", h=0.4)
            _arrow(ax, (t, 1 + _BOX_H / 2), (t, 1.8))
            if enc < steps and t + 1 < steps:  # the decoder reads its own previous output
                _arrow(ax, (t + 0.2, 2), (t + 1 - 0.25, 1 + _BOX_H / 2), color="grey",
                       style="--", rad=-0.3)
        _frame(ax, steps, 3, title)
        ax.set_xlim(-0.6, max(steps, 2.2) - 0.4)
        ax.title.set_fontsize(8.5)
    fig.suptitle("One recurrent cell, five problem shapes (time runs left to right)")
    return fig


# ----------------------------------------------------------------------------------------------
# the unrolled encoder–decoder

def draw_encoder_decoder(src_tokens: Sequence[str], tgt_tokens: Sequence[str],
                         attention: bool = False) -> Figure:
    """The encoder–decoder unrolled over one example: S encoder steps, then T decoder steps.

    The encoder reads ``src_tokens``; its final state starts the decoder, which reads ``<s>``
    and then its own previous output and writes ``tgt_tokens`` followed by ``</s>``. With
    ``attention`` every decoder step also reads a context vector mixed from all S encoder
    states (one dotted line per pair); without it the final state is the only bridge.
    """
    src = _tokens("src_tokens", src_tokens)
    tgt = _tokens("tgt_tokens", tgt_tokens)
    S, T = len(src), len(tgt) + 1  # the decoder also writes </s>
    gap = 1.0
    width = S + gap + T
    fig, ax = plt.subplots(figsize=(1.0 + 0.95 * width, 3.8 if attention else 3.2),
                           layout="constrained")
    for s, tok in enumerate(src):
        _box(ax, s, 1, f"h̄{s + 1}", "encoder")
        _box(ax, s, 0, tok, "input", h=0.4)
        _arrow(ax, (s, 0.2), (s, 1 - _BOX_H / 2))
        if s:
            _arrow(ax, (s - 1 + _BOX_W / 2, 1), (s - _BOX_W / 2, 1))
    x0 = S + gap
    _arrow(ax, (S - 1 + _BOX_W / 2, 1), (x0 - _BOX_W / 2, 1), width=2.0)
    ax.text((S - 1 + x0) / 2, 1.32, "final state", ha="center", fontsize=8)
    outputs = tgt + ["</s>"]
    for t in range(T):
        x = x0 + t
        _box(ax, x, 1, f"h{t + 1}", "decoder")
        _box(ax, x, 0, "<s>" if t == 0 else outputs[t - 1], "input", h=0.4)
        _box(ax, x, 2.1, outputs[t], "output", h=0.4)
        _arrow(ax, (x, 0.2), (x, 1 - _BOX_H / 2))
        _arrow(ax, (x, 1 + _BOX_H / 2), (x, 1.9))
        if t:
            _arrow(ax, (x - 1 + _BOX_W / 2, 1), (x - _BOX_W / 2, 1))
        if attention:
            for s in range(S):
                _arrow(ax, (s + 0.1, 1 + _BOX_H / 2), (x - 0.1, 1 + _BOX_H / 2),
                       color="tab:purple", style=":", width=0.5, rad=-0.3)
    ax.text((S - 1) / 2, -0.55, f"encoder: S = {S} steps", ha="center", fontsize=9)
    ax.text(x0 + (T - 1) / 2, -0.55, f"decoder: T = {T} steps (fed its previous output)",
            ha="center", fontsize=9)
    title = ("with attention: every decoder step mixes all encoder states h̄1..h̄S"
             if attention else "without attention: the final state is the only bridge")
    _frame(ax, width, 3.4 if attention else 2.8, f"Encoder–decoder, unrolled — {title}")
    if attention:
        ax.set_ylim(-0.8, 3.4)
    else:
        ax.set_ylim(-0.8, 2.6)
    return fig


# ----------------------------------------------------------------------------------------------
# one attention step

def draw_attention_step(score: str = "general") -> Figure:
    """One step of Luong attention as a pipeline of arrays with their shapes.

    From the decoder state h_t (N, H) and the encoder states h̄ (N, S, H): scores (N, S), masked
    softmax a_t (N, S), context c_t = Σ_s a_t(s) h̄_s (N, H), the attentional state
    h̃_t = tanh(W_c [c_t; h_t]) (N, H) and the output distribution softmax(h̃_t W_s + b_s) (N, V).
    ``score`` picks the formula printed in the score box: "dot", "general" or "concat".
    """
    formulas = {"dot": "h_t · h̄_s", "general": "h_t W_a · h̄_s",
                "concat": "v_a · tanh(W_a [h_t; h̄_s])"}
    if score not in formulas:
        raise ValueError(f"score must be one of {sorted(formulas)}, got {score!r}")
    stages = [  # (x, y, text, shape, role)
        (0.0, 2.0, "decoder state h_t", "(N, H)", "decoder"),
        (0.0, 0.0, "encoder states h̄_s", "(N, S, H)", "encoder"),
        (2.2, 1.0, f"score(h_t, h̄_s)\n= {formulas[score]}", "(N, S)", "attention"),
        (4.4, 1.0, "a_t = masked\nsoftmax over s", "(N, S)", "attention"),
        (6.6, 1.0, "context\nc_t = Σ_s a_t(s) h̄_s", "(N, H)", "attention"),
        (8.8, 2.0, "h̃_t = tanh(W_c [c_t; h_t])", "(N, H)", "decoder"),
        (11.0, 2.0, "p(y_t) = softmax(h̃_t W_s + b_s)", "(N, V)", "output"),
    ]
    fig, ax = plt.subplots(figsize=(14, 3.6), layout="constrained")
    for x, y, text, shape, role in stages:
        _box(ax, x, y, text, role, w=1.9, h=0.8, fontsize=8.5)
        ax.text(x, y - 0.55, shape, ha="center", va="top", fontsize=8.5, color="dimgrey",
                fontfamily="monospace")
    links = [(0, 2), (1, 2), (2, 3), (3, 4), (1, 4), (4, 5), (0, 5), (5, 6)]
    for a, b in links:
        (xa, ya), (xb, yb) = stages[a][:2], stages[b][:2]
        _arrow(ax, (xa + 0.95, ya), (xb - 0.95, yb), rad=0.0 if ya == yb else 0.1)
    ax.text(4.4, -0.3, "padding positions get weight 0", ha="center", fontsize=8, color="dimgrey")
    ax.set_xlim(-1.2, 12.2)
    ax.set_ylim(-0.9, 2.7)
    ax.axis("off")
    ax.set_title(f"One step of Luong attention ({score} score): arrays and their shapes",
                 fontsize=10)
    return fig


# ----------------------------------------------------------------------------------------------
# backpropagation through time

def draw_bptt(steps: int = 4) -> Figure:
    """An RNN unrolled over ``steps`` steps, the forward pass in black and BPTT in red.

    Each state h_t feeds the loss term L_t and the next state. Going back, the total gradient at
    h_t is its direct part ∂L_t/∂h_t plus what comes from h_{t+1} through the step's Jacobian;
    the shared weights collect one term per step.
    """
    if not isinstance(steps, int) or isinstance(steps, bool) or not 2 <= steps <= 12:
        raise ValueError(f"steps must be an int in [2, 12], got {steps!r}")
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 + 1.5 * steps), 4.0), layout="constrained")
    for t in range(steps):
        x = 1.4 * t
        _box(ax, x, 0, f"x{t + 1}", "input", h=0.4)
        _box(ax, x, 1.2, f"h{t + 1}", "cell")
        _box(ax, x, 2.4, f"L{t + 1}", "output", h=0.4)
        _arrow(ax, (x, 0.2), (x, 1.2 - _BOX_H / 2))
        _arrow(ax, (x - 0.12, 1.2 + _BOX_H / 2), (x - 0.12, 2.2))  # forward: into the loss
        _arrow(ax, (x + 0.12, 2.2), (x + 0.12, 1.2 + _BOX_H / 2), color=COLOURS["grad"],
               style="--")  # backward: ∂L_t/∂h_t
        if t:
            _arrow(ax, (x - 1.4 + _BOX_W / 2, 1.27), (x - _BOX_W / 2, 1.27))
            _arrow(ax, (x - _BOX_W / 2, 1.08), (x - 1.4 + _BOX_W / 2, 1.08),
                   color=COLOURS["grad"], style="--")
    right = 1.4 * (steps - 1)
    ax.text(right / 2, -0.55, "black: forward, h_t = tanh(x_t W_x + h_{t-1} W_h + b)",
            ha="center", fontsize=8.5)
    ax.text(right / 2, -0.9, "red: backward, ∂L/∂h_t = ∂L_t/∂h_t + ∂L/∂h_{t+1} · ∂h_{t+1}/∂h_t",
            ha="center", fontsize=8.5, color=COLOURS["grad"])
    ax.text(right / 2, -1.25, "shared weights: ∂L/∂W_h = Σ_t (one term per step)",
            ha="center", fontsize=8.5, color=COLOURS["grad"])
    ax.set_xlim(-0.8, right + 0.8)
    ax.set_ylim(-1.45, 2.8)
    ax.axis("off")
    ax.set_title(f"Backpropagation through time over {steps} steps", fontsize=10)
    return fig


# ----------------------------------------------------------------------------------------------
# a beam-search tree

def draw_beam_tree(steps: Sequence[Mapping[str, Any]],
                   label: Callable[[tuple], str] | None = None,
                   highlight: Sequence[Any] | None = None) -> Figure:
    """The hypotheses a beam search kept at every step, as a tree.

    Parameters
    ----------
    steps : sequence of dict
        One dict per decoder step with "live": the (tokens, log-probability) pairs kept after
        the step, and optionally "finished": those that ended with ``</s>`` there (tokens
        without the ``</s>``). Every kept prefix must extend a prefix kept one step earlier.
    label : callable, optional
        Text of a node from its token tuple (default: its last token).
    highlight : sequence, optional
        A token sequence (e.g. greedy's output) whose prefixes are drawn in bold.

    Each column is a step; a node shows its newest token and cumulative log-probability; a
    finished hypothesis is a green node marked ``</s>``.
    """
    if not steps:
        raise ValueError("steps must hold at least one step, got an empty sequence")
    label = label or (lambda tokens: str(tokens[-1]))
    marked = tuple(highlight) if highlight is not None else None
    pos: dict[tuple, tuple[float, float]] = {(): (0.0, 0.0)}
    width = max(len(s["live"]) + len(s.get("finished", [])) for s in steps)
    fig, ax = plt.subplots(figsize=(max(5.0, 2.0 + 1.5 * len(steps)), 1.4 + 0.75 * width),
                           layout="constrained")
    _box(ax, 0, 0, "<s>", "input", w=1.0, h=0.45)
    previous = {()}
    for t, step in enumerate(steps, 1):
        nodes = [(tuple(tok), lp, False) for tok, lp in step["live"]]
        nodes += [(tuple(tok), lp, True) for tok, lp in step.get("finished", [])]
        current = set()
        for row, (tokens, lp, done) in enumerate(nodes):
            parent = tokens if done else tokens[:-1]
            if parent not in previous:
                raise ValueError(f"step {t}: {tokens!r} extends {parent!r}, which was not kept "
                                 f"at step {t - 1}")
            y = -row * 0.75
            on_path = marked is not None and tuple(marked[:len(tokens)]) == tokens and (
                not done or tuple(marked) == tokens)
            text = ("</s>" if done else label(tokens)) + f"\n{lp:.2f}"
            _box(ax, 1.5 * t, y, text, "output" if not done else "input", w=1.1, h=0.55,
                 fontsize=8)
            px, py = pos[parent]
            _arrow(ax, (px + 0.5, py), (1.5 * t - 0.55, y), color="black" if on_path else "grey",
                   width=2.0 if on_path else 0.8)
            if not done:
                pos[tokens] = (1.5 * t, y)
                current.add(tokens)
        previous = current
    ax.set_xlim(-0.7, 1.5 * len(steps) + 0.7)
    ax.set_ylim(-0.75 * width + 0.2, 0.6)
    ax.axis("off")
    ax.set_title("Beam search: the hypotheses kept after each step\n(newest token, cumulative "
                 "log p; green: finished with </s>" + ("; bold: the highlighted output)"
                                                      if marked else ")"), fontsize=9)
    return fig
