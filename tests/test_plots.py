"""Tests for numpy_seq2seq.plots: every figure's labels, scales and legends; validation; saving."""

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported anywhere in this module

import datetime as dt  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ft2font import FT2Font  # noqa: E402

from numpy_seq2seq import fonts, plots  # noqa: E402
from numpy_seq2seq.data.dates import DATE_FORMATS, format_source  # noqa: E402

MODES = ("none", "dot", "general", "concat")


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def attention(rng, T, S):
    w = rng.random((T, S))
    return w / w.sum(axis=1, keepdims=True)  # (T, S), rows sum to 1


def legend_texts(ax):
    legend = ax.get_legend()
    assert legend is not None, f"no legend on {ax.get_title()!r}"
    return [t.get_text() for t in legend.get_texts()]


def visible_axes(fig):
    # colorbars are axes too; keep the plotting axes only
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


# ----------------------------------------------------------------------------------------------
# attention

def test_plot_attention_labels_ticks_and_colorbar(rng):
    src, tgt = list("2024-01"), ["J", "a", "n", "</s>"]  # S = 7, T = 4
    w = attention(rng, 4, 7)
    fig = plots.plot_attention(w, src, tgt, title="dates")
    assert isinstance(fig, Figure)
    ax, cbar = fig.axes
    assert ax.get_title() == "dates"
    assert "source" in ax.get_xlabel() and "output" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_xticklabels()] == src
    assert [t.get_text() for t in ax.get_yticklabels()] == tgt
    # the map's own scale, stated on the colour bar
    assert ax.images[0].get_clim() == (0.0, w.max()) and w.max() < 0.5
    assert cbar.get_ylabel() == f"attention weight (0 to {w.max():.2g}, this map's maximum)"
    assert ax.images[0].get_array().shape == (4, 7)
    fixed = plots.plot_attention(w, src, tgt, scale="fixed")
    assert fixed.axes[0].images[0].get_clim() == (0.0, 1.0)
    assert fixed.axes[1].get_ylabel() == "attention weight (0 to 1)"
    with pytest.raises(ValueError, match="scale must be one of map, fixed, got 'log'"):
        plots.plot_attention(w, src, tgt, scale="log")


def test_plot_attention_into_given_axes_has_default_title(rng):
    fig, ax = plt.subplots()
    out = plots.plot_attention(attention(rng, 2, 3), list("abc"), list("xy"), ax=ax)
    assert out is fig and ax.get_title() == "Attention weights"


@pytest.mark.parametrize("shape", [(4, 6), (6, 4), (24,), (1, 4, 6)])
def test_plot_attention_shape_mismatch_names_both(shape, rng):
    src, tgt = list("abcdef"), list("wxyz")  # expects (4, 6)... given 4 targets, 6 sources
    if shape == (4, 6):
        src = src[:5]  # make the tokens the wrong length instead
    with pytest.raises(ValueError, match=r"weights has shape .* len\(tgt_tokens\) x "
                                         r"len\(src_tokens\) is \d x \d"):
        plots.plot_attention(rng.random(shape), src, tgt)


# ----------------------------------------------------------------------------------------------
# CJK glyphs: these run on CI's machine, which has no system CJK font

def dates_characters():
    """Every character the dates task writes: each format applied to every month, every weekday
    and all ten digits (28 Feb 1958, 2046, 1-7 Jan 2039, ...)."""
    dates = [dt.date(1958 if m % 2 else 2046, m, 28) for m in range(1, 13)]
    dates += [dt.date(2039, 1, d) for d in range(1, 8)]  # seven consecutive weekdays
    return sorted({c for loc, fmt in DATE_FORMATS for d in dates
                   for c in format_source(d, loc, fmt)})


def label_fonts(label):
    """The font files a text object resolves to, in fallback order (never Last Resort)."""
    paths = [font_manager.findfont(font_manager.FontProperties(family=[f]),
                                   fallback_to_default=False) for f in label.get_fontfamily()]
    return [p for p in dict.fromkeys(paths) if "LastResort" not in p]


def glyph_warnings(caught):
    return [str(w.message) for w in caught if "missing from" in str(w.message)]


