"""Dataset loaders, data-directory resolution, downloads, splits and torch transforms.

Real files come from the project's shared data (`<repo>/../shared/datasets`, or the
`ARCHSEARCH_DATA` folder) and Debian's `dataset-fashion-mnist`; tests that need them
skip when they are absent. Downloads are tested with `file://` URLs, never the network.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from archsearch.datasets import (
    DATASETS,
    Dataset,
    DatasetError,
    cifar,
    clear_cache,
    idx,
    load_dataset,
    sources,
    transforms,
)
from archsearch.datasets.sources import Remote, download, read_idx

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


def shared_dir(*parts: str) -> Path:
    """A folder of the shared data, from ARCHSEARCH_DATA or <repo>/../shared/datasets."""
    for root in (os.environ.get("ARCHSEARCH_DATA"), SHARED):
        if root and Path(root, *parts).is_dir():
            return Path(root, *parts)
    pytest.skip(f"shared data {'/'.join(parts)} not available")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the user's cache or ARCHSEARCH_DATA unless it sets them itself."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("ARCHSEARCH_DATA", raising=False)
    clear_cache()


def write_idx(path: Path, array: np.ndarray, compress: bool = True) -> None:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)


def write_fake_mnist(folder: Path, n_train: int, n_test: int = 3, compress: bool = True) -> None:
    rng = np.random.default_rng(n_train)
    suffix = ".gz" if compress else ""
    for split, n in (("train", n_train), ("t10k", n_test)):
        write_idx(
            folder / f"{split}-images-idx3-ubyte{suffix}",
            rng.integers(0, 256, (n, 28, 28)),
            compress,
        )
        write_idx(folder / f"{split}-labels-idx1-ubyte{suffix}", np.arange(n) % 10, compress)


# --- registry and the bundled set ------------------------------------------------------------
def test_registry_holds_the_five_loaders() -> None:
    assert {"digits", "mnist", "fashion-mnist", "cifar10", "npz"} <= set(DATASETS.names())


def test_digits_shapes_and_fixed_test_split() -> None:
    ds = load_dataset("digits")
    assert ds.input_shape == (1, 8, 8) and ds.num_classes == 10
    assert len(ds.y_train) + len(ds.y_test) == 1797
    assert len(ds.y_test) == 359  # 20 % of each class, rounded
    assert ds.x_train.dtype == torch.float32
    assert float(ds.x_train.min()) == 0.0 and float(ds.x_train.max()) == 1.0
    counts = torch.bincount(ds.y_test, minlength=10)
    assert int(counts.min()) >= 35 and int(counts.max()) <= 37  # stratified
    again = load_dataset("digits", cache=False)
    assert torch.equal(again.y_test, ds.y_test) and torch.equal(again.x_test, ds.x_test)


def test_load_dataset_caches_and_rejects_unknown_names() -> None:
    assert load_dataset("digits") is load_dataset("digits")
    with pytest.raises(KeyError, match="unknown dataset 'imagenet'"):
        load_dataset("imagenet")


# --- real files ------------------------------------------------------------------------------
def test_mnist_from_shared_files() -> None:
    root = shared_dir("mnist").parent
    ds = load_dataset("mnist", data_dir=root)
    assert tuple(ds.x_train.shape) == (60000, 1, 28, 28) and ds.x_train.dtype == torch.uint8
    assert tuple(ds.x_test.shape) == (10000, 1, 28, 28)
    assert ds.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert torch.bincount(ds.y_test).tolist() == [
        980,
        1135,
        1032,
        1010,
        982,
        892,
        958,
        1028,
        974,
        1009,
    ]
    mean, std = ds.stats()
    assert abs(float(mean) - 0.1307) < 1e-3 and abs(float(std) - 0.3081) < 1e-3


def test_mnist_test_labels_match_the_published_checksum() -> None:
    folder = shared_dir("mnist")
    labels = read_idx(folder / "t10k-labels-idx1-ubyte.gz")
    header = struct.pack(">HBBI", 0, 0x08, 1, len(labels))
    digest = hashlib.sha256(header + labels.tobytes()).hexdigest()
    assert digest == "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"


def test_fashion_mnist_from_the_debian_package() -> None:
    folder = sources.SYSTEM_DIRS[0] / "fashion-mnist"
    if not (folder / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    ds = load_dataset("fashion-mnist", download=False)
    assert ds.source == str(folder)
    assert tuple(ds.x_train.shape) == (60000, 1, 28, 28)
    assert torch.bincount(ds.y_train).tolist() == [6000] * 10
    assert torch.bincount(ds.y_test).tolist() == [1000] * 10
    mean, std = ds.stats()
    assert abs(float(mean) - 0.2860) < 1e-3 and abs(float(std) - 0.3530) < 1e-3
    assert ds.class_names[9] == "Ankle boot"


def test_cifar_jpeg_decoder_matches_the_exact_pixels() -> None:
    jpeg = shared_dir("cifar10-jpeg") / "cifar10_jpeg_train.npz"
    exact = np.load(shared_dir("cifar10-lossless-5k") / "cifar10_lossless_5k.npz")
    x, y = cifar.decode_jpeg_npz(jpeg, limit=500)
    assert x.shape == (500, 32, 32, 3) and x.dtype == np.uint8
    assert np.array_equal(y, exact["y_train"][:500])
    error = np.abs(x.astype(np.int16) - exact["x_train"][:500]).mean()
    shifted = np.abs(x[1:].astype(np.int16) - exact["x_train"][:499]).mean()
    assert error < 8.0  # the README measures 5.8 for quality-75 JPEG
    assert shifted > 30.0  # a misaligned decode would be far off


@pytest.mark.slow
def test_cifar10_from_the_shared_jpeg_files() -> None:
    root = shared_dir("cifar10-jpeg").parent
    ds = load_dataset("cifar10", data_dir=root, download=False)
    assert tuple(ds.x_train.shape) == (50000, 3, 32, 32) and ds.augment
    assert ds.y_train[:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    assert torch.bincount(ds.y_test).tolist() == [1000] * 10
    mean, _ = ds.stats()
    assert torch.allclose(mean, torch.tensor([0.4914, 0.4822, 0.4465]), atol=2e-3)


def _fake_cifar_records(n: int, first_label: int) -> tuple[bytes, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(first_label)
    x = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)  # planes R, G, B
    y = (np.arange(n) + first_label) % 10
    blob = b"".join(bytes([int(y[i])]) + x[i].tobytes() for i in range(n))
    return blob, x, y


def test_cifar10_binary_tarball_layout(tmp_path: Path) -> None:
    buf = io.BytesIO()
    planes = {}
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for i, name in enumerate([*(f"data_batch_{b}.bin" for b in range(1, 6)), "test_batch.bin"]):
            blob, x, y = _fake_cifar_records(2, i)
            planes[name] = (x, y)
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "cifar10" / "cifar-10-binary.tar.gz").write_bytes(buf.getvalue())
    ds = load_dataset("cifar10", data_dir=tmp_path, download=False)
    assert tuple(ds.x_train.shape) == (10, 3, 32, 32) and tuple(ds.x_test.shape) == (2, 3, 32, 32)
    x1, y1 = planes["data_batch_1.bin"]
    assert torch.equal(ds.x_train[:2], torch.from_numpy(x1))  # R plane is channel 0
    assert ds.y_train[:2].tolist() == y1.tolist()
    assert ds.y_test.tolist() == planes["test_batch.bin"][1].tolist()


# --- where files come from -------------------------------------------------------------------
def test_search_order_data_dir_then_env_then_system(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    explicit, env, system = tmp_path / "explicit", tmp_path / "env", tmp_path / "system"
    write_fake_mnist(explicit / "mnist", 11)
    write_fake_mnist(env / "mnist", 12, compress=False)  # plain IDX files are read too
    write_fake_mnist(system / "mnist", 13)
    monkeypatch.setattr(sources, "SYSTEM_DIRS", (system,))
    monkeypatch.setenv("ARCHSEARCH_DATA", str(env))
    assert len(load_dataset("mnist", data_dir=explicit, download=False).y_train) == 11
    assert len(load_dataset("mnist", download=False).y_train) == 12
    monkeypatch.delenv("ARCHSEARCH_DATA")
    assert len(load_dataset("mnist", download=False).y_train) == 13
    # An explicit folder may also hold the files itself.
    assert len(load_dataset("mnist", data_dir=explicit / "mnist", download=False).y_train) == 11


def test_missing_files_without_download_name_the_places(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "SYSTEM_DIRS", (tmp_path / "nothing",))
    with pytest.raises(DatasetError) as err:
        load_dataset("mnist", data_dir=tmp_path / "empty", download=False)
    text = str(err.value)
    assert "dataset 'mnist' not found" in text and str(tmp_path / "empty") in text
    assert "train-images-idx3-ubyte.gz" in text and "ARCHSEARCH_DATA" in text


def test_download_checks_the_sha256(tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(b"archsearch" * 100)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    got = download(Remote("file.bin", (src.as_uri(),), digest), tmp_path / "out")
    assert got.read_bytes() == src.read_bytes()
    with pytest.raises(DatasetError, match="checksum mismatch"):
        download(Remote("bad.bin", (src.as_uri(),), "0" * 64), tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["file.bin"]  # nothing half-kept
    with pytest.raises(DatasetError, match="could not download"):
        download(Remote("gone.bin", ((tmp_path / "gone").as_uri(),), digest), tmp_path / "out")
    with pytest.raises(DatasetError):  # a failed download leaves no empty folders behind
        download(Remote("gone.bin", ((tmp_path / "gone").as_uri(),), digest), tmp_path / "a" / "b")
    assert not (tmp_path / "a").exists()


def test_mnist_download_path_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = tmp_path / "mirror"
    write_fake_mnist(mirror, 7)
    names = [f"{n}.gz" for n in idx._FILES]
    digests = tuple(hashlib.sha256((mirror / n).read_bytes()).hexdigest() for n in names)
    monkeypatch.setattr(
        idx, "_MNIST_MIRRORS", ((tmp_path / "dead").as_uri() + "/", mirror.as_uri() + "/")
    )
    monkeypatch.setattr(idx, "_MNIST_SHA256", digests)
    monkeypatch.setattr(sources, "SYSTEM_DIRS", ())
    ds = load_dataset("mnist", data_dir=tmp_path / "data")
    assert len(ds.y_train) == 7
    assert sorted(p.name for p in (tmp_path / "data" / "mnist").iterdir()) == sorted(names)


def test_read_idx_rejects_damaged_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(DatasetError, match="not an IDX file"):
        read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(struct.pack(">HBBI", 0, 8, 1, 10) + b"\x00" * 4)
    with pytest.raises(DatasetError, match="file holds 4"):
        read_idx(short)


# --- a user's own .npz -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("shape", "expected"),
    [((6, 5, 7), (1, 5, 7)), ((6, 5, 7, 3), (3, 5, 7)), ((6, 3, 5, 7), (3, 5, 7))],
)
def test_npz_layouts(tmp_path: Path, shape: tuple[int, ...], expected: tuple[int, ...]) -> None:
    x = np.arange(np.prod(shape), dtype=np.uint8).reshape(shape)
    path = tmp_path / "mine.npz"
    np.savez(path, x=x, y=np.arange(6) % 3)
    ds = load_dataset(str(path))
    assert ds.input_shape == expected and ds.num_classes == 3 and not ds.has_test
    if len(shape) == 4 and shape[-1] == 3:  # channels-last is transposed, not reshaped
        assert torch.equal(ds.x_train[2, 1], torch.from_numpy(x[2, :, :, 1]))


def test_npz_float_images_and_test_arrays(tmp_path: Path) -> None:
    path = tmp_path / "f.npz"
    x = np.random.default_rng(0).normal(size=(8, 4, 4)).astype(np.float64)
    np.savez(path, x=x, y=np.arange(8) % 2, x_test=x[:2], y_test=np.array([0, 1]))
    ds = load_dataset("npz", path=path)
    assert ds.x_train.dtype == torch.float32 and ds.has_test and len(ds.y_test) == 2
    assert torch.equal(load_dataset(f"npz:{path}").x_train, ds.x_train)  # the CLI's spelling


def test_npz_without_test_arrays_holds_out_a_fixed_fifth(tmp_path: Path) -> None:
    path = tmp_path / "n.npz"
    y = np.arange(100) % 4
    np.savez(path, x=np.random.default_rng(0).random((100, 5, 5)), y=y)
    a, b = load_dataset(str(path), cache=False), load_dataset(str(path), cache=False)
    assert len(a.y_test) == 20 and len(a.y_train) == 80 and torch.equal(a.y_test, b.y_test)
    assert torch.bincount(a.y_test).tolist() == [5, 5, 5, 5]  # stratified


def test_npz_accepts_keras_style_names(tmp_path: Path) -> None:
    path = tmp_path / "k.npz"
    x = np.zeros((4, 6, 6), np.uint8)
    np.savez(path, x_train=x, y_train=np.arange(4), x_test=x[:1], y_test=np.array([2]))
    ds = load_dataset(str(path))
    assert len(ds.y_train) == 4 and len(ds.y_test) == 1 and ds.num_classes == 4


def test_npz_errors_are_clear(tmp_path: Path) -> None:
    path = tmp_path / "e.npz"
    np.savez(path, x=np.zeros((4, 8, 8), np.uint8))
    with pytest.raises(DatasetError, match="missing array"):
        load_dataset(str(path))
    np.savez(path, x=np.zeros((4, 8, 9, 10), np.uint8), y=np.zeros(4, np.int64))
    with pytest.raises(DatasetError, match="layout"):
        load_dataset(str(path))
    with pytest.raises(DatasetError, match="not found"):
        load_dataset(str(tmp_path / "absent.npz"))


# --- splits and transforms -------------------------------------------------------------------
def test_split_is_fixed_by_the_seed_and_recorded() -> None:
    ds = load_dataset("digits")
    a, b, c = ds.split(seed=3), ds.split(seed=3), ds.split(seed=4)
    assert torch.equal(a.train, b.train) and torch.equal(a.val, b.val)
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
    assert not torch.equal(a.val, c.val)
    both = torch.cat([a.train, a.val]).sort().values
    assert torch.equal(both, torch.arange(len(ds.y_train)))  # a partition
    per_class = torch.bincount(ds.y_train[a.val], minlength=10)
    assert int(per_class.min()) >= 13 and int(per_class.max()) <= 15  # 10 % of ~144 each
    record = a.record(with_indices=True)
    assert record["n_val"] == len(a.val) and record["val_indices"] == a.val.tolist()


def test_normalisation_uses_train_statistics() -> None:
    ds = load_dataset("digits")
    split = ds.split(seed=0)
    mean, std = ds.stats(split.train)
    x = transforms.normalize(ds.x_train[split.train], mean, std)
    assert abs(float(x.mean())) < 1e-5 and abs(float(x.std()) - 1.0) < 1e-3
    before = ds.x_train.clone()
    transforms.normalize(ds.x_train, mean, std)  # float data: normalised as a copy
    assert torch.equal(ds.x_train, before)
    u8 = torch.tensor([[[[0, 255]]]], dtype=torch.uint8)
    assert torch.equal(transforms.to_float(u8), torch.tensor([[[[0.0, 1.0]]]]))


def test_random_crop_takes_windows_of_the_padded_image() -> None:
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).view(2, 3, 6, 6) + 1
    out = transforms.random_crop(x, 2, torch.Generator().manual_seed(0))
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    assert out.shape == x.shape
    for i in range(2):
        windows = [padded[i, :, r : r + 6, c : c + 6] for r in range(5) for c in range(5)]
        assert any(torch.equal(out[i], w) for w in windows)
    assert torch.equal(transforms.random_crop(x, 0, torch.Generator()), x)


def test_augmentation_is_seeded_and_keeps_shapes() -> None:
    x = torch.randn(64, 3, 32, 32)
    a = transforms.augment(x, 4, torch.Generator().manual_seed(7))
    b = transforms.augment(x, 4, torch.Generator().manual_seed(7))
    c = transforms.augment(x, 4, torch.Generator().manual_seed(8))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)
    flipped = transforms.random_flip(x, torch.Generator().manual_seed(1))
    same = [torch.equal(flipped[i], x[i]) for i in range(64)]
    mirrored = [torch.equal(flipped[i], x[i].flip(2)) for i in range(64)]
    assert all(s or m for s, m in zip(same, mirrored, strict=True))
    assert 10 < sum(mirrored) < 54


def test_resize_for_the_resolution_fidelity() -> None:
    x = torch.rand(5, 3, 32, 32)
    assert tuple(transforms.resize(x, 16).shape) == (5, 3, 16, 16)
    assert transforms.resize(x, 32) is x
    flat = torch.full((1, 1, 8, 8), 0.25)
    assert torch.allclose(transforms.resize(flat, 4), torch.full((1, 1, 4, 4), 0.25))


def test_dataset_validates_its_arrays() -> None:
    with pytest.raises(DatasetError, match="labels"):
        Dataset("bad", torch.zeros(3, 1, 2, 2), torch.zeros(2, dtype=torch.int64))
    with pytest.raises(DatasetError, match="num_classes"):
        Dataset("bad", torch.zeros(2, 1, 2, 2), torch.tensor([0, 5]), num_classes=3)
