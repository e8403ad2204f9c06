"""Word-level language-modelling corpora: Penn Treebank and WikiText-2.

* `ptb`: Mikolov et al.'s preprocessed Penn Treebank ("Extensions of recurrent neural
  network language model", ICASSP 2011), as used by Zaremba et al. (2014), AWD-LSTM
  (Merity et al., ICLR 2018), ENAS and DARTS: folder `ptb/`, files
  `ptb.{train,valid,test}.txt`, 10,000 words.
* `wikitext-2`: Merity et al., "Pointer Sentinel Mixture Models" (ICLR 2017), tokenized v1:
  folder `wikitext-2/`, files `wiki.{train,valid,test}.tokens`, 33,278 words.

Files are read from a data directory (`data_dir`, else the `ARCHSEARCH_DATA` folder, in
the places `archsearch.datasets.sources` searches); there is no download: both corpora
carry licence terms a user accepts by fetching them. Each file is checked against the
SHA-256 of the original (the same digests as the shared data folder's READMEs) unless
`verify=False` (a user's own corpus in the same layout).

Tokenisation is the usual `Corpus` reader of pytorch/examples, AWD-LSTM, ENAS and DARTS:
`line.split() + ["<eos>"]` per line. The vocabulary is built from the training file in
order of first appearance; a valid or test word outside it becomes `<unk>` (neither
standard corpus has one). Batching is Zaremba et al.'s: the token stream is cut into
`batch_size` contiguous columns (`batchify`) and read in windows of `bptt` steps
(`bptt_batches`), the hidden state carried from one window to the next.

Importing this module imports torch.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from archsearch.datasets.sources import ENV_VAR, DatasetError, candidate_dirs, sha256_file

EOS = "<eos>"
UNK = "<unk>"
SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class CorpusFiles:
    """Where a corpus lives (`folder`) and its three files, with their SHA-256."""

    folder: str
    files: dict[str, str]  # split -> file name
    sha256: dict[str, str]  # file name -> digest
    source: str


CORPORA: dict[str, CorpusFiles] = {
    "ptb": CorpusFiles(
        "ptb",
        {"train": "ptb.train.txt", "valid": "ptb.valid.txt", "test": "ptb.test.txt"},
        {
            "ptb.train.txt": "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
            "ptb.valid.txt": "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
            "ptb.test.txt": "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
        },
        "Mikolov's PTB (simple-examples/data), as in Zaremba et al. 2014 and DARTS",
    ),
    "wikitext-2": CorpusFiles(
        "wikitext-2",
        {"train": "wiki.train.tokens", "valid": "wiki.valid.tokens", "test": "wiki.test.tokens"},
        {
            "wiki.train.tokens": "9e9fa1ad55b1c2c95b08e37dd8e653f638fac2c6de904b79e813611eefbc985f",
            "wiki.valid.tokens": "f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8",
            "wiki.test.tokens": "d790b833ef8cf03a90db7bf1271b7520b83c45ce07ba3c1a9699df81e239eca0",
        },
        "WikiText-2 v1 tokenized (Merity et al. 2016), wikitext-2-v1.zip",
    ),
}

_HOW_TO_GET = {
    "ptb": "Mikolov's simple-examples.tgz (data/ptb.*.txt)",
    "wikitext-2": "wikitext-2-v1.zip from the Salesforce WikiText page (wiki.*.tokens)",
}


@dataclass(frozen=True, eq=False)
class Corpus:
    """A tokenised corpus: the vocabulary (id -> word) and each split as a 1-D int64
    tensor of token ids. Treat the tensors as read-only (corpora are cached)."""

    name: str
    vocab: tuple[str, ...]
    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor
    source: str = ""

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "vocab": self.vocab_size,
            "train_tokens": len(self.train),
            "valid_tokens": len(self.valid),
            "test_tokens": len(self.test),
            "source": self.source,
        }


def _words(path: Path) -> list[str]:
    words: list[str] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            words += line.split()
            words.append(EOS)
    return words


def _find(name: str, spec: CorpusFiles, data_dir: str | os.PathLike[str] | None) -> Path:
    """The folder holding all three files, or a DatasetError naming the missing one."""
    dirs = candidate_dirs([spec.folder], data_dir)
    for d in dirs:
        if all((d / f).is_file() for f in spec.files.values()):
            return d
    where = ", ".join(str(d) for d in dirs) or "no existing folder"
    missing = next(
        (f for f in spec.files.values() if not any((d / f).is_file() for d in dirs)),
        next(iter(spec.files.values())),
    )
    raise DatasetError(
        f"corpus {name!r}: {missing} not found (searched {where}; give a data directory "
        f"with a {spec.folder}/ folder, or set {ENV_VAR}). It is not downloaded: get "
        f"{_HOW_TO_GET[name]} and put {', '.join(spec.files.values())} in {spec.folder}/"
    )


def read_corpus(name: str, directory: Path, *, verify: bool = True) -> Corpus:
    """Tokenise the corpus files in `directory` (see the module docstring)."""
    spec = CORPORA[name]
    if verify:
        for fname, digest in spec.sha256.items():
            actual = sha256_file(directory / fname)
            if actual != digest:
                raise DatasetError(
                    f"corpus {name!r}: {directory / fname} has sha256 {actual}, expected "
                    f"{digest} (a different or damaged copy; pass verify=False for a "
                    f"corpus of your own in this layout)"
                )
    train_words = _words(directory / spec.files["train"])
    index: dict[str, int] = {}
    for w in train_words:
        if w not in index:
            index[w] = len(index)
    splits: dict[str, torch.Tensor] = {}
    for split in SPLITS:
        words = train_words if split == "train" else _words(directory / spec.files[split])
        unk = index.get(UNK)
        ids = []
        for w in words:
            i = index.get(w, unk)
            if i is None:
                raise DatasetError(
                    f"corpus {name!r}: {split} word {w!r} is not in the training "
                    f"vocabulary, which has no {UNK} token to map it to"
                )
            ids.append(i)
        splits[split] = torch.tensor(ids, dtype=torch.long)
    return Corpus(
        name,
        tuple(index),
        splits["train"],
        splits["valid"],
        splits["test"],
        source=f"{spec.source}; {directory}",
    )


_CACHE: dict[tuple[Any, ...], Corpus] = {}


def load_corpus(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    verify: bool = True,
    cache: bool = True,
) -> Corpus:
    """The corpus `name` ("ptb" or "wikitext-2") from the data directory.

    Raises `DatasetError` naming the missing file and how to get it, or a checksum
    mismatch. Corpora are kept in memory per (name, data_dir, ARCHSEARCH_DATA, verify).
    """
    if name not in CORPORA:
        raise DatasetError(f"unknown corpus {name!r}; choose one of: {', '.join(CORPORA)}")
    key = (name, None if data_dir is None else str(data_dir), os.environ.get(ENV_VAR), verify)
    if cache and key in _CACHE:
        return _CACHE[key]
    corpus = read_corpus(name, _find(name, CORPORA[name], data_dir), verify=verify)
    if cache:
        _CACHE[key] = corpus
    return corpus


def batchify(data: torch.Tensor, batch_size: int) -> torch.Tensor:
    """The stream as `batch_size` contiguous columns, (steps, batch_size): column b holds
    tokens b*steps .. (b+1)*steps - 1; the tail that does not fill a row is dropped
    (Zaremba et al. 2014; pytorch/examples, AWD-LSTM and DARTS do the same)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    steps = len(data) // batch_size
    if steps < 2:
        raise DatasetError(
            f"a stream of {len(data)} tokens is too short for {batch_size} columns "
            f"(need at least 2 tokens per column)"
        )
    return data[: steps * batch_size].view(batch_size, steps).t().contiguous()


def bptt_batches(source: torch.Tensor, bptt: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(input, target) windows of up to `bptt` steps over a batchified stream, in order;
    the target is the input shifted by one token. Each is (seq_len, batch)."""
    if bptt < 1:
        raise ValueError(f"bptt must be >= 1, got {bptt}")
    for i in range(0, len(source) - 1, bptt):
        seq_len = min(bptt, len(source) - 1 - i)
        yield source[i : i + seq_len], source[i + 1 : i + 1 + seq_len]


def n_bptt_batches(source: torch.Tensor, bptt: int) -> int:
    """How many windows `bptt_batches(source, bptt)` yields."""
    return max(0, -(-(len(source) - 1) // bptt))
