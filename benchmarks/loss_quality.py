"""ML-1M quality of the large-catalog losses and of bf16 autocast next to full softmax, on a fixed epoch budget.

Same protocol as benchmarks/ml1m.py (properties/dataset/ml-1m.yaml: 5-core, leave-one-out, full ranking
with seen items removed, best epoch on validation NDCG@10), same seed, same number of epochs for every
setting. A short budget says which settings learn as fast as full softmax, not where they converge.

    python benchmarks/loss_quality.py --epochs 10 --out benchmarks/results/losses-ml1m
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from budget_run import REPO, run_child, train_with_budget  # noqa: E402
from scale import ARCHITECTURE  # noqa: E402

SETTINGS = {
    "CE/fp32": {"loss_type": "CE"},
    "CE/bf16": {"loss_type": "CE", "bf16_autocast": True},
    "sampled_softmax-uniform/fp32": {"loss_type": "sampled_softmax", "negative_sampling": "uniform",
                                     "n_negatives": 256},
    "sampled_softmax-popularity/fp32": {"loss_type": "sampled_softmax", "negative_sampling": "popularity",
                                        "n_negatives": 256},
    "gBCE/fp32": {"loss_type": "gBCE", "negative_sampling": "uniform", "n_negatives": 256, "gbce_t": 0.75},
}


def file_name(setting):
    return setting.replace("/", "-") + ".json"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data-path", default=os.path.join(os.path.dirname(REPO), "shared", "data"))
    ap.add_argument("--out", default=os.path.join(REPO, "benchmarks", "results", "losses-ml1m"))
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        config = dict(ARCHITECTURE, **SETTINGS[args.child], epochs=args.epochs, stopping_step=args.epochs,
                      seed=args.seed, data_path=args.data_path, show_progress=False, eval_batch_size=512)
        return train_with_budget("BERT4Rec", "ml-1m", config, float("inf"),
                                 os.path.join(args.out, file_name(args.child)), label=args.child)
    os.makedirs(args.out, exist_ok=True)
    for setting in args.settings:
        result_file = os.path.join(args.out, file_name(setting))
        if os.path.exists(result_file):
            print(f"skip {setting} (done)")
            continue
        result = run_child(os.path.abspath(__file__), [
            "--epochs", str(args.epochs), "--seed", str(args.seed), "--data-path", args.data_path,
            "--out", args.out, "--child", setting], result_file)
        print(f"{setting}: test NDCG@10 {result['test']['ndcg@10']:.4f} HR@10 {result['test']['hit@10']:.4f}, "
              f"{result['train_s']:.0f} s", flush=True)
    write_table(args.out, args.epochs)


def write_table(out, epochs):
    rows = []
    for setting in SETTINGS:
        path = os.path.join(out, file_name(setting))
        if os.path.exists(path):
            with open(path) as f:
                rows.append(json.load(f))
    lines = [f"# ML-1M, {epochs} epochs per setting (fixed budget, seed {rows[0]['seed'] if rows else '?'})", "",
             "| setting | test NDCG@10 | test HR@10 | best valid NDCG@10 | best epoch | train s | s/epoch | load avg |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        lines.append(f"| {r['label']} | {r['test']['ndcg@10']:.4f} | {r['test']['hit@10']:.4f} | "
                     f"{r['best_valid_score']:.4f} | {r['best_epoch']} | {r['train_s']:.0f} | "
                     f"{r['train_s'] / max(r['epochs'], 1):.0f} | "
                     f"{r['load_avg_start_end'][0]:.1f}-{r['load_avg_start_end'][1]:.1f} |")
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
