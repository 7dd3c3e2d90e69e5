"""benchmarks/make_synthetic.py: exact counts, no repeats, ML-20M-like shape."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "make_synthetic.py"


@pytest.fixture(scope="module")
def ms():
    # benchmarks/ is not a package: load the script by path.
    spec = importlib.util.spec_from_file_location("make_synthetic", _PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _read(path):
    with open(path) as fh:
        header = fh.readline().rstrip("\n")
    data = np.loadtxt(path, dtype=np.int64, delimiter="\t", skiprows=1, ndmin=2)
    return header, data[:, 0], data[:, 1], data[:, 2]


def _check(stats, n_users, n_items, n_inter, min_len):
    header, u, i, t = _read(stats["path"])
    assert header == "user_id:token\titem_id:token\ttimestamp:float"
    assert u.size == n_inter == stats["n_interactions"]
    assert np.array_equal(np.unique(u), np.arange(1, n_users + 1))
    assert i.min() >= 1 and i.max() <= n_items
    # Every item shows up (coverage seeds), as in ML-20M.
    assert np.unique(i).size == n_items == stats["n_items_used"]
    assert np.unique(u * (n_items + 1) + i).size == u.size, "repeated (user, item)"
    assert np.all(np.diff(u) >= 0), "rows grouped by user"
    lengths = np.bincount(u)[1:]
    assert lengths.min() >= min_len
    assert lengths.min() == stats["len_min"] and lengths.max() == stats["len_max"]
    starts = np.cumsum(lengths) - lengths
    assert np.array_equal(t, np.arange(u.size) - np.repeat(starts, lengths))
    return u, i


def test_tiny_dataset(ms, tmp_path):
    s = ms.generate(str(tmp_path), "tiny", 200, 300, 8000, seed=7)
    assert s["path"] == str(tmp_path / "tiny" / "tiny.inter")
    _, i = _check(s, 200, 300, 8000, 20)
    counts = np.bincount(i)[1:]
    assert counts.max() == s["top_item_count"]
    assert counts.max() >= 10 * np.median(counts), "popularity should be skewed"
    assert not list(tmp_path.glob("tiny/*.tmp.*")), "temp file left behind"


def test_deterministic_per_seed(ms, tmp_path):
    a = ms.generate(str(tmp_path / "a"), "d", 120, 150, 5000, seed=3)
    b = ms.generate(str(tmp_path / "b"), "d", 120, 150, 5000, seed=3)
    c = ms.generate(str(tmp_path / "c"), "d", 120, 150, 5000, seed=4)
    data = [Path(x["path"]).read_bytes() for x in (a, b, c)]
    assert data[0] == data[1]
    assert data[0] != data[2]


def test_heavy_users_and_small_totals(ms, tmp_path):
    # Mean length 90% of the catalogue: exercises the Gumbel path.
    s = ms.generate(str(tmp_path), "dense", 50, 100, 4500, seed=1)
    _check(s, 50, 100, 4500, 20)
    # Too few interactions for 20 each: the floor drops to total // users.
    s = ms.generate(str(tmp_path), "sparse", 100, 200, 1050, seed=1)
    assert s["min_len_floor"] == 10
    _check(s, 100, 200, 1050, 10)
    # min_len is a parameter.
    s = ms.generate(str(tmp_path), "min5", 100, 200, 3000, seed=1, min_len=5)
    assert s["min_len_floor"] == 5
    _check(s, 100, 200, 3000, 5)


def test_lengths_exact_and_heavy_tailed(ms):
    rng = np.random.default_rng(0)
    lengths, floor = ms.user_lengths(rng, 20_000, 5_000, 20_000 * 144)
    assert floor == 20 and lengths.sum() == 20_000 * 144
    assert lengths.min() >= 20 and lengths.max() <= 5_000
    assert np.median(lengths) < 0.6 * lengths.mean()  # ML-20M: 68 vs 144
    with pytest.raises(ValueError):
        ms.user_lengths(rng, 10, 5, 51)


def test_cli_scale(ms, tmp_path, capsys):
    s = ms.main(["--out", str(tmp_path), "--name", "cli", "--scale", "0.002",
                 "--seed", "5"])
    assert s["n_users"] == round(ms.ML20M_USERS * 0.002)
    # Catalogue kept at twice the mean length (ceil(40001 / 277) = 145).
    assert s["n_items"] == 290
    assert s["n_interactions"] == round(ms.ML20M_INTERACTIONS * 0.002)
    out = capsys.readouterr().out
    assert "peak RSS" in out and "top" in out and "median" in out


def test_rejection_and_gumbel_paths_agree(ms):
    # Both samplers claim exact successive sampling: per-item inclusion rates
    # must match within binomial noise.
    n_users, n_items, k = 20_000, 50, 10
    p = ms.popularity(n_items)
    cdf = np.cumsum(p)
    cdf[-1] = 1.0
    need = np.full(n_users, k)
    none = np.zeros(0, np.int64)
    rates = []
    for cost in (np.zeros(n_items), np.full(n_items, np.inf)):
        u, r, t = ms._sample_chunk(np.random.default_rng(0), need, none, none,
                                   p, cdf, cost)
        assert u.size == n_users * k
        assert np.unique(u * n_items + r).size == u.size
        rates.append(np.bincount(r, minlength=n_items) / n_users)
    sd = np.sqrt(rates[0] * (1 - rates[0]) * 2 / n_users) + 1e-9
    assert np.all(np.abs(rates[0] - rates[1]) < 5 * sd + 1e-3)
    assert rates[0][0] > 0.5 and rates[0][-1] < 0.2  # skewed, not uniform


def test_larger_catalogue(ms, tmp_path):
    # Light users in a big catalogue take the rejection path.
    s = ms.generate(str(tmp_path), "wide", 300, 3000, 12_000, seed=2)
    _check(s, 300, 3000, 12_000, 20)
