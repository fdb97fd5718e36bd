"""Fonts for Hangul, kana and kanji in figures, on any machine, without touching rcParams.

matplotlib's own fonts (DejaVu Sans) have no CJK glyphs, and a fresh Linux machine, a CI runner
or a container often has no system CJK font either: the dates task's ``2022년 3월 14일`` and
``2022年3月14日`` would be drawn as empty boxes. So the package depends on two kept PyPI packages
that carry free CJK fonts, and registers their font files with matplotlib's font manager:

===================  ====================  ==========================  ========================
package              font (family)         licence                     covers
===================  ====================  ==========================  ========================
matplotlib-fontja    ipaexg.ttf            IPA Font License v1.0       kana, 9,572 kanji (JIS X
                     (IPAexGothic)         (OSI-approved)              0213), Latin; no Hangul
koreanize-matplotlib NanumGothic.ttf       SIL Open Font License 1.1   all 11,172 Hangul
                     (NanumGothic)         (Naver)                     syllables, kana, hanja
===================  ====================  ==========================  ========================

Neither package is imported: importing them calls ``matplotlib.rc('font', family=...)``, which
would change every figure of the user's session (and koreanize-matplotlib imports ``distutils``,
which Python 3.12 removed). :func:`register_cjk_fonts` only finds their font files with
``importlib.util.find_spec`` (which does not run the package) and adds them with
``font_manager.fontManager.addfont``; rcParams are left alone.

Our figures ask for the fonts per text object: :func:`cjk_font_family` gives
``[the user's font.family..., "IPAexGothic", "NanumGothic"]`` and matplotlib (>= 3.6) falls back
glyph by glyph along that list. IPAexGothic comes first so that kanji get their Japanese forms;
it has no Hangul, which therefore comes from NanumGothic. A character that none of the fonts has
still makes matplotlib warn "Glyph ... missing from font(s)": that warning is never silenced.
"""

from __future__ import annotations

import functools
import importlib.util
import warnings
from pathlib import Path

import matplotlib
from matplotlib import font_manager

__all__ = ["CJK_FONTS", "cjk_font_family", "register_cjk_fonts"]

# (package, font file inside it, family name the file declares), in fallback order
CJK_FONTS: tuple[tuple[str, str, str], ...] = (
    ("matplotlib_fontja", "fonts/ipaexg.ttf", "IPAexGothic"),
    ("koreanize_matplotlib", "fonts/NanumGothic.ttf", "NanumGothic"),
)


def _package_file(package: str, relative: str) -> Path | None:
    spec = importlib.util.find_spec(package)  # locates without importing
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    return path if path.is_file() else None


@functools.lru_cache(maxsize=1)
def register_cjk_fonts() -> tuple[str, ...]:
    """Add the packaged CJK fonts to matplotlib's font manager (once); return their families.

    A missing package gives one warning that names it (figures still work, with boxes for the
    characters it would have drawn).
    """
    known = {entry.name for entry in font_manager.fontManager.ttflist}
    families = []
    for package, relative, family in CJK_FONTS:
        path = _package_file(package, relative)
        if path is None:
            warnings.warn(f"font package {package.replace('_', '-')!r} is not installed; "
                          f"characters that need {family} will show as boxes", stacklevel=2)
            continue
        if family not in known:
            font_manager.fontManager.addfont(str(path))
        families.append(family)
    return tuple(families)


def cjk_font_family() -> list[str]:
    """The user's ``font.family`` followed by the CJK fonts: a per-glyph fallback list."""
    default = matplotlib.rcParams["font.family"]
    family = [default] if isinstance(default, str) else list(default)
    return family + [f for f in register_cjk_fonts() if f not in family]
