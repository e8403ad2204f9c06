"""Recurrent cell search for language modelling: the text corpora, the `rnn_cell` space and
its networks, the `lm` evaluator (alone and under a Study with RE), and DARTS for
recurrent cells. A tiny synthetic corpus in PTB's folder layout keeps them fast; one test
reads the real PTB where the shared data folder has it."""

from __future__ import annotations

import math
import os
import pickle
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from archsearch.core.errors import ConfigError, GenotypeError
from archsearch.core.genotype import Architecture, TaskSpec
from archsearch.core.trial import Reporter, TrialState
from archsearch.datasets.sources import DatasetError
from archsearch.datasets.text import (
    CORPORA,
    EOS,
    Corpus,
    batchify,
    bptt_batches,
    load_corpus,
    n_bptt_batches,
)
from archsearch.estimation.base import TrialContext
from archsearch.estimation.language import LanguageModelEvaluator
from archsearch.nn.recurrent import build_baseline
from archsearch.oneshot.rnn_darts import RNNDarts, darts_rnn_search, derive_rnn_cell
from archsearch.oneshot.rnn_supernet import RNN_OPS, edges
from archsearch.space.base import get_space
from archsearch.space.recurrent import DARTS_V1, DARTS_V2, RecurrentSpace
from archsearch.strategies.evolution import RegularizedEvolution
from archsearch.study import Study
from tests.helpers import shared_dir

H = 8  # hidden units of the test networks
WORDS = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "to", "park", "<unk>"]


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def write_tiny_ptb(root: Path, lines: int = 200, seed: int = 0) -> Path:
    """A small corpus in PTB's layout: short sentences over a 11-word vocabulary, with a
    pattern a model can learn (each word mostly follows the previous one)."""
    rng = np.random.default_rng(seed)
    folder = root / "ptb"
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", lines), ("valid", lines // 4), ("test", lines // 4)):
        text = []
        for _ in range(n):
            k = int(rng.integers(len(WORDS)))
            words = []
            for _ in range(int(rng.integers(4, 9))):
                words.append(WORDS[k])
                k = (k + 1) % len(WORDS) if rng.random() < 0.8 else int(rng.integers(len(WORDS)))
            text.append(" " + " ".join(words) + " \n")
        (folder / f"ptb.{split}.txt").write_text("".join(text))
    return root


@pytest.fixture
def tiny(tmp_path: Path) -> Corpus:
    return load_corpus("ptb", write_tiny_ptb(tmp_path), verify=False, cache=False)


def small_space(**options: object) -> RecurrentSpace:
    return RecurrentSpace(hidden_size=H, **options)  # type: ignore[arg-type]


def evaluator(corpus: Corpus, **options: object) -> LanguageModelEvaluator:
    settings: dict[str, object] = {"space": small_space(), "batch_size": 4, "bptt": 5}
    settings.update(options)
    return LanguageModelEvaluator(corpus, **settings)  # type: ignore[arg-type]


def ctx(seed: int = 0) -> TrialContext:
    return TrialContext(number=0, seed=seed, reporter=Reporter())


# --- corpora ---------------------------------------------------------------------------------


def test_corpus_appends_eos_and_builds_the_vocabulary_from_train(tmp_path: Path) -> None:
    root = write_tiny_ptb(tmp_path)
    corpus = load_corpus("ptb", root, verify=False, cache=False)
    lines = (root / "ptb" / "ptb.train.txt").read_text().splitlines()
    words = [w for line in lines for w in [*line.split(), EOS]]
    assert len(corpus.train) == len(words)
    assert corpus.train.dtype == torch.long
    assert [corpus.vocab[i] for i in corpus.train[:20].tolist()] == words[:20]
    assert corpus.vocab[0] == words[0] and EOS in corpus.vocab
    assert int((corpus.valid == corpus.vocab.index(EOS)).sum()) == 50  # one per line
    assert corpus.vocab_size == len(set(words))


