"""Recurrent language models: the DARTS / ENAS recurrent cell and a two-layer LSTM.

The cell is DARTS' (Liu, Simonyan and Yang, "DARTS: Differentiable Architecture Search",
ICLR 2019, Sec. 2.1 and 3.1.2, and its `rnn/model.py`), itself the ENAS recurrent cell
(Pham et al., "Efficient Neural Architecture Search via Parameter Sharing", ICML 2018,
Sec. 2.1) with highway connections (Zilly et al. 2017). For input x_t and state h_{t-1}:

    c_0, g_0 = split([x_t; h_{t-1}] W_0)    s_0 = h_{t-1} + sigmoid(c_0) * (tanh(g_0) - h_{t-1})
    c_i, g_i = split(s_{p(i)} W_i)          s_i = s_{p(i)} + sigmoid(c_i) * (f_i(g_i) - s_{p(i)})
    h_t = mean(s_1, ..., s_N)

with node i's input p(i) < i and activation f_i in {tanh, relu, sigmoid, identity} the
genotype. Regularisation is DARTS' (after AWD-LSTM, Merity et al., ICLR 2018): variational
("locked") dropout with one mask per sequence on the embeddings (`dropouti`), on the cell's
inputs x_t (`dropoutx`), on the states entering every matrix product (`dropouth`) and on
the cell's outputs (`dropout`); the decoder shares the embedding's weights (Press & Wolf
2017; Inan et al. 2017). Initialisation as in DARTS: embeddings U(-0.1, 0.1), cell
matrices U(-0.04, 0.04), decoder bias 0.

The baseline is the two-layer LSTM language model of Zaremba, Sutskever and Vinyals,
"Recurrent Neural Network Regularization" (2014), with the same embedding, dropouts and
tied decoder (`torch.nn.LSTM`, `dropouth` between its layers).

Models take int64 tokens (seq_len, batch) and a hidden state (None: zeros) and return
logits (seq_len, batch, vocab) and the last hidden state, to carry into the next window.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import torch
import torch.nn as nn
import torch.nn.functional as F

from archsearch.core.genotype import Architecture, TaskSpec
from archsearch.space.recurrent import RecurrentSpace

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "identity": lambda x: x,
}
INIT_RANGE = 0.04  # DARTS' cell initialisation
Hidden = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


def locked_mask(batch: int, size: int, p: float, like: torch.Tensor) -> torch.Tensor | None:
    """One dropout mask per sequence, (batch, size), scaled by 1 / (1 - p); None if p == 0
    (variational dropout, Gal & Ghahramani 2016)."""
    if p <= 0.0:
        return None
    keep = 1.0 - p
    return torch.bernoulli(like.new_full((batch, size), keep)) / keep


def locked_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Dropout on (T, B, H) with the same mask at every time step."""
    if not training or p <= 0.0:
        return x
    mask = locked_mask(x.size(1), x.size(2), p, x)
    assert mask is not None
    return x * mask.unsqueeze(0)


def detach_hidden(hidden: Hidden) -> Hidden:
    """Cut the graph between BPTT windows (truncated back-propagation)."""
    if isinstance(hidden, tuple):
        return (hidden[0].detach(), hidden[1].detach())
    return hidden.detach()


class DartsRNNCell(nn.Module):
    """The DARTS recurrent cell of one genotype: `cell` lists (activation, input) per node."""

    def __init__(
        self,
        cell: Sequence[tuple[str, int]],
        ninp: int,
        nhid: int,
        dropouth: float,
        dropoutx: float,
    ) -> None:
        super().__init__()
        self.cell = tuple((str(act), int(j)) for act, j in cell)
        self.ninp, self.nhid = ninp, nhid
        self.dropouth, self.dropoutx = dropouth, dropoutx
        self.W0 = nn.Parameter(torch.empty(ninp + nhid, 2 * nhid).uniform_(-INIT_RANGE, INIT_RANGE))
        self.Ws = nn.ParameterList(
            nn.Parameter(torch.empty(nhid, 2 * nhid).uniform_(-INIT_RANGE, INIT_RANGE))
            for _ in self.cell
        )

    def init_hidden(self, batch: int, like: torch.Tensor) -> torch.Tensor:
        return like.new_zeros(batch, self.nhid)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        T, B = x.size(0), x.size(1)
        x_mask = locked_mask(B, self.ninp, self.dropoutx, x) if self.training else None
        h_mask = locked_mask(B, self.nhid, self.dropouth, x) if self.training else None
        # The input's share of s_0 for every step at once: [x; h] W0 = x W0x + h W0h, and
        # x's mask is fixed per sequence, so one large product replaces T small ones.
        xw = (x if x_mask is None else x * x_mask).matmul(self.W0[: self.ninp])
        W0h = self.W0[self.ninp :]
        outputs = []
        for t in range(T):
            h_in = h if h_mask is None else h * h_mask
            c0, g0 = (xw[t] + h_in.mm(W0h)).split(self.nhid, dim=-1)
            states = [h + torch.sigmoid(c0) * (torch.tanh(g0) - h)]
            for (act, j), W in zip(self.cell, self.Ws, strict=True):
                s_prev = states[j]
                s_in = s_prev if h_mask is None else s_prev * h_mask
                c, g = s_in.mm(W).split(self.nhid, dim=-1)
                states.append(s_prev + torch.sigmoid(c) * (ACTIVATIONS[act](g) - s_prev))
            h = torch.stack(states[1:]).mean(0)
            outputs.append(h)
        return torch.stack(outputs), h


