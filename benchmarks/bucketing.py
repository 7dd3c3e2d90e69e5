"""Side by side in one process: training epoch and full-sort evaluation time with and without
length bucketing, on ML-1M (or any atomic dataset), rounds alternated (A B A B), medians and ratios.

    OMP_NUM_THREADS=1 python benchmarks/bucketing.py --rounds 2 --out benchmarks/results/bucketing-ml1m.json

train: one epoch with ``length_bucket_batches`` 0 (plain shuffle, every batch as wide as its longest user)
vs 16 (users sorted by length within pools of 16 batches). eval: full-sort validation with rows in
user order vs ordered by history length (our dataset's order). Both cut each batch to its real width.
"""

import argparse
import json
import os
import statistics
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from budget_run import hardware  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="ml-1m")
    parser.add_argument("--data-path", default=os.path.join(os.path.dirname(os.path.dirname(HERE)), "shared", "data"))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pool-batches", type=int, default=16)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    args.out = os.path.abspath(args.out)  # RecBole writes log/ and saved/ into the working directory

    from recbole_bert4rec import prepare
    os.makedirs("/tmp/bucketing-bench", exist_ok=True)
    os.chdir("/tmp/bucketing-bench")
    config, model, trainer, (train, valid, _) = prepare("BERT4Rec", args.dataset, config_dict={
        "data_path": args.data_path, "show_progress": False, "seed": 1, "length_bucket_batches": 0,
        "checkpoint_dir": "/tmp/bucketing-bench/saved"})
    by_length = valid._dataset.inter_feat
    by_user = by_length[torch.sort(by_length[config["USER_ID_FIELD"]], stable=True).indices]

    def train_epoch(pool_batches):
        train.bucket_batches = pool_batches
        start = time.perf_counter()
        trainer._train_epoch(train, 0, show_progress=False)
        return time.perf_counter() - start

    def evaluate(rows):
        valid._dataset.inter_feat = rows
        start = time.perf_counter()
        result = trainer.evaluate(valid, load_best_model=False, show_progress=False)
        return time.perf_counter() - start, float(result["ndcg@10"])

    times = {"train_plain": [], "train_bucketed": [], "eval_user_order": [], "eval_length_order": []}
    ndcg = {}
    for _ in range(args.rounds):
        times["train_plain"].append(train_epoch(0))
        times["train_bucketed"].append(train_epoch(args.pool_batches))
        t, ndcg["user_order"] = evaluate(by_user)
        times["eval_user_order"].append(t)
        t, ndcg["length_order"] = evaluate(by_length)
        times["eval_length_order"].append(t)
        print({k: round(v[-1], 2) for k, v in times.items()}, flush=True)
    valid._dataset.inter_feat = by_length
    medians = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "dataset": args.dataset, "rounds": args.rounds, "pool_batches": args.pool_batches,
        "hardware": hardware(), "torch_threads": torch.get_num_threads(), "load_avg_end": os.getloadavg()[0],
        "seconds": times, "median_s": medians,
        "train_speedup": medians["train_plain"] / medians["train_bucketed"],
        "eval_speedup": medians["eval_user_order"] / medians["eval_length_order"],
        "valid_ndcg@10_same_model": ndcg,  # row order must not change the metric
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps({k: result[k] for k in ("median_s", "train_speedup", "eval_speedup", "valid_ndcg@10_same_model")}))


if __name__ == "__main__":
    main()