def test_every_dates_character_has_a_real_glyph(rng):
    chars = dates_characters()
    assert {"년", "월", "요", "日", "曜", "é", "ä", "9"} <= set(chars)  # the sample is complete
    fig = plots.plot_attention(attention(rng, 2, len(chars)), chars, ["a", "b"])
    label = fig.axes[0].get_xticklabels()[0]
    charmaps = [FT2Font(path).get_charmap() for path in label_fonts(label)]
    missing = [c for c in chars if c != " " and not any(ord(c) in cm for cm in charmaps)]
    assert missing == [], f"no font of {label.get_fontfamily()} has {missing}"
    assert len(charmaps) >= 3  # the default font, IPAexGothic, NanumGothic


def test_cjk_figure_saves_without_glyph_warnings(rng, tmp_path):
    src = list("2022년 3월 14일 월요일")
    out = list("2022年3月14日月曜日")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = plots.plot_attention_grid(
            [plots.AttentionExample(attention(rng, len(out), len(src)), src, out,
                                    "2022년 3월 14일 월요일", "２０２２年", "かな")])
        plots.save_figure(fig, tmp_path / "cjk.png")
        fig.canvas.draw()  # as a notebook's inline display would
    assert glyph_warnings(caught) == []
    assert (tmp_path / "cjk.png").stat().st_size > 5000


def test_a_glyph_no_font_has_still_warns(rng, tmp_path):
    # the broken twin: Thai is in none of our fonts, and the warning must not be silenced
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = plots.plot_attention(attention(rng, 1, 2), ["ก", "a"], ["x"])
        plots.save_figure(fig, tmp_path / "thai.png")
    assert any("3585" in m or "ก" in m for m in glyph_warnings(caught)), glyph_warnings(caught)


def test_fonts_are_registered_without_touching_rcparams(rng):
    before = dict(matplotlib.rcParams)
    families = fonts.register_cjk_fonts()
    plots.plot_attention(attention(rng, 1, 2), ["가", "日"], ["x"])
    assert dict(matplotlib.rcParams) == before
    assert families == ("IPAexGothic", "NanumGothic")
    assert fonts.cjk_font_family()[-2:] == ["IPAexGothic", "NanumGothic"]
    # the packages' own code (which sets rcParams on import) never runs
    assert "koreanize_matplotlib" not in sys.modules and "matplotlib_fontja" not in sys.modules


# ----------------------------------------------------------------------------------------------
# attention panels explain themselves

@pytest.mark.parametrize("example, title", [
    (("w", "s", "o"), "example 3"),
    (("w", "s", "o", "abc", "cba"), "'abc' → 'cba'"),
    (("w", "s", "o", "abc", "cba", "cba"), "'abc' → 'cba' ✓"),
    (("w", "s", "o", "abc", "cab", "cba"), "'abc' → 'cab' ✗ expected 'cba'"),
])
def test_attention_title(example, title):
    assert plots.attention_title(plots.AttentionExample(*example), 3) == title


def test_long_titles_wrap():
    ex = plots.AttentionExample("w", "s", "o", "one " * 20, "un " * 20, "deux")
    title = plots.attention_title(ex, 1)
    lines = title.splitlines()
    assert len(lines) > 2 and max(map(len, lines)) <= 44
    assert title.replace("\n", " ").endswith("✗ expected 'deux'")


def test_grid_titles_marks_spaces_and_colorbar(rng):
    examples = [
        plots.AttentionExample(attention(rng, 3, 3), list("a b"), list("b a"), "a b", "b a", "b a"),
        plots.AttentionExample(attention(rng, 2, 3), list("a b"), ["x", "</s>"], "a b", "x", "b a"),
    ]
    fig = plots.plot_attention_grid(examples)
    first, second = visible_axes(fig)
    assert first.get_title() == "'a b' → 'b a' ✓"
    assert second.get_title() == "'a b' → 'x' ✗ expected 'b a'"
    assert [t.get_text() for t in first.get_xticklabels()] == ["a", "␣", "b"]
    assert first.get_xticklabels()[0].get_rotation() == 0  # characters stay upright
    words = plots.plot_attention(attention(rng, 1, 2), ["quatre-", "vingt"], ["x"])
    assert words.axes[0].get_xticklabels()[0].get_rotation() == 90
    assert [t.get_text() for t in first.get_yticklabels()] == ["b", "␣", "a"]
    colorbars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(colorbars) == 2  # one per map, each with the map's own scale
    assert all(c.get_ylabel().startswith("attention weight (0 to ") for c in colorbars)


