"""Generate an ML-20M-shaped synthetic dataset as RecBole atomic files.

Writes ``<out>/<name>/<name>.inter`` (``user_id:token``, ``item_id:token``,
``timestamp:float``) with exactly the requested numbers of users and
interactions, for scale benchmarks where the real MovieLens-20M cannot be
shipped or downloaded.

Shape, fitted to ML-20M (138,493 users, 26,744 items, 20,000,263 ratings):

* user sequence lengths: ``min_len`` plus a log-normal (median 48, mean 124,
  i.e. ML-20M's 68 / 144 minus the floor of 20), truncated at 35% of the
  catalogue (ML-20M's heaviest user rated 9,254 of 26,744 movies) and then
  rescaled so the total is hit exactly;
* item popularity: Zipf-Mandelbrot, p(rank r) ~ (r + 0.0112 * n_items) ** -2.5.
  Because a user can pick an item only once, a plain Zipf(1) saturates: the
  top items land in nearly every user (~137k) and even the rarest item gets
  ~100. The flattened head / steep tail reproduces ML-20M's counts instead
  (top item ~55k vs 67k, median item ~20 vs 18, tail a handful);
* items of a user are a weighted sample without replacement (successive
  sampling) in random time order; timestamps are positions 0..n-1.

Every item is placed once up front ("coverage seeds") so all ``n_items``
appear in the file, as in ML-20M (skipped if n_items > n_interactions).

Usage:
    python benchmarks/make_synthetic.py --out DIR [--name synthetic-ml20m]
        [--users N --items N --interactions N] [--scale F] [--seed S]
"""

import argparse
import os
import resource
import sys
import time

import numpy as np

ML20M_USERS = 138_493
ML20M_ITEMS = 26_744
ML20M_INTERACTIONS = 20_000_263

MIN_LEN = 20
# Log-normal of (length - MIN_LEN): median 48 and mean 124 as in ML-20M.
_LEN_MU = np.log(48.0)
_LEN_SIGMA = np.sqrt(2.0 * np.log(124.0 / 48.0))
_MAX_LEN_FRAC = 9_254 / ML20M_ITEMS
ZIPF_EXPONENT = 2.5
ZIPF_OFFSET_FRAC = 0.0112

HEADER = b"user_id:token\titem_id:token\ttimestamp:float\n"
_TAKEN_BYTES = 64 << 20  # per-chunk user x item "already picked" bitmap
_CHUNK_INTERACTIONS = 1_000_000
_MAX_ROUNDS = 8


