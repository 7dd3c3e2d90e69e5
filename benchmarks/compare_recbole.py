"""Our BERT4Rec vs RecBole 1.2.1's built-in BERT4Rec on the same data, architecture and length.

Runs the two systems alternately (A B A B ...), each in its own subprocess (clean peak-RSS reading),
each under the same wall-clock budget for training + validation, then evaluates the best
validation epoch on test. Reports median seconds per epoch, the ratio, peak memory, and test
NDCG@10 / HR@10 at the budget. Seen items stay in the ranking for BOTH systems here (RecBole's
built-in cannot remove them), so the comparison is like-for-like.

    python benchmarks/compare_recbole.py --dataset ml-100k --budget-s 600 --rounds 2 \
        --out benchmarks/results/compare-ml100k
"""

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from budget_run import REPO, run_child, train_with_budget  # noqa: E402

# The architecture both systems share (RecBole's BERT4Rec.yaml values where they differ from ours).
SHARED = {
    "hidden_size": 64, "inner_size": 256, "n_layers": 2, "n_heads": 2,
    "hidden_dropout_prob": 0.2, "attn_dropout_prob": 0.2, "hidden_act": "gelu",
    "mask_ratio": 0.2, "loss_type": "CE", "learning_rate": 0.001,
    "MAX_ITEM_LIST_LENGTH": 50, "epochs": 10_000, "stopping_step": 10_000,
    "metrics": ["Hit", "NDCG", "MRR"], "topk": [10], "valid_metric": "NDCG@10",
    "train_neg_sample_args": None, "show_progress": False, "eval_step": 1,
}
SYSTEMS = {
    "ours": {"exclude_seen_items": False},
    "recbole": {"train_batch_size": 2048},  # RecBole's default batch of prefix rows
}


def run_one(system, dataset, budget_s, data_path, result_file):
    """Child process: one system under the budget."""
    from recbole.model.sequential_recommender import BERT4Rec as RecBoleBERT4Rec

    config_dict = dict(SHARED, **SYSTEMS[system], **({"data_path": data_path} if data_path else {}))
    model = "BERT4Rec" if system == "ours" else RecBoleBERT4Rec
    train_with_budget(model, dataset, config_dict, budget_s, result_file, label=system)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--data-path", default=None)
    parser.add_argument("--budget-s", type=float, default=600)
    parser.add_argument("--rounds", type=int, default=2, help="A B pairs, alternated")
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=list(SYSTEMS))
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "results", "compare-ml100k"))
    parser.add_argument("--child", nargs=2, metavar=("SYSTEM", "RESULT_FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return run_one(args.child[0], args.dataset, args.budget_s, args.data_path, args.child[1])

    os.makedirs(args.out, exist_ok=True)
    runs = []
    for round_idx in range(args.rounds):
        order = args.systems if round_idx % 2 == 0 else args.systems[::-1]
        for system in order:
            result_file = os.path.join(args.out, f"run{round_idx}-{system}.json")
            child_args = ["--dataset", args.dataset, "--budget-s", str(args.budget_s), "--child", system, result_file]
            if args.data_path:
                child_args[:0] = ["--data-path", os.path.abspath(args.data_path)]
            print(f"round {round_idx}: {system} ...", flush=True)
            runs.append(run_child(os.path.abspath(__file__), child_args, result_file))
            print(f"  {system}: {runs[-1]['epochs']} epochs, test {runs[-1]['test']}", flush=True)
    if set(args.systems) == set(SYSTEMS):
        write_report(runs, args)


def write_report(runs, args):
    def by(system):
        return [r for r in runs if r["label"] == system]

    def median_epoch(system):
        return statistics.median(t for r in by(system) for t in r["epoch_times_s"])

    ours_s, recbole_s = median_epoch("ours"), median_epoch("recbole")
    lines = [
        f"# Our BERT4Rec vs RecBole 1.2.1 built-in BERT4Rec — {args.dataset}",
        "",
        f"Budget {args.budget_s:.0f} s wall clock per run (train + validation), {args.rounds} alternated rounds, "
        f"{runs[0]['hardware']}, {runs[0]['torch_threads']} torch thread(s) per run, seen items kept in the ranking for both.",
        "",
        "| system | run | epochs in budget | median s/epoch | peak RSS MiB | best valid NDCG@10 | test NDCG@10 | test HR@10 | load avg start/end |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for i, r in enumerate(runs):
        lines.append(
            f"| {r['label']} | {i} | {r['epochs']} | {statistics.median(r['epoch_times_s']):.2f} | "
            f"{r['peak_rss_mib']:.0f} | {r['best_valid_score']:.4f} | {r['test']['ndcg@10']:.4f} | "
            f"{r['test']['hit@10']:.4f} | {r['load_avg_start_end'][0]:.1f} / {r['load_avg_start_end'][1]:.1f} |"
        )
    lines += [
        "",
        f"Median seconds per epoch (train + validation): ours {ours_s:.2f}, RecBole {recbole_s:.2f}, "
        f"ratio {recbole_s / ours_s:.1f}x.",
        f"Median test NDCG@10 at the budget: ours {statistics.median(r['test']['ndcg@10'] for r in by('ours')):.4f}, "
        f"RecBole {statistics.median(r['test']['ndcg@10'] for r in by('recbole')):.4f}.",
    ]
    target = statistics.median(r["best_valid_score"] for r in by("recbole"))
    reached = [next((t for t, score in r["curve"] if score >= target), None) for r in by("ours")]
    lines.append(
        f"Wall time for ours to first reach RecBole's median best validation NDCG@10 ({target:.4f}): "
        + ", ".join("not reached" if t is None else f"{t:.0f} s" for t in reached)
        + f" (RecBole: {statistics.median(r['train_s'] for r in by('recbole')):.0f} s of training)."
    )
    with open(os.path.join(args.out, "report.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