def test_unknown_test_word_maps_to_unk_or_is_named(tmp_path: Path) -> None:
    root = write_tiny_ptb(tmp_path)
    (root / "ptb" / "ptb.test.txt").write_text(" zebra cat \n")
    corpus = load_corpus("ptb", root, verify=False, cache=False)
    assert corpus.vocab[int(corpus.test[0])] == "<unk>"  # the train file has <unk>
    for split in ("train", "valid"):  # now without any <unk>: the word must be named
        path = root / "ptb" / f"ptb.{split}.txt"
        path.write_text(path.read_text().replace("<unk>", "cat"))
    with pytest.raises(DatasetError, match="'zebra'"):
        load_corpus("ptb", root, verify=False, cache=False)


def test_checksums_are_checked(tmp_path: Path) -> None:
    root = write_tiny_ptb(tmp_path)
    with pytest.raises(DatasetError, match=r"ptb\.train\.txt has sha256 .* expected fcea919f"):
        load_corpus("ptb", root, cache=False)


def test_a_missing_file_is_named_with_how_to_get_it(tmp_path: Path) -> None:
    root = write_tiny_ptb(tmp_path)
    (root / "ptb" / "ptb.test.txt").unlink()
    with pytest.raises(DatasetError, match=r"ptb\.test\.txt not found.*simple-examples"):
        load_corpus("ptb", root, verify=False, cache=False)
    with pytest.raises(DatasetError, match="unknown corpus"):
        load_corpus("ptb-xl", root)


def test_batchify_makes_contiguous_columns_and_bptt_shifts_targets() -> None:
    data = torch.arange(23)
    source = batchify(data, 4)  # 5 rows; the last 3 tokens dropped
    assert source.shape == (5, 4)
    assert source[:, 1].tolist() == [5, 6, 7, 8, 9]
    windows = list(bptt_batches(source, 3))
    assert len(windows) == n_bptt_batches(source, 3) == 2
    (x0, y0), (x1, y1) = windows
    assert x0.shape == (3, 4) and x1.shape == (1, 4)
    assert torch.equal(y0, x0 + 1) and torch.equal(y1, x1 + 1)
    with pytest.raises(DatasetError, match="too short"):
        batchify(torch.arange(5), 4)


def _real_data_dir(name: str) -> Path | None:
    first = CORPORA[name].files["train"]
    for d in (os.environ.get("ARCHSEARCH_DATA"), shared_dir() / "datasets"):
        if d is not None and (Path(d) / CORPORA[name].folder / first).is_file():
            return Path(d)
    return None


# The published counts (each README's table; the PTB and WikiText-2 papers).
REAL = [
    pytest.param("ptb", 10_000, (929_589, 73_760, 82_430), id="ptb"),
    pytest.param("wikitext-2", 33_278, (2_088_628, 217_646, 245_569), id="wikitext-2"),
]


@pytest.mark.parametrize("name, vocab, sizes", REAL)
def test_real_corpus_matches_its_published_counts(
    name: str, vocab: int, sizes: tuple[int, int, int]
) -> None:
    data_dir = _real_data_dir(name)
    if data_dir is None:
        pytest.skip(f"the {name} files are not in the data folder")
    corpus = load_corpus(name, data_dir, cache=False)  # checks the SHA-256 of all three files
    assert corpus.vocab_size == vocab
    assert (len(corpus.train), len(corpus.valid), len(corpus.test)) == sizes


# --- the space --------------------------------------------------------------------------------


def test_decisions_follow_darts_and_darts_genotypes_round_trip() -> None:
    space = RecurrentSpace()
    names = [d.name for d in space.decisions()]
    assert names[:4] == ["n1.act", "n2.act", "n2.input", "n3.act"] and len(names) == 15
    assert space.decisions()[6].options == tuple(range(4))  # node 4 reads nodes 0..3
    assert space.size() == 4**8 * math.factorial(8)
    v2 = space.parse(DARTS_V2)
    assert space.cell(v2)[:3] == (("sigmoid", 0), ("relu", 1), ("relu", 1))
    assert space.parse(space.describe(v2)) == v2
    assert space.parse(v2.to_json()) == v2
    assert Architecture.from_json(v2.to_json()) == v2
    assert space.parse(DARTS_V1) != v2