class RecurrentLM(nn.Module):
    """Embedding, a recurrent core, locked dropouts and a decoder tied to the embedding.

    `rnn` maps (T, B, H) inputs and a hidden state to (T, B, H) outputs and the last
    state, and has `init_hidden(batch, like)`. Extra keyword arguments of `forward` go
    to it (the DARTS supernet passes its architecture weights this way).
    """

    def __init__(
        self,
        rnn: nn.Module,
        vocab_size: int,
        hidden_size: int,
        dropout: float = 0.0,
        dropouti: float = 0.0,
    ) -> None:
        super().__init__()
        self.encoder = nn.Embedding(vocab_size, hidden_size)
        self.rnn = rnn
        self.decoder = nn.Linear(hidden_size, vocab_size)
        self.decoder.weight = self.encoder.weight  # weight tying
        self.dropout, self.dropouti = dropout, dropouti
        self.vocab_size, self.hidden_size = vocab_size, hidden_size
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)

    def init_hidden(self, batch: int) -> Hidden:
        # the core is any module with `init_hidden` (nn.Module attributes type as Tensor)
        hidden: Hidden = cast(Any, self.rnn).init_hidden(batch, self.encoder.weight)
        return hidden

    def forward(
        self, tokens: torch.Tensor, hidden: Hidden | None = None, **cell_args: Any
    ) -> tuple[torch.Tensor, Hidden]:
        if hidden is None:
            hidden = self.init_hidden(tokens.size(1))
        emb = locked_dropout(self.encoder(tokens), self.dropouti, self.training)
        out, hidden = self.rnn(emb, hidden, **cell_args)
        out = locked_dropout(out, self.dropout, self.training)
        return self.decoder(out), hidden


class LSTMCore(nn.Module):
    """`torch.nn.LSTM` with `layers` layers and dropout between them (Zaremba et al.)."""

    def __init__(self, size: int, layers: int = 2, dropouth: float = 0.0) -> None:
        super().__init__()
        self.layers, self.size = layers, size
        self.lstm = nn.LSTM(size, size, num_layers=layers, dropout=dropouth if layers > 1 else 0.0)

    def init_hidden(self, batch: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        zeros = like.new_zeros(self.layers, batch, self.size)
        return (zeros, zeros.clone())

    def forward(
        self, x: torch.Tensor, hidden: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        out, (h, c) = self.lstm(x, hidden)
        return out, (h, c)


def darts_cell_lm(
    cell: Sequence[tuple[str, int]],
    vocab_size: int,
    hidden_size: int,
    *,
    dropout: float,
    dropouth: float,
    dropoutx: float,
    dropouti: float,
) -> RecurrentLM:
    """The language model of one DARTS recurrent cell."""
    core = DartsRNNCell(cell, hidden_size, hidden_size, dropouth, dropoutx)
    return RecurrentLM(core, vocab_size, hidden_size, dropout, dropouti)


def lstm_lm(
    vocab_size: int,
    hidden_size: int,
    *,
    layers: int = 2,
    dropout: float,
    dropouth: float,
    dropouti: float,
) -> RecurrentLM:
    """The LSTM baseline language model (Zaremba et al. 2014) at the same size."""
    return RecurrentLM(
        LSTMCore(hidden_size, layers, dropouth), vocab_size, hidden_size, dropout, dropouti
    )


def lm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy per token of (T, B, V) logits against (T, B) targets."""
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))


def build(space: RecurrentSpace, arch: Architecture, task: TaskSpec) -> nn.Module:
    """The language model of this cell (see the module docstring)."""
    space.validate(arch)
    space._check_task(task)

    return darts_cell_lm(
        space.cell(arch),
        task.num_classes,
        space.hidden_size,
        dropout=space.dropout,
        dropouth=space.dropouth,
        dropoutx=space.dropoutx,
        dropouti=space.dropouti,
    )


def build_baseline(space: RecurrentSpace, task: TaskSpec, layers: int = 2) -> nn.Module:
    """The hand-designed baseline at this space's size and dropouts: a `layers`-layer
    LSTM language model (Zaremba et al. 2014) with a tied decoder."""
    space._check_task(task)

    return lstm_lm(
        task.num_classes,
        space.hidden_size,
        layers=layers,
        dropout=space.dropout,
        dropouth=space.dropouth,
        dropouti=space.dropouti,
    )