def test_plot_attention_grid(rng):
    examples = [(attention(rng, T, S), [f"s{i}" for i in range(S)], [f"t{i}" for i in range(T)])
                for T, S in [(3, 5), (4, 6), (2, 7)]]
    fig = plots.plot_attention_grid(examples, ncols=2, suptitle="Three dates")
    assert fig.get_suptitle() == "Three dates"
    axes = visible_axes(fig)
    assert [ax.get_title() for ax in axes] == ["example 1", "example 2", "example 3"]
    assert [ax.images[0].get_array().shape for ax in axes] == [(3, 5), (4, 6), (2, 7)]
    assert sum(not ax.get_visible() for ax in fig.axes) == 1  # the empty fourth cell
    colorbars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert [c.get_ylabel() for c in colorbars] == [
        f"attention weight (0 to {ex[0].max():.2g}, this map's maximum)" for ex in examples]
    fixed = plots.plot_attention_grid(examples, scale="fixed")
    colorbars = [ax for ax in fixed.axes if ax.get_label() == "<colorbar>"]
    assert len(colorbars) == 1 and colorbars[0].get_ylabel() == "attention weight (0 to 1)"
    assert all(ax.images[0].get_clim() == (0.0, 1.0) for ax in visible_axes(fixed))


def test_short_labels_stay_upright_in_every_panel(rng):
    """Per label, not per panel: a Hangul syllable is upright next to a long word, and the
    same syllable reads the same way in both panels of one figure."""
    examples = [(attention(rng, 2, 3), ["그", "약은것", "때"], ["the", "</s>"]),
                (attention(rng, 2, 3), ["그", "medicine", "때"], ["x", "</s>"])]
    fig = plots.plot_attention_grid(examples)
    for ax in visible_axes(fig):
        rotations = {t.get_text(): t.get_rotation() for t in ax.get_xticklabels()}
        assert rotations["그"] == rotations["때"] == 0
    assert {t.get_text(): t.get_rotation() for t in visible_axes(fig)[1].get_xticklabels()}[
        "medicine"] == 90
    assert {t.get_text(): t.get_rotation() for t in visible_axes(fig)[0].get_xticklabels()}[
        "약은것"] == 90  # three wide syllables: 6 cells
    assert plots.plot_attention(attention(rng, 1, 2), ["약은", "when"], ["x"]).axes[
        0].get_xticklabels()[0].get_rotation() == 0  # two syllables, four letters: upright