def test_invalid_genotypes_name_the_field() -> None:
    space = RecurrentSpace()
    arch = space.parse(DARTS_V2)
    choices = dict(arch.choices)
    with pytest.raises(GenotypeError, match=r"n3\.input is 3; node 3 may be fed by nodes 0\.\.2"):
        space.validate(Architecture(arch.space, tuple({**choices, "n3.input": 3}.items())))
    with pytest.raises(GenotypeError, match=r"'n2\.act' has invalid value 'gelu'"):
        space.validate(Architecture(arch.space, tuple({**choices, "n2.act": "gelu"}.items())))
    with pytest.raises(GenotypeError, match="concat"):
        space.parse(DARTS_V2.replace("range(1, 9)", "range(2, 9)"))
    with pytest.raises(GenotypeError, match="node 1 can only be fed by node 0"):
        space.from_cell((("relu", 1), *space.cell(arch)[1:]))
    with pytest.raises(GenotypeError, match=r"8 \(activation, input\) pairs, got 7"):
        space.from_cell(space.cell(arch)[:7])
    with pytest.raises(ConfigError, match="hidden_size"):
        RecurrentSpace(hidden_size=0)
    with pytest.raises(ConfigError, match="dropoutx"):
        RecurrentSpace(dropoutx=1.0)


def _n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("nodes", [1, 3, 8])
def test_cell_language_model_runs_and_has_the_darts_parameter_count(nodes: int) -> None:
    space = small_space(nodes=nodes)
    V, T, B = 17, 6, 3
    model = space.build(space.sample(np.random.default_rng(nodes)), TaskSpec((T,), V))
    tokens = torch.randint(V, (T, B), generator=torch.Generator().manual_seed(0))
    logits, hidden = model(tokens)
    assert logits.shape == (T, B, V) and hidden.shape == (B, H)
    logits.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    # tied embedding/decoder (V x H) + decoder bias + W0 (2H x 2H) + one H x 2H per node
    assert _n_params(model) == V * H + V + 4 * H * H + nodes * 2 * H * H
    model.eval()
    with torch.no_grad():  # state carried: two halves equal the whole sequence
        whole, _ = model(tokens)
        first, h = model(tokens[:3])
        second, _ = model(tokens[3:], h)
    torch.testing.assert_close(torch.cat([first, second]), whole)


def test_cell_follows_the_darts_equations() -> None:
    """A one-node identity cell, computed by hand."""
    space = small_space(nodes=1)
    model = space.build(space.make(["identity"]), TaskSpec((1,), 5)).eval()
    tokens = torch.tensor([[2]])
    x = model.encoder(tokens)[0]
    h = torch.zeros(1, H)
    c0, g0 = torch.cat([x, h], dim=-1).mm(model.rnn.W0).split(H, dim=-1)
    s0 = h + torch.sigmoid(c0) * (torch.tanh(g0) - h)
    c1, g1 = s0.mm(model.rnn.Ws[0]).split(H, dim=-1)
    s1 = s0 + torch.sigmoid(c1) * (g1 - s0)
    with torch.no_grad():
        _, out = model(tokens)
    torch.testing.assert_close(out, s1.detach())


def test_lstm_baseline_has_two_layers_and_tied_weights() -> None:
    space = small_space()
    V = 13
    model = build_baseline(space, TaskSpec((5,), V))
    logits, (h, c) = model(torch.zeros(5, 2, dtype=torch.long))
    assert logits.shape == (5, 2, V) and h.shape == c.shape == (2, 2, H)
    assert model.decoder.weight is model.encoder.weight
    assert _n_params(model) == V * H + V + 2 * (4 * H * 2 * H + 8 * H)


def test_build_refuses_an_image_task() -> None:
    space = small_space()
    with pytest.raises(ConfigError, match=r"input_shape must be \(seq_len,\)"):
        space.build(space.sample(np.random.default_rng(0)), TaskSpec((1, 8, 8), 10))


# --- the lm evaluator ----------------------------------------------------------------------


