"""A deliberately naive NumPy seq2seq step, in the style of "Deep Learning from Scratch 2".

The baseline that ``bench_step.py --baseline naive`` races against the vectorized
``numpy_seq2seq.Seq2Seq``. It implements one architecture only, LSTM encoder and decoder with Luong
"general" attention, no bidirectional / reversed source / input feeding, and it does everything the
way the book code does:

- a Python loop over time steps everywhere: encoder, decoder, attention (one decoder step at a
  time, weighted sums by broadcasting and ``.sum``), the output projection and the softmax loss;
- one matmul per gate (the LSTM weights are split into i, f, g, o matrices);
- float32 by default.

It computes the same loss and the same gradients as the vectorized model given the same weights
(``bench_step.py`` asserts the loss in float64 before timing), including the ragged-batch rules:
an RNN keeps its state on padded steps (source id 0, or target label 0), so the encoder's final
state is each row's last valid step, and attention ignores padded source positions.

Letters: N batch, S source length, T target length, E embedding, H hidden, V vocabulary.
"""

from __future__ import annotations

import numpy as np

GATES = "ifgo"  # PyTorch's LSTM gate order, as in the numpy model's stacked weights


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class NaiveSeq2Seq:
    """LSTM + general attention seq2seq with per-step loops.

    Parameters
    ----------
    params : dict[str, ndarray]
        The vectorized model's parameters (keys and layouts of ``docs/architecture.md``);
        they are copied and split per gate.
    dtype : numpy dtype
    """

    def __init__(self, params: dict[str, np.ndarray], dtype=np.float32):
        p = {k: np.asarray(v, dtype=dtype) for k, v in params.items()}
        self.H = H = p["W_s"].shape[0]
        self.dtype = dtype
        self.W = {}
        for side in ("enc", "dec"):
            for k, gate in enumerate(GATES):
                sl = slice(k * H, (k + 1) * H)
                self.W[f"{side}_Wx_{gate}"] = p[f"{side}_Wx"][:, sl].copy()  # (E, H)
                self.W[f"{side}_Wh_{gate}"] = p[f"{side}_Wh"][:, sl].copy()  # (H, H)
                self.W[f"{side}_b_{gate}"] = p[f"{side}_b"][sl].copy()       # (H,)
        for k in ("src_embed", "tgt_embed", "W_a", "W_c", "W_s", "b_s"):
            self.W[k] = p[k]

    # -- one LSTM step, one matmul per gate ---------------------------------------------------
    def lstm_forward(self, side, x, h_prev, c_prev):
        W = self.W
        i = sigmoid(x @ W[side + "_Wx_i"] + h_prev @ W[side + "_Wh_i"] + W[side + "_b_i"])
        f = sigmoid(x @ W[side + "_Wx_f"] + h_prev @ W[side + "_Wh_f"] + W[side + "_b_f"])
        g = np.tanh(x @ W[side + "_Wx_g"] + h_prev @ W[side + "_Wh_g"] + W[side + "_b_g"])
        o = sigmoid(x @ W[side + "_Wx_o"] + h_prev @ W[side + "_Wh_o"] + W[side + "_b_o"])
        c = f * c_prev + i * g
        tc = np.tanh(c)
        h = o * tc
        return h, c, (x, h_prev, c_prev, i, f, g, o, tc)

    def lstm_backward(self, side, dh, dc, cache, G):
        x, h_prev, c_prev, i, f, g, o, tc = cache
        W = self.W
        do = dh * tc
        dc = dc + dh * o * (1 - tc ** 2)
        da = {"i": dc * g * i * (1 - i), "f": dc * c_prev * f * (1 - f),
              "g": dc * i * (1 - g ** 2), "o": do * o * (1 - o)}
        dx = np.zeros_like(x)
        dh_prev = np.zeros_like(h_prev)
        for gate in GATES:
            G[side + "_Wx_" + gate] += x.T @ da[gate]
            G[side + "_Wh_" + gate] += h_prev.T @ da[gate]
            G[side + "_b_" + gate] += da[gate].sum(axis=0)
            dx += da[gate] @ W[side + "_Wx_" + gate].T
            dh_prev += da[gate] @ W[side + "_Wh_" + gate].T
        return dx, dh_prev, dc * f

    # -- forward and backward -----------------------------------------------------------------
    def loss_and_grads(self, src: np.ndarray, tgt: np.ndarray):
        W, H, dt = self.W, self.H, self.dtype
        N, S = src.shape
        T = tgt.shape[1] - 1
        src_mask = (src != 0)
        G = {k: np.zeros_like(v) for k, v in W.items()}

        # encoder, one step at a time; the state is held on padded steps
        h = np.zeros((N, H), dt)
        c = np.zeros((N, H), dt)
        hs = np.zeros((N, S, H), dt)
        enc_caches = []
        for s in range(S):
            x = W["src_embed"][src[:, s]]
            h_new, c_new, cache = self.lstm_forward("enc", x, h, c)
            m = src_mask[:, s:s + 1].astype(dt)
            h = m * h_new + (1 - m) * h
            c = m * c_new + (1 - m) * c
            hs[:, s] = h
            enc_caches.append((cache, m))

        # decoder with attention, one step at a time
        n_labels = max(int((tgt[:, 1:] != 0).sum()), 1)
        loss = 0.0
        dec_caches = []
        for t in range(T):
            x = W["tgt_embed"][tgt[:, t]]
            h_new, c_new, cache = self.lstm_forward("dec", x, h, c)
            label = tgt[:, t + 1]
            m = (label != 0)[:, None].astype(dt)
            h = m * h_new + (1 - m) * h
            c = m * c_new + (1 - m) * c
            # general score: h_t W_a h̄_s, masked softmax over the source
            q = h @ W["W_a"]
            score = (hs * q[:, None, :]).sum(axis=2)
            score = np.where(src_mask, score, -np.inf)
            score = score - score.max(axis=1, keepdims=True)
            a = np.exp(score)
            a = a / a.sum(axis=1, keepdims=True)
            ctx = (hs * a[:, :, None]).sum(axis=1)
            cat = np.concatenate([ctx, h], axis=1)
            h_tilde = np.tanh(cat @ W["W_c"])
            # output layer and softmax cross-entropy for this step
            logits = h_tilde @ W["W_s"] + W["b_s"]
            logits = logits - logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            p = p / p.sum(axis=1, keepdims=True)
            valid = (label != 0)
            loss += -np.log(p[np.arange(N), label][valid]).sum()
            dec_caches.append((cache, m, q, a, cat, h_tilde, p, label, valid))
        loss = loss / n_labels

        # backward through the decoder
        dhs = np.zeros_like(hs)
        dh = np.zeros((N, H), dt)
        dc = np.zeros((N, H), dt)
        for t in reversed(range(T)):
            cache, m, q, a, cat, h_tilde, p, label, valid = dec_caches[t]
            dlogits = p.copy()
            dlogits[np.arange(N), label] -= 1
            dlogits *= valid[:, None] / n_labels
            G["W_s"] += h_tilde.T @ dlogits
            G["b_s"] += dlogits.sum(axis=0)
            dh_tilde = dlogits @ W["W_s"].T
            dz = dh_tilde * (1 - h_tilde ** 2)
            G["W_c"] += cat.T @ dz
            dcat = dz @ W["W_c"].T
            dctx, dh_att = dcat[:, :H], dcat[:, H:]
            da = (hs * dctx[:, None, :]).sum(axis=2)
            dhs += a[:, :, None] * dctx[:, None, :]
            dscore = a * (da - (a * da).sum(axis=1, keepdims=True))
            dq = (hs * dscore[:, :, None]).sum(axis=1)
            dhs += dscore[:, :, None] * q[:, None, :]
            h_t = cat[:, H:]
            G["W_a"] += h_t.T @ dq
            dh = dh + dh_att + dq @ W["W_a"].T
            dx, dh_prev, dc_prev = self.lstm_backward("dec", m * dh, m * dc, cache, G)
            np.add.at(G["tgt_embed"], tgt[:, t], dx)
            dh = dh_prev + (1 - m) * dh
            dc = dc_prev + (1 - m) * dc

        # backward through the encoder
        for s in reversed(range(S)):
            cache, m = enc_caches[s]
            dh = dh + dhs[:, s]
            dx, dh_prev, dc_prev = self.lstm_backward("enc", m * dh, m * dc, cache, G)
            np.add.at(G["src_embed"], src[:, s], dx)
            dh = dh_prev + (1 - m) * dh
            dc = dc_prev + (1 - m) * dc

        return loss, self._stack_grads(G)

    def _stack_grads(self, G):
        """Per-gate gradients back to the vectorized model's stacked keys."""
        out = {k: G[k] for k in ("src_embed", "tgt_embed", "W_a", "W_c", "W_s", "b_s")}
        for side in ("enc", "dec"):
            for name, axis in (("Wx", 1), ("Wh", 1), ("b", 0)):
                out[f"{side}_{name}"] = np.concatenate(
                    [G[f"{side}_{name}_{g}"] for g in GATES], axis=axis)
        return out
