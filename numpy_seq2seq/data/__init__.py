"""Data: vocabularies and tokenizers, built-in tasks, TSV corpora, batching."""

from .batching import iterate_batches, pad_sequences
from .corpus import (
    count_unknown,
    describe_selection,
    encode_pairs,
    load_tsv,
    read_tsv,
    select_pairs,
)
from .split import (
    HELDOUT_NAME,
    SPLIT_MODES,
    Overlap,
    count_overlap,
    file_sha256,
    side_key,
    split_pairs,
    write_heldout,
)
from .tasks import (
    DEFAULT_TASK,
    LANGUAGE_TASKS,
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
    "HELDOUT_NAME",
    "LANGUAGE_TASKS",
    "Overlap",
    "PAD_ID",
    "SPECIAL_TOKENS",
    "SPLIT_MODES",
    "TASKS",
    "TASK_DEFAULTS",
    "TOKENIZERS",
    "TRANSLATION_TASKS",
    "Tokenizer",
    "UNKNOWN_MODES",
    "UNK_ID",
    "Vocab",
    "count_overlap",
    "count_unknown",
    "describe_selection",
    "encode_pairs",
    "file_sha256",
    "iterate_batches",
    "load_tsv",
    "make_task",
    "normalize_text",
    "pad_sequences",
    "read_tsv",
    "select_pairs",
    "side_key",
    "split_pairs",
    "task_tokenizers",
    "write_heldout",
]