def test_lm_evaluator_gives_a_finite_perplexity_deterministically(tiny: Corpus) -> None:
    ev = evaluator(tiny, epochs=2)
    space = ev.space
    assert space is not None
    arch = space.sample(np.random.default_rng(0))
    a = ev.evaluate(arch, ctx(3))
    b = ev.evaluate(arch, ctx(3))
    c = ev.evaluate(arch, ctx(4))
    assert a.state is TrialState.COMPLETE
    assert math.isfinite(a.metrics["val_ppl"]) and 1.0 < a.metrics["val_ppl"] < tiny.vocab_size
    assert a.metrics == {**b.metrics, "train_seconds": a.metrics["train_seconds"]}
    assert c.metrics["val_ppl"] != a.metrics["val_ppl"]
    assert a.metrics["epochs"] == 2 and a.metrics["params"] > 0
    assert ev.metric == "val_ppl" and ev.mode == "min"


def test_lm_evaluator_learns_and_reports_each_epoch(tiny: Corpus) -> None:
    seen: list[tuple[int, float]] = []

    class Collect(Reporter):
        def report(self, step: int, metrics: dict[str, float]) -> None:
            seen.append((step, metrics["val_ppl"]))

    ev = evaluator(tiny, epochs=3)
    assert ev.space is not None
    arch = ev.space.parse(DARTS_V2)
    result = ev.evaluate(arch, TrialContext(number=0, seed=0, reporter=Collect()))
    assert [s for s, _ in seen] == [1, 2, 3]
    assert seen[-1][1] < seen[0][1]
    assert seen[-1][1] < 0.6 * tiny.vocab_size  # clearly better than a uniform guess
    assert result.metrics["val_ppl"] == seen[-1][1]


def test_divergence_fails_the_trial(tiny: Corpus) -> None:
    ev = evaluator(tiny, diverge_factor=0.01)  # any loss is "exploding"
    assert ev.space is not None
    result = ev.evaluate(ev.space.sample(np.random.default_rng(0)), ctx())
    assert result.state is TrialState.FAILED and "diverged" in (result.error or "")


def test_lm_evaluator_checks_its_options(tiny: Corpus) -> None:
    with pytest.raises(ConfigError, match="bptt"):
        evaluator(tiny, bptt=0)
    with pytest.raises(ConfigError, match="data_fraction"):
        evaluator(tiny, data_fraction=0.0)
    ev = evaluator(tiny)
    assert ev.supports(small_space()) and not ev.supports(get_space("nb201"))
    with pytest.raises(GenotypeError, match="rnn_cell"):
        ev.evaluate(get_space("nb201").sample(np.random.default_rng(0)), ctx())


def test_lm_evaluator_pickles_without_its_tensors_when_named(tmp_path: Path) -> None:
    root = write_tiny_ptb(tmp_path)
    ev = LanguageModelEvaluator("ptb", data_dir=str(root), verify=False, space=small_space())
    ev.stream("search_train")
    clone = pickle.loads(pickle.dumps(ev))
    assert clone._corpus is None and clone._streams == {}
    assert torch.equal(clone.stream("search_train"), ev.stream("search_train"))


def test_study_with_regularized_evolution_minimises_perplexity(tiny: Corpus) -> None:
    ev = evaluator(tiny)
    space = ev.space
    assert space is not None
    study = Study(space, RegularizedEvolution(space, seed=0, population_size=2, sample_size=2))
    study.optimize(ev, budget="4trials")
    done = study.completed()
    assert len(done) == 4
    best = study.best()
    assert best.metrics["val_ppl"] == min(t.metrics["val_ppl"] for t in done)
    assert best.score == -best.metrics["val_ppl"]


def test_final_fit_reports_test_perplexity_for_a_cell_and_the_baseline(tiny: Corpus) -> None:
    ev = evaluator(tiny)
    assert ev.space is not None
    cell = ev.final_fit(ev.space.parse(DARTS_V2), seed=0, epochs=2)
    lstm = ev.final_fit_baseline(seed=0, epochs=2)
    for fit in (cell, lstm):
        assert math.isfinite(fit.metrics["test_ppl"]) and fit.metrics["test_ppl"] > 1.0
        assert len(fit.history) == 2 and fit.metrics["epochs"] == 2
    assert cell.metrics["params"] != lstm.metrics["params"]


# --- DARTS for recurrent cells -----------------------------------------------------------------