def test_bpe_space_mark_is_shown_as_a_visible_space(rng):
    fig = plots.plot_attention(attention(rng, 2, 3), ["\u2581the", "\u2581ca", "t"],
                               ["\u2581le", "</s>"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["␣the", "␣ca", "t"]
    assert ax.get_yticklabels()[0].get_text() == "␣le"


def _secondary(ax):
    return [child for child in ax.child_axes]


@pytest.mark.parametrize("S, T", [(5, 3), (23, 14)])
def test_positions_are_numbered_on_the_axes(S, T, rng):
    fig = plots.plot_attention(attention(rng, T, S), [f"s{i}" for i in range(S)],
                               [f"t{i}" for i in range(T)])
    top, right = _secondary(fig.axes[0])
    fig.canvas.draw()
    numbers = [t.get_text() for t in top.xaxis.get_ticklabels()]
    steps = [t.get_text() for t in right.yaxis.get_ticklabels()]
    assert top.get_xlabel() == "source position" and right.get_ylabel() == "decoder step"
    assert numbers[0] == "1" and steps[0] == "1"
    if S <= 12:
        assert numbers == [str(i) for i in range(1, S + 1)]
    else:
        assert numbers == ["1", "5", "10", "15", "20"]
    assert steps == (["1", "5", "10"] if T > 12 else [str(i) for i in range(1, T + 1)])


def test_plot_attention_grid_validation(rng):
    with pytest.raises(ValueError, match="empty"):
        plots.plot_attention_grid([])
    good = (attention(rng, 2, 3), list("abc"), list("xy"))
    bad = (attention(rng, 3, 2), list("abc"), list("xy"))
    with pytest.raises(ValueError, match="example 2: weights has shape"):
        plots.plot_attention_grid([good, bad])


# ----------------------------------------------------------------------------------------------
# training curves

def make_history(rng, steps=40):
    step = np.arange(1, steps + 1)
    return {
        "step": step.tolist(),
        "loss": (3.0 * np.exp(-step / 15) + 0.05).tolist(),
        "grad_norm": (rng.random(steps) * 10 + 0.1).tolist(),
    }


def test_plot_training_two_log_panels(rng):
    fig = plots.plot_training(make_history(rng))
    ax_loss, ax_grad = fig.axes
    assert ax_loss.get_title() == "Training loss"
    assert ax_grad.get_title() == "Gradient norm before clipping"
    assert ax_loss.get_yscale() == ax_grad.get_yscale() == "log"
    assert "nats" in ax_loss.get_ylabel() and "norm" in ax_grad.get_ylabel()
    assert "step" in ax_grad.get_xlabel()
    assert legend_texts(ax_loss) == ["training loss"]


def test_plot_training_summarises_a_long_loss_curve_by_its_rolling_median_and_band(rng):
    history = make_history(rng, steps=500)
    history["loss"] = (np.asarray(history["loss"]) * np.exp(rng.normal(0, 0.5, 500))).tolist()
    ax_loss = plots.plot_training(history).axes[0]
    assert legend_texts(ax_loss) == ["training loss, 10–90 % of 10 steps",
                                     "training loss, median of 10 steps"]
    raw, median = ax_loss.get_lines()
    loss = np.asarray(history["loss"])
    assert np.array_equal(raw.get_ydata(), loss)
    assert median.get_ydata()[100] == np.median(loss[95:106])  # centred, 10 steps wide (+1)
    # the median is smoother than the raw loss: the twin (raw) jumps far more step to step
    assert np.abs(np.diff(np.log(median.get_ydata()))).mean() < \
        0.5 * np.abs(np.diff(np.log(loss))).mean()
    assert len(ax_loss.collections) == 1  # the band


def test_plot_training_optional_series(rng):
    history = make_history(rng)
    history.update(epoch_end_steps=[20, 40], valid_loss=[1.0, 0.4],
                   valid_exact_match=[0.3, 0.8], max_norm=5.0)
    fig = plots.plot_training(history)
    ax_loss, ax_grad, ax_acc = fig.axes
    assert legend_texts(ax_loss) == ["training loss", "validation loss", "epoch end"]
    assert legend_texts(ax_grad) == ["global gradient norm", "clip threshold (5)", "epoch end"]
    assert ax_acc.get_title() == "Validation exact match"
    assert ax_acc.get_yscale() == "linear" and "fraction" in ax_acc.get_ylabel()


def test_plot_training_draws_bleu_and_chrf_where_scored(rng):
    history = make_history(rng)
    history.update(epoch_end_steps=[10, 20, 30, 40], valid_exact_match=[0.0] * 4,
                   valid_bleu=[None, 5.0, None, 12.5], valid_chrf=[None, 20.0, None, 31.0])
    fig = plots.plot_training(history)
    *_, ax_acc, ax_bleu = fig.axes
    assert ax_acc.get_title() == "Validation exact match"
    assert ax_bleu.get_title() == "Held-out BLEU and chrF"
    bleu, chrf = ax_bleu.get_lines()[:2]
    assert bleu.get_xdata().tolist() == [20, 40] and bleu.get_ydata().tolist() == [5.0, 12.5]
    assert chrf.get_ydata().tolist() == [20.0, 31.0]
    assert legend_texts(ax_bleu)[:2] == ["held-out BLEU", "held-out chrF"]
    chars = plots.plot_training({**history, "bleu_name": "char_bleu"}).axes[-1]
    assert chars.get_title() == "Held-out char-BLEU and chrF"
    assert legend_texts(chars)[0] == "held-out char-BLEU"
    never = {**history, "valid_bleu": [None] * 4, "valid_chrf": [None] * 4}
    assert len(plots.plot_training(never).axes) == 3  # no scores, no panel


def test_plot_training_validation(rng):
    history = make_history(rng)
    with pytest.raises(ValueError, match=r"lacks \['grad_norm'\]"):
        plots.plot_training({k: v for k, v in history.items() if k != "grad_norm"})
    with pytest.raises(ValueError, match=r"history\['loss'\] has 39 values but"):
        plots.plot_training({**history, "loss": history["loss"][:-1]})
    with pytest.raises(ValueError, match="epoch_end_steps"):
        plots.plot_training({**history, "valid_exact_match": [0.5]})


def test_plot_param_grad_norms(rng):
    names = ["src_embed", "enc_Wx", "enc_Wh", "W_s"]
    history = {n: (rng.random(12) + 0.01).tolist() for n in names}
    fig = plots.plot_param_grad_norms(history, steps=np.arange(10, 130, 10))
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    assert ax.get_title() == "Gradient norm per parameter"
    assert "step" in ax.get_xlabel() and "norm" in ax.get_ylabel()
    assert legend_texts(ax) == names
    assert ax.get_lines()[0].get_xdata()[-1] == 120
    with pytest.raises(ValueError, match="steps has 3 values"):
        plots.plot_param_grad_norms(history, steps=[1, 2, 3])


# ----------------------------------------------------------------------------------------------
# gradient flow and length experiments

def test_plot_grad_norm_by_position(rng):
    norms = {m: np.exp(-np.arange(9) / (i + 1)) for i, m in enumerate(MODES)}
    fig = plots.plot_grad_norm_by_position(norms, title="LSTM, S = 9")
    (ax,) = fig.axes
    assert ax.get_yscale() == "log" and ax.get_title() == "LSTM, S = 9"
    assert "position" in ax.get_xlabel() and "norm" in ax.get_ylabel()
    assert legend_texts(ax) == list(MODES)
    assert list(ax.get_lines()[0].get_xdata()) == list(range(1, 10))
    with pytest.raises(ValueError, match=r"norms_by_mode\['dot'\] must be 1-D"):
        plots.plot_grad_norm_by_position({"dot": np.ones((2, 3))})


def test_plot_grad_norm_by_position_into_axes_has_default_title():
    fig, ax = plt.subplots()
    assert plots.plot_grad_norm_by_position({"none": [1.0, 0.1]}, ax=ax) is fig
    assert ax.get_title() == "Gradient norm by source position"


def test_plot_norm_ratio_vs_length(rng):
    lengths = [5, 10, 20, 40]
    ratios = {m: rng.random(4) for m in MODES}
    fig = plots.plot_norm_ratio_vs_length(lengths, ratios)
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    assert ax.get_title() == "First / last position gradient norm vs source length"
    assert "length" in ax.get_xlabel() and "ratio" in ax.get_ylabel()
    assert legend_texts(ax) == [*MODES, "equal flow (ratio 1)"]
    with pytest.raises(ValueError, match=r"ratios_by_mode\['dot'\] has 3 values but lengths has 4"):
        plots.plot_norm_ratio_vs_length(lengths, {"dot": [1.0, 2.0, 3.0]})


def test_plot_accuracy_vs_length(rng):
    lengths = np.array([4, 8, 12])
    acc = {"lstm + general": [1.0, 0.9, 0.7], "lstm, no attention": [1.0, 0.6, np.nan]}
    fig = plots.plot_accuracy_vs_length(lengths, acc)
    (ax,) = fig.axes
    assert ax.get_title() == "Exact match vs source length"
    assert ax.get_yscale() == "linear"
    assert "length" in ax.get_xlabel() and "exact match" in ax.get_ylabel()
    assert legend_texts(ax) == list(acc)
    with pytest.raises(ValueError, match="acc_by_model is empty"):
        plots.plot_accuracy_vs_length(lengths, {})


# ----------------------------------------------------------------------------------------------
# saving

def test_save_figure_writes_png_and_creates_dirs(rng, tmp_path):
    fig = plots.plot_training(make_history(rng))
    path = plots.save_figure(fig, tmp_path / "runs" / "exp" / "training.png")
    assert path.is_file() and path.stat().st_size > 1000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name, magic", [("attn", b"\x89PNG"), ("attn.svg", b"<?xml"),
                                         ("attn.PDF", b"%PDF")])
def test_save_figure_writes_exactly_the_path_given(name, magic, rng, tmp_path):
    fig = plots.plot_training(make_history(rng))
    assert plots.save_figure(fig, tmp_path / name) == tmp_path / name
    assert os.listdir(tmp_path) == [name]  # matplotlib alone would write "attn.png" for "attn"
    assert (tmp_path / name).read_bytes().startswith(magic)
    with pytest.raises(ValueError, match=r"cannot save a figure as 'x.xyz': no image format "
                       r"'.xyz'; use one of .*\.png"):
        plots.save_figure(fig, tmp_path / "x.xyz")
