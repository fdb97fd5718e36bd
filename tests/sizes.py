"""Distinct small sizes shared by the tests, so a transposed matrix or a swapped axis fails."""

N, S, T, D, E, H, A, V_SRC, V_TGT = 3, 7, 5, 4, 4, 6, 5, 11, 13
