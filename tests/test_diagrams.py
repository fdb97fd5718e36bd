"""Tests for numpy_seq2seq.diagrams: each diagram draws what it names, and bad input is refused."""

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported anywhere in this module

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

from numpy_seq2seq import diagrams  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def count(fig: Figure, kind: type) -> int:
    return sum(isinstance(p, kind) for ax in fig.axes for p in ax.patches)


def test_rnn_shapes_draw_five_panels_with_translation_last():
    fig = diagrams.draw_rnn_shapes()
    assert len(fig.axes) == 5
    assert "encoder–decoder" in fig.axes[-1].get_title()
    # the encoder–decoder panel: 3 + 4 cells, 3 inputs, 4 outputs
    assert sum(isinstance(p, FancyBboxPatch) for p in fig.axes[-1].patches) == 3 + 4 + 3 + 4


@pytest.mark.parametrize("attention", [False, True])
def test_encoder_decoder_draws_one_box_per_step_and_token(attention):
    fig = diagrams.draw_encoder_decoder(list("abc"), list("xy"), attention=attention)
    S, T = 3, 3  # the decoder also writes </s>
    assert count(fig, FancyBboxPatch) == 2 * S + 3 * T  # encoder: input + state; decoder: + output
    labels = texts(fig)
    assert {"a", "b", "c", "<s>", "</s>", "h̄1", "h̄3", "h3"} <= set(labels)
    arrows = count(fig, FancyArrowPatch)
    plain = (S - 1) + S + 1 + (T - 1) + 2 * T  # recurrences, inputs, bridge, decoder in/out
    assert arrows == plain + (S * T if attention else 0)


def test_encoder_decoder_refuses_an_empty_side():
    with pytest.raises(ValueError, match="src_tokens must hold at least one token"):
        diagrams.draw_encoder_decoder([], ["x"])


@pytest.mark.parametrize("score", ["dot", "general", "concat"])
def test_attention_step_labels_every_array_with_its_shape(score):
    labels = texts(diagrams.draw_attention_step(score))
    for shape in ("(N, H)", "(N, S, H)", "(N, S)", "(N, V)"):
        assert shape in labels
    assert any(score in ax.get_title() for ax in diagrams.draw_attention_step(score).axes)


def test_attention_step_refuses_an_unknown_score():
    with pytest.raises(ValueError, match="score must be one of"):
        diagrams.draw_attention_step("cosine")


@pytest.mark.parametrize("steps", [2, 5])
def test_bptt_draws_a_backward_arrow_for_every_forward_one(steps):
    fig = diagrams.draw_bptt(steps)
    arrows = [p for ax in fig.axes for p in ax.patches if isinstance(p, FancyArrowPatch)]
    red = [a for a in arrows if a.get_linestyle() == "--"]
    assert len(red) == steps + (steps - 1)  # from each loss, and back along each recurrence
    assert len(arrows) - len(red) == steps * 2 + (steps - 1)  # inputs, into losses, recurrences


@pytest.mark.parametrize("steps", [1, 13, 3.0, True])
def test_bptt_refuses_a_bad_number_of_steps(steps):
    with pytest.raises(ValueError, match=r"steps must be an int in \[2, 12\]"):
        diagrams.draw_bptt(steps)


BEAM = [{"live": [((1,), -0.2), ((2,), -2.5)], "finished": []},
        {"live": [((1, 9), -0.6), ((2, 0), -2.8)], "finished": [((1,), -1.0)]}]


def test_beam_tree_draws_every_kept_hypothesis_and_highlights_a_path():
    fig = diagrams.draw_beam_tree(BEAM, highlight=(1, 9))
    assert count(fig, FancyBboxPatch) == 1 + 2 + 3  # <s>, step 1, step 2
    assert {"1\n-0.20", "9\n-0.60", "</s>\n-1.00"} <= set(texts(fig))
    bold = [p for ax in fig.axes for p in ax.patches
            if isinstance(p, FancyArrowPatch) and p.get_linewidth() == 2.0]
    assert len(bold) == 2  # <s> -> 1 -> 9


def test_beam_tree_refuses_a_prefix_that_was_not_kept():
    broken = [BEAM[0], {"live": [((3, 9), -0.6)]}]
    with pytest.raises(ValueError, match=r"step 2: \(3, 9\) extends \(3,\), which was not kept"):
        diagrams.draw_beam_tree(broken)
    with pytest.raises(ValueError, match="steps must hold at least one step"):
        diagrams.draw_beam_tree([])
