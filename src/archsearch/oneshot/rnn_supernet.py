"""The DARTS search cell for recurrent networks: every node mixes every (input, activation).

Liu, Simonyan and Yang, "DARTS: Differentiable Architecture Search", ICLR 2019, Sec. 2.2
and 3.1.2, and its `rnn/model_search.py`. Node i (1..N) may be fed by any earlier node j
(0..i-1) through any of the ops `none`, `tanh`, `relu`, `sigmoid`, `identity`; with
architecture weights p = softmax(alpha[edge]) per edge (j -> i), the node is

    s_i = sum_j sum_{o != none} p_{j,o} * (s_j + c_j * (o(g_j) - s_j)),   c_j, g_j = split(s_j W_i)

(`none` contributes zero, so its weight only dilutes the others). As in DARTS' search
code, node i has one matrix W_i shared by all its incoming edges, the first state s_0 is
the derived cell's highway layer, each state goes through a batch norm without affine
parameters (it keeps the mixture's scale steady while alpha moves), and the cell's
output is the mean of the N intermediate nodes. The sum over ops is computed in the
rearranged form P_j s_j + c_j * (sum_o p_{j,o} o(g_j) - P_j s_j), P_j = sum_{o != none}
p_{j,o}, which is the same quantity with one highway product per edge instead of four.

Edges are ordered node by node, inputs ascending: (0->1), (0->2), (1->2), (0->3), ...,
N(N+1)/2 in all (36 for N = 8), the row order of alpha.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from archsearch.nn.recurrent import (
    ACTIVATIONS,
    INIT_RANGE,
    RecurrentLM,
    locked_mask,
)

#: DARTS' recurrent primitives, `none` first (its `PRIMITIVES` for the RNN search)
RNN_OPS = ("none", "tanh", "relu", "sigmoid", "identity")


def edges(nodes: int) -> list[tuple[int, int]]:
    """(input j, node i) for every edge, in alpha's row order."""
    return [(j, i) for i in range(1, nodes + 1) for j in range(i)]


class MixedRNNCell(nn.Module):
    """DARTS' continuous relaxation of the recurrent cell; `forward` takes the softmaxed
    architecture weights, (edges, len(RNN_OPS))."""

    def __init__(self, ninp: int, nhid: int, nodes: int, dropouth: float, dropoutx: float) -> None:
        super().__init__()
        self.ninp, self.nhid, self.nodes = ninp, nhid, nodes
        self.dropouth, self.dropoutx = dropouth, dropoutx
        self.W0 = nn.Parameter(torch.empty(ninp + nhid, 2 * nhid).uniform_(-INIT_RANGE, INIT_RANGE))
        self.Ws = nn.ParameterList(
            nn.Parameter(torch.empty(nhid, 2 * nhid).uniform_(-INIT_RANGE, INIT_RANGE))
            for _ in range(nodes)
        )
        self.bn = nn.BatchNorm1d(nhid, affine=False)
        self.n_edges = nodes * (nodes + 1) // 2

    def init_hidden(self, batch: int, like: torch.Tensor) -> torch.Tensor:
        return like.new_zeros(batch, self.nhid)

    def forward(
        self, x: torch.Tensor, h: torch.Tensor, weights: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if weights.shape != (self.n_edges, len(RNN_OPS)):
            raise ValueError(
                f"architecture weights must be ({self.n_edges}, {len(RNN_OPS)}), "
                f"got {tuple(weights.shape)}"
            )
        T, B = x.size(0), x.size(1)
        H = self.nhid
        x_mask = locked_mask(B, self.ninp, self.dropoutx, x) if self.training else None
        h_mask = locked_mask(B, H, self.dropouth, x) if self.training else None
        xw = (x if x_mask is None else x * x_mask).matmul(self.W0[: self.ninp])
        W0h = self.W0[self.ninp :]
        ops = weights[:, 1:]  # drop `none`: it adds nothing
        total = ops.sum(dim=1)  # P_j per edge
        outputs = []
        for t in range(T):
            h_in = h if h_mask is None else h * h_mask
            c0, g0 = (xw[t] + h_in.mm(W0h)).split(H, dim=-1)
            s0 = self.bn(h + torch.sigmoid(c0) * (torch.tanh(g0) - h))
            states = s0.unsqueeze(0)  # (nodes so far, B, H)
            offset = 0
            for i in range(self.nodes):
                n_in = i + 1
                masked = states if h_mask is None else states * h_mask
                c, g = masked.reshape(-1, H).mm(self.Ws[i]).view(n_in, B, 2 * H).split(H, dim=-1)
                c = torch.sigmoid(c)
                acts = torch.stack([ACTIVATIONS[name](g) for name in RNN_OPS[1:]], dim=1)
                mix = torch.einsum("jk,jkbh->jbh", ops[offset : offset + n_in], acts)
                kept = total[offset : offset + n_in].view(n_in, 1, 1) * states
                s = (kept + c * (mix - kept)).sum(dim=0)
                states = torch.cat([states, self.bn(s).unsqueeze(0)], dim=0)
                offset += n_in
            h = states[1:].mean(dim=0)
            outputs.append(h)
        return torch.stack(outputs), h


class RNNSupernet(RecurrentLM):
    """The search-time language model: embedding, `MixedRNNCell`, tied decoder; call it
    as `net(tokens, hidden, weights=softmax(alpha))`."""

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        nodes: int = 8,
        *,
        dropout: float = 0.0,
        dropouth: float = 0.0,
        dropoutx: float = 0.0,
        dropouti: float = 0.0,
    ) -> None:
        cell = MixedRNNCell(hidden_size, hidden_size, nodes, dropouth, dropoutx)
        super().__init__(cell, vocab_size, hidden_size, dropout, dropouti)
        self.nodes = nodes
        self.n_edges = cell.n_edges
        self.op_names = RNN_OPS
