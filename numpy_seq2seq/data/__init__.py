"""Data: vocabularies and tokenizers, built-in tasks, TSV corpora, batching."""

from .batching import iterate_batches, pad_sequences
from .corpus import (
    count_unknown,
    describe_selection,
    encode_pairs,
    load_tsv,
    read_tsv,
    select_pairs,
    split_pairs,
)
from .tasks import (
    DEFAULT_TASK,
    TASK_DEFAULTS,
    TASKS,
    TRANSLATION_TASKS,
    make_task,
    task_tokenizers,
)
from .tokenize import TOKENIZERS, Tokenizer, normalize_text
from .vocab import BOS_ID, EOS_ID, PAD_ID, SPECIAL_TOKENS, UNK_ID, UNKNOWN_MODES, Vocab

__all__ = [
    "BOS_ID",
    "DEFAULT_TASK",
    "EOS_ID",
    "PAD_ID",
    "SPECIAL_TOKENS",
    "TASKS",
    "TASK_DEFAULTS",
    "TOKENIZERS",
    "TRANSLATION_TASKS",
    "Tokenizer",
    "UNKNOWN_MODES",
    "UNK_ID",
    "Vocab",
    "count_unknown",
    "describe_selection",
    "encode_pairs",
    "iterate_batches",
    "load_tsv",
    "make_task",
    "normalize_text",
    "pad_sequences",
    "read_tsv",
    "select_pairs",
    "split_pairs",
    "task_tokenizers",
]