def user_lengths(rng, n_users, n_items, n_interactions, min_len=MIN_LEN):
    """Integer lengths in [floor, n_items] summing exactly to n_interactions.

    The floor is ``min(min_len, n_interactions // n_users, n_items)``: when the
    total is too small for every user to get ``min_len`` the floor drops.
    Returns (lengths, floor).
    """
    if n_users < 1 or n_items < 1:
        raise ValueError("need at least one user and one item")
    if not n_users <= n_interactions <= n_users * n_items:
        raise ValueError("need n_users <= n_interactions <= n_users * n_items")
    lo = min(min_len, n_interactions // n_users, n_items)
    room = n_items - lo
    extra = n_interactions - n_users * lo
    if room == 0 or extra == 0:
        return np.full(n_users, lo, np.int64), lo

    # Truncate by resampling rather than clipping, so no spike at the cap.
    soft_cap = max(_MAX_LEN_FRAC * n_items - lo, 1.0)
    x = rng.lognormal(_LEN_MU, _LEN_SIGMA, n_users)
    bad = np.flatnonzero(x > soft_cap)
    while bad.size:
        x[bad] = rng.lognormal(_LEN_MU, _LEN_SIGMA, bad.size)
        bad = bad[x[bad] > soft_cap]

    # Scale to the target; users that overflow the catalogue are pinned at it
    # and the rest rescaled (water-filling).
    f = np.zeros(n_users)
    free = np.ones(n_users, bool)
    while free.any():
        budget = extra - room * (n_users - free.sum())
        f[free] = x[free] * (budget / x[free].sum())
        over = free & (f >= room)
        if not over.any():
            break
        f[over] = room
        free &= ~over
    f = np.minimum(f, room)
    extra_int = np.floor(f).astype(np.int64)
    # Hand out the rounding remainder to the largest fractional parts.
    short = extra - int(extra_int.sum())
    order = np.argsort(extra_int - f, kind="stable")
    order = order[extra_int[order] < room][:short]
    assert order.size == short
    extra_int[order] += 1
    return lo + extra_int, lo


def popularity(n_items, exponent=ZIPF_EXPONENT, offset_frac=ZIPF_OFFSET_FRAC):
    """Sampling weights by popularity rank (index 0 = most popular)."""
    w = (np.arange(1, n_items + 1) + offset_frac * n_items) ** -exponent
    return w / w.sum()


def _sample_chunk(rng, need, seed_u, seed_r, p, cdf, cost):
    """Pick need[u] distinct item ranks per local user u, weighted by p.

    Successive sampling (draw from p, skip already-picked items). Most users
    do it by rejection in vectorised rounds: each draws a batch sized by its
    unpicked probability mass and keeps the first new distinct items in draw
    order, which is exactly the one-at-a-time process. Users whose expected
    number of draws exceeds the catalogue size (heavy users, who exhaust the
    popular head), and any still short after _MAX_ROUNDS, instead take the
    Gumbel-top-k of their unpicked items, which is the same distribution at
    O(n_items) cost.
    """
    n_items = p.size
    nu = need.size
    heavy = cost[need - 1] > n_items
    need = need.copy()
    taken = np.zeros((nu, n_items), bool)
    flat = taken.reshape(-1)
    flat[seed_u * n_items + seed_r] = True
    need -= np.bincount(seed_u, minlength=nu)
    used = np.bincount(seed_u, weights=p[seed_r], minlength=nu).astype(float)
    parts_u, parts_r = [seed_u], [seed_r]

    for _ in range(_MAX_ROUNDS):
        act = np.flatnonzero((need > 0) & ~heavy)
        if act.size == 0:
            break
        free_mass = np.maximum(1.0 - used[act], 1e-9)
        draws = np.ceil(need[act] * 1.1 / free_mass).astype(np.int64) + 2
        u = np.repeat(act, np.minimum(draws, 2 * n_items))
        r = np.minimum(np.searchsorted(cdf, rng.random(u.size), side="right"),
                       n_items - 1)
        key = u * n_items + r
        fresh = np.flatnonzero(~flat[key])
        _, first = np.unique(key[fresh], return_index=True)
        pos = fresh[np.sort(first)]
        uu = u[pos]  # non-decreasing, as u is
        cnt = np.bincount(uu, minlength=nu)
        rank = np.arange(uu.size) - (np.cumsum(cnt) - cnt)[uu]
        pos = pos[rank < need[uu]]
        ku, kr = u[pos], r[pos]
        flat[ku * n_items + kr] = True
        need -= np.bincount(ku, minlength=nu)
        used += np.bincount(ku, weights=p[kr], minlength=nu)
        parts_u.append(ku)
        parts_r.append(kr)

    logp = np.log(p)
    rest = np.flatnonzero(need > 0)
    rows = max(1, (4 << 20) // n_items)  # ~32 MiB of keys per batch
    for i in range(0, rest.size, rows):
        us = rest[i:i + rows]
        g = logp + rng.gumbel(size=(us.size, n_items))
        g[taken[us]] = -np.inf
        k = need[us]
        top = np.argsort(-g, axis=1)[:, :k.max()]
        sel = np.arange(top.shape[1]) < k[:, None]
        parts_u.append(np.repeat(us, k))
        parts_r.append(top[sel])

    u = np.concatenate(parts_u)
    r = np.concatenate(parts_r)
    # Random time order within each user, users in ascending order.
    order = np.lexsort((rng.random(u.size), u))
    u, r = u[order], r[order]
    cnt = np.bincount(u, minlength=nu)
    ts = np.arange(u.size) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    return u, r, ts


_POW10 = 10 ** np.arange(19, dtype=np.int64)


def _format_rows(cols):
    """Tab-separated decimal lines for equal-length non-negative int arrays.

    Vectorised digit writing: ~10x faster than np.savetxt / pandas.to_csv,
    which dominate run time otherwise.
    """
    nds = [np.maximum(np.searchsorted(_POW10, c, side="right"), 1) for c in cols]
    row_len = sum(nds) + len(cols)
    pos = np.cumsum(row_len) - row_len
    buf = np.empty(int(row_len.sum()), np.uint8)
    for j, (c, nd) in enumerate(zip(cols, nds)):
        v = c.astype(np.int64)
        last = pos + nd - 1
        for k in range(int(nd.max())):
            m = np.flatnonzero(nd > k)
            buf[last[m] - k] = 48 + v[m] % 10
            v //= 10
        pos = pos + nd
        buf[pos] = 9 if j < len(cols) - 1 else 10
        pos += 1
    return buf.tobytes()


def _chunks(lengths, n_items):
    """Contiguous user ranges bounded in users (bitmap) and interactions."""
    max_users = max(1, _TAKEN_BYTES // n_items)
    start, n = 0, lengths.size
    csum = np.concatenate([[0], np.cumsum(lengths)])
    while start < n:
        end = int(np.searchsorted(csum, csum[start] + _CHUNK_INTERACTIONS,
                                  side="right")) - 1
        end = min(max(end, start + 1), start + max_users, n)
        yield start, end
        start = end


def generate(out_dir, name, n_users=ML20M_USERS, n_items=ML20M_ITEMS,
             n_interactions=ML20M_INTERACTIONS, seed=2024, min_len=MIN_LEN):
    """Write <out_dir>/<name>/<name>.inter and return summary stats."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    lengths, floor = user_lengths(rng, n_users, n_items, n_interactions, min_len)
    p = popularity(n_items)
    cdf = np.cumsum(p)
    cdf[-1] = 1.0
    # cost[k-1]: expected rejection draws to pick k items when the popular
    # ones go first, i.e. sum of 1 / (unpicked mass).
    cost = np.cumsum(1.0 / np.maximum(1.0 - np.concatenate([[0.0], cdf[:-1]]),
                                      1e-12))
    # Item ids are a random relabelling of popularity ranks.
    rank_to_item = rng.permutation(n_items) + 1

    # Coverage seeds: item rank i goes to the user owning a distinct random
    # slot of the flattened interaction list, so no user exceeds its length.
    if n_items <= n_interactions:
        slots = rng.choice(n_interactions, size=n_items, replace=False)
        seed_user = np.searchsorted(np.cumsum(lengths), slots, side="right")
        seed_rank = np.arange(n_items)
        order = np.argsort(seed_user, kind="stable")
        seed_user, seed_rank = seed_user[order], seed_rank[order]
    else:
        seed_user = seed_rank = np.zeros(0, np.int64)

    path_dir = os.path.join(out_dir, name)
    os.makedirs(path_dir, exist_ok=True)
    path = os.path.join(path_dir, name + ".inter")
    tmp = path + ".tmp.%d" % os.getpid()
    item_counts = np.zeros(n_items, np.int64)
    written = 0
    try:
        with open(tmp, "wb") as fh:
            fh.write(HEADER)
            for a, b in _chunks(lengths, n_items):
                s0, s1 = np.searchsorted(seed_user, [a, b])
                u, r, ts = _sample_chunk(rng, lengths[a:b], seed_user[s0:s1] - a,
                                         seed_rank[s0:s1], p, cdf, cost)
                item_counts += np.bincount(r, minlength=n_items)
                written += u.size
                fh.write(_format_rows([u + a + 1, rank_to_item[r], ts]))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    assert written == n_interactions

    return {
        "path": path,
        "n_users": int(n_users),
        "n_items": int(n_items),
        "n_items_used": int(np.count_nonzero(item_counts)),
        "n_interactions": int(written),
        "min_len_floor": int(floor),
        "len_min": int(lengths.min()),
        "len_median": float(np.median(lengths)),
        "len_mean": float(lengths.mean()),
        "len_max": int(lengths.max()),
        "top_item_count": int(item_counts.max()),
        "median_item_count": float(np.median(item_counts)),
        "min_item_count": int(item_counts.min()),
        "file_bytes": os.path.getsize(path),
        "elapsed_s": time.perf_counter() - t0,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="output root directory")
    ap.add_argument("--name", default="synthetic-ml20m")
    ap.add_argument("--users", type=int, default=ML20M_USERS)
    ap.add_argument("--items", type=int, default=ML20M_ITEMS)
    ap.add_argument("--interactions", type=int, default=ML20M_INTERACTIONS)
    ap.add_argument("--scale", type=float, default=None,
                    help="shrink users/items/interactions by this factor (items kept "
                         ">= max(100, 2 x mean length)); overrides the three counts")
    ap.add_argument("--min-len", type=int, default=MIN_LEN)
    ap.add_argument("--seed", type=int, default=2024)
    args = ap.parse_args(argv)
    if args.scale is not None:
        args.users = max(1, round(ML20M_USERS * args.scale))
        args.interactions = max(args.users, round(ML20M_INTERACTIONS * args.scale))
        # Below ~1% the mean length (144) would approach the catalogue size;
        # keep the catalogue at least twice the mean so data stays sparse.
        mean_len = -(-args.interactions // args.users)
        args.items = max(100, 2 * mean_len, round(ML20M_ITEMS * args.scale))

    s = generate(args.out, args.name, args.users, args.items,
                 args.interactions, args.seed, args.min_len)
    # ru_maxrss is KiB on Linux, bytes on macOS.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss_mib = rss / (1 << 20) if sys.platform == "darwin" else rss / 1024
    print("wrote %s (%.1f MiB)" % (s["path"], s["file_bytes"] / (1 << 20)))
    print("users %d  items %d (used %d)  interactions %d"
          % (s["n_users"], s["n_items"], s["n_items_used"], s["n_interactions"]))
    print("user length min %d  median %.0f  mean %.1f  max %d  (floor %d)"
          % (s["len_min"], s["len_median"], s["len_mean"], s["len_max"],
             s["min_len_floor"]))
    print("item count top %d  median %.0f  min %d"
          % (s["top_item_count"], s["median_item_count"], s["min_item_count"]))
    print("peak RSS %.0f MiB  elapsed %.1f s" % (rss_mib, s["elapsed_s"]))
    return s


if __name__ == "__main__":
    main()
