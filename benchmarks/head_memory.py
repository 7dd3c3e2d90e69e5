"""Peak memory of one forward + backward of BERT4Rec's output layer, per loss, on a large catalog.

Each measurement runs in a fresh Python process and reports how far one loss call raises the
process's peak resident memory (``ru_maxrss``) above what the inputs already took, so the figure is
the loss's own working memory (logits, softmax, gradients), independent of torch's import footprint.

    python benchmarks/head_memory.py --items 200000 --positions 2048 --hidden 64 --negatives 256
"""

import argparse
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

LOSSES = {
    "CE": {"loss_type": "CE"},
    "sampled_softmax/uniform": {"loss_type": "sampled_softmax", "negative_sampling": "uniform"},
    "sampled_softmax/popularity": {"loss_type": "sampled_softmax", "negative_sampling": "popularity"},
    "gBCE": {"loss_type": "gBCE", "negative_sampling": "uniform"},
}


def _peak_rss_mib():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def measure_in_this_process(loss_name, n_items, n_positions, hidden, n_negatives, seed=0):
    """Peak-RSS rise (MiB) of one loss forward + backward; call in a fresh process only."""
    import torch
    from recbole_bert4rec.losses import build_loss

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    counts = torch.arange(n_items, 0, -1)  # any popularity will do for memory
    config = {"label_smoothing": 0.0, "n_negatives": n_negatives, "negative_sampling": "uniform",
              "logq_correction": True, "gbce_t": 0.75, **LOSSES[loss_name]}
    dataset = _CountsDataset(counts)
    loss_fn = build_loss(config, dataset, n_items)
    query = torch.randn(n_positions, hidden, requires_grad=True)
    item_weight = (torch.randn(n_items, hidden) * 0.02).requires_grad_()
    item_bias = torch.zeros(n_items, requires_grad=True)
    labels = torch.randint(1, n_items, (n_positions,))
    # Gradient buffers of the inputs exist in any training step: allocate them before the baseline.
    for tensor in (query, item_weight, item_bias):
        tensor.grad = torch.zeros_like(tensor)
    baseline = _peak_rss_mib()
    loss_fn(query, labels, item_weight, item_bias).backward()
    return _peak_rss_mib() - baseline


class _CountsDataset:
    """Just enough of a RecBole dataset for ``training_item_counts``."""

    iid_field = "item_id"

    def __init__(self, counts):
        import torch
        self.inter_feat = {"item_id": torch.repeat_interleave(torch.arange(len(counts)), counts.clamp(max=3))}


def measure(loss_name, n_items, n_positions, hidden, n_negatives):
    """Run :func:`measure_in_this_process` in a child process and return its MiB figure."""
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2]);"
        "from head_memory import measure_in_this_process as m;"
        "print(json.dumps(m(sys.argv[3], *map(int, sys.argv[4:]))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, REPO, os.path.dirname(os.path.abspath(__file__)), loss_name,
         str(n_items), str(n_positions), str(hidden), str(n_negatives)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=200_000)
    ap.add_argument("--positions", type=int, default=2048, help="masked positions in the batch")
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--negatives", type=int, default=256)
    ap.add_argument("--out", default=None, help="write the figures as JSON here")
    args = ap.parse_args(argv)
    logits_mib = args.positions * args.items * 4 / 2**20
    results = {"items": args.items, "positions": args.positions, "hidden": args.hidden,
               "negatives": args.negatives, "full_logits_tensor_mib": round(logits_mib, 1), "peak_rise_mib": {}}
    for name in LOSSES:
        results["peak_rise_mib"][name] = round(measure(name, args.items, args.positions, args.hidden,
                                                       args.negatives), 1)
        print(f"{name:28s} peak rise {results['peak_rise_mib'][name]:9.1f} MiB", flush=True)
    print(f"(one float32 [positions x items] logits tensor = {logits_mib:.1f} MiB)")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
