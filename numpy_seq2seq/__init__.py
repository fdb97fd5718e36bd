"""numpy_seq2seq: sequence-to-sequence RNNs with Luong attention in pure NumPy."""