def test_derivation_keeps_each_nodes_strongest_non_none_edge() -> None:
    space = RecurrentSpace(nodes=3)
    alpha = torch.zeros(6, len(RNN_OPS))
    rows = {e: r for r, e in enumerate(edges(3))}
    alpha[rows[(0, 1)], RNN_OPS.index("relu")] = 2.0
    alpha[rows[(0, 2)], RNN_OPS.index("none")] = 9.0  # `none` never wins
    alpha[rows[(1, 2)], RNN_OPS.index("sigmoid")] = 1.0
    alpha[rows[(2, 3)], RNN_OPS.index("identity")] = 3.0
    alpha[rows[(0, 3)], RNN_OPS.index("tanh")] = 2.5
    arch = derive_rnn_cell(alpha, space)
    assert space.cell(arch) == (("relu", 0), ("sigmoid", 1), ("identity", 2))


def test_darts_search_moves_alpha_and_derives_a_valid_cell(tiny: Corpus) -> None:
    space = small_space()
    gen = torch.Generator().manual_seed(0)
    search = RNNDarts(space, tiny.vocab_size, lr=5.0, generator=gen)
    before = search.alpha.detach().clone()
    train, valid = batchify(tiny.train, 4), batchify(tiny.valid, 4)
    h = search.net.init_hidden(4)
    hv = search.net.init_hidden(4)
    assert isinstance(h, torch.Tensor) and isinstance(hv, torch.Tensor)
    for (x, y), (xv, yv) in zip(bptt_batches(train, 5), bptt_batches(valid, 5), strict=False):
        _, hv = search.arch_step(xv, yv, hv)
        _, h = search.weight_step(x, y, h)
    assert (search.alpha.detach() - before).abs().max() > 1e-3
    space.validate(search.derive())


def test_darts_rnn_search_is_seeded(tiny: Corpus) -> None:
    space = small_space(nodes=3)
    records: list[dict[str, object]] = []
    kwargs = {"space": space, "batch_size": 4, "bptt": 5, "lr": 5.0, "eval_batch_size": 4}
    a = darts_rnn_search(tiny, seed=1, on_epoch=records.append, **kwargs)  # type: ignore[arg-type]
    b = darts_rnn_search(tiny, seed=1, **kwargs)  # type: ignore[arg-type]
    space.validate(a.arch)
    assert a.arch == b.arch and a.probabilities == b.probabilities
    assert len(records) == 1 and records[0]["arch"] == a.genotype
    assert math.isfinite(float(records[0]["supernet_val_ppl"]))  # type: ignore[arg-type]
    assert len(a.probabilities) == 6 and a.settings["order"] == 1


def test_a_promoted_trial_continues_its_parent_exactly(tiny: Corpus, tmp_path: Path) -> None:
    """Checkpointed rung by rung (as a multi-fidelity scheduler runs it) or straight
    through: the same weights, so the same perplexity."""
    ev = evaluator(tiny)
    assert ev.space is not None
    arch = ev.space.parse(DARTS_V2)
    folder = str(tmp_path)

    def run(number: int, resource: int, parent: int | None = None) -> dict[str, float]:
        context = TrialContext(
            number=number,
            seed=7,
            reporter=Reporter(),
            resource=resource,
            horizon=2,
            parent=parent,
            parent_resource=None if parent is None else 1,
            checkpoint_dir=folder,
        )
        result = ev.evaluate(arch, context)
        assert result.state is TrialState.COMPLETE
        return result.metrics

    straight = run(0, 2)
    run(1, 1)
    promoted = run(2, 2, parent=1)
    assert promoted["epochs"] == 2
    assert promoted["val_ppl"] == straight["val_ppl"]


def test_each_evaluator_supports_only_its_modality() -> None:
    from archsearch.estimation.training import TrainingEvaluator

    rnn, chain = RecurrentSpace(nodes=2, hidden_size=8), get_space("chain")
    assert LanguageModelEvaluator(space=rnn).supports(rnn)
    assert not LanguageModelEvaluator(space=rnn).supports(chain)
    assert TrainingEvaluator("digits").supports(chain)
    assert not TrainingEvaluator("digits").supports(rnn)
