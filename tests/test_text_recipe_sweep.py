"""benchmarks/text_recipe_sweep.py: settings sorted into the three configs, the summary's
ranges, and README's recipe figures read from the stored rows (no training here)."""

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location("text_recipe_sweep",
                                              ROOT / "benchmarks" / "text_recipe_sweep.py")
sweep = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(sweep)


def test_settings_go_to_their_config_and_values_are_read_as_json():
    data, model, train = sweep._settings(["hidden_dim=256", "cell=gru", "bidirectional=true",
                                          "min_freq=3", "epochs=10", "attention=null"])
    assert data == {"min_freq": 3}
    assert model == {"hidden_dim": 256, "cell": "gru", "bidirectional": True, "attention": None}
    assert train == {"epochs": 10}


@pytest.mark.parametrize("word", ["hidden-dim=3", "hidden_dim", "nonsense=1", "seed=2"])
def test_a_word_that_is_not_a_config_field_is_refused(word):
    with pytest.raises(SystemExit, match="expected field=value with a field of DataConfig"):
        sweep._settings([word])


def _row(seed, bleu, chrf, settings=("epochs=2",)):
    return {"direction": "en-fr", "seed": seed, "settings": list(settings), "bleu": bleu,
            "chrf": chrf, "exact": 1.0, "train_s": 10.0, "cpu_s": 5.0, "peak_mb": 100}


def test_summary_gives_ranges_over_seeds_per_setting(tmp_path, capsys):
    rows = [_row(0, 20.0, 40.0), _row(1, 22.5, 41.0), _row(0, 5.0, 9.0, ("epochs=1",))]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    sweep.summarise(str(path))
    lines = capsys.readouterr().out.splitlines()
    two = next(line for line in lines if line.endswith("epochs=2"))
    assert re.search(r"en-fr\s+2\s+20\.0–22\.5\s+40\.0–41\.0", two)
    assert any(line.endswith("epochs=1") and " 1 " in line for line in lines)


@pytest.mark.parametrize("file, direction, start", [
    ("final_en_fr.jsonl", "en-fr", "| en → fr | BLEU"),
    ("final_ko.jsonl", "ko-en", "| ko → en | | BLEU"),
    ("final_ko.jsonl", "en-ko", "| en → ko | | char-BLEU"),
])
def test_readme_quotes_the_stored_recipe_rows(file, direction, start):
    """README's recipe lines are the ranges of the rows they cite (read, not retrained)."""
    rows = [row for row in map(json.loads, (ROOT / "benchmarks" / "text_recipe" / file).open(
        encoding="utf-8")) if row["direction"] == direction]
    assert sorted(r["seed"] for r in rows) == [0, 1, 2]
    line = next(line for line in (ROOT / "README.md").open(encoding="utf-8")
                if line.startswith(start))
    for key in ("bleu", "chrf", "exact"):
        values = [r[key] for r in rows]
        assert f"{min(values):.1f}–{max(values):.1f}" in line, (key, line)
