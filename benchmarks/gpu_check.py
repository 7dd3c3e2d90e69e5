"""Device check: epoch time and samples/s of our BERT4Rec (float32 and bf16 autocast) on ML-1M and the
synthetic ML-20M, full-sort evaluation users/s, and the speed-up over RecBole's built-in BERT4Rec.

Every measurement is one child of benchmarks/scale.py (``measure`` mode), with a timeout, and the JSON
is rewritten after each one, so a session that runs out of device time keeps what it measured.

Ours trains one full epoch (one sample per user). RecBole's built-in trains on one row per prefix, so
its epoch is timed on ``--recbole-batches`` batches and extrapolated to all rows (said in the output);
on ML-20M its data is built at ``--recbole-scale`` of full size (its prefix augmentation needs tens of
GB and minutes of Python at full size) and the epoch time is extrapolated to the full row count.

On a GPU machine (ML-1M is not in the repository: copy it into an ignored folder and carry it):
    mkdir -p saved/gpu-data && cp -r ../shared/data/ml-1m saved/gpu-data/
    python benchmarks/gpu_check.py --ml1m-path saved/gpu-data --out benchmarks/results/scale/gpu-check.json
CPU smoke test of every code path (tiny synthetic data, a few batches):
    python benchmarks/gpu_check.py --device cpu --smoke --out /tmp/gpu-check-smoke.json
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import scale  # noqa: E402  (benchmarks/ is a folder of scripts, not a package)


def environment(device):
    import torch
    info = {"torch": torch.__version__, "device": device or ("cuda" if torch.cuda.is_available() else "cpu")}
    if torch.cuda.is_available() and device != "cpu":
        info.update(gpu=torch.cuda.get_device_name(0), bf16_supported=torch.cuda.is_bf16_supported(),
                    capability=".".join(map(str, torch.cuda.get_device_capability(0))),
                    flash_sdp=torch.backends.cuda.flash_sdp_enabled(),
                    mem_efficient_sdp=torch.backends.cuda.mem_efficient_sdp_enabled())
    else:
        info.update(cpu_count=os.cpu_count(), cpu_capability=torch.backends.cpu.get_cpu_capability())
    return info


def plan(args):
    """(label, dataset, data_path, overrides, full-size rows for RecBole's extrapolation or None)."""
    runs = []
    if args.smoke:
        tiny = scale.ensure_synthetic(args.synthetic_path, args.smoke_scale)
        datasets = [("synthetic-smoke", tiny, args.synthetic_path, tiny, None)]
    else:
        full = scale.ensure_synthetic(args.synthetic_path, 1)
        part = scale.ensure_synthetic(args.synthetic_path, args.recbole_scale)
        datasets = [("synthetic-ml20m", full, args.synthetic_path, part, scale.ML20M_TRAIN_ROWS)]
    if args.ml1m_path:
        datasets.insert(0, ("ml-1m", "ml-1m", args.ml1m_path, "ml-1m", None))
    our_batches = args.smoke_batches if args.smoke else -1
    for label, ours_name, path, recbole_name, full_rows in datasets:
        for bf16 in (False, True):
            runs.append((f"{label}/ours/{'bf16' if bf16 else 'fp32'}", dict(
                system="ours", dataset=ours_name, data_path=path, bf16=bf16, train_batches=our_batches,
                evaluate=True, batch=args.batch)))
        runs.append((f"{label}/recbole/fp32", dict(
            system="recbole", dataset=recbole_name, data_path=path, train_batches=args.recbole_batches,
            evaluate=False, batch=args.recbole_batch, full_rows=full_rows)))
    return runs


def summarise(results):
    """Per dataset: epoch seconds of each run and RecBole / ours ratios."""
    table = {}
    for label, result in results.items():
        dataset, system, precision = label.split("/")
        train = result.get("phases", {}).get("train")
        if not train:
            continue
        epoch_s = train["epoch_seconds"]
        row = {"epoch_s": epoch_s, "samples_per_s": train["samples_per_s"], "timed_batches": train["batches"],
               "epoch_batches": train["epoch_batches"], "extrapolated": not train["full_epoch"]}
        full_rows = result.get("full_rows")
        if full_rows:  # RecBole's rows at full size / rows at the measured scale
            row["epoch_s"] = round(epoch_s * full_rows / result["phases"]["build"]["train_rows"], 1)
            row["extrapolated_to_full_rows"] = full_rows
        evaluate = result.get("phases", {}).get("evaluate")
        if evaluate:
            row["eval_users_per_s"] = evaluate["users_per_s"]
        if "gpu_peak_allocated_mib" in train:
            row["gpu_peak_allocated_mib"] = train["gpu_peak_allocated_mib"]
        table.setdefault(dataset, {})[f"{system}/{precision}"] = row
    for rows in table.values():
        recbole = rows.get("recbole/fp32")
        for key, row in rows.items():
            if recbole and key.startswith("ours"):
                row["speedup_vs_recbole"] = round(recbole["epoch_s"] / row["epoch_s"], 1)
    return table


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default=None, help="cpu to force the CPU; default: RecBole's choice (cuda)")
    ap.add_argument("--ml1m-path", default=None, help="data_path holding ml-1m/ (skipped if not given)")
    ap.add_argument("--synthetic-path", default="/tmp/b4r-scale", help="where synthetic data is kept/generated")
    ap.add_argument("--batch", type=int, default=256, help="our train batch (user sequences)")
    ap.add_argument("--recbole-batch", type=int, default=2048, help="RecBole's train batch (rows; its default)")
    ap.add_argument("--recbole-batches", type=int, default=30, help="RecBole batches timed per dataset")
    ap.add_argument("--recbole-scale", type=float, default=0.1, help="size of RecBole's ML-20M data vs full")
    ap.add_argument("--timeout-s", type=float, default=240, help="per measurement")
    ap.add_argument("--budget-s", type=float, default=540, help="stop starting measurements after this")
    ap.add_argument("--smoke", action="store_true", help="tiny synthetic data, a few batches (CPU check)")
    ap.add_argument("--smoke-scale", type=float, default=0.002)
    ap.add_argument("--smoke-batches", type=int, default=2)
    args = ap.parse_args(argv)
    if args.smoke:
        args.recbole_batches, args.recbole_batch = args.smoke_batches, min(args.recbole_batch, 64)

    start = time.perf_counter()
    report = {"environment": environment(args.device), "command": sys.argv, "runs": {}, "summary": {}}
    defaults = vars(scale.build_parser().parse_args(["measure", "--out", "unused"]))
    for label, options in plan(args):
        if time.perf_counter() - start > args.budget_s:
            report["runs"][label] = {"outcome": "skipped: budget spent"}
            continue
        full_rows = options.pop("full_rows", None)
        child_out = f"{args.out}.child.json"
        result = scale.measure_in_child(argparse.Namespace(**defaults), **options, device=args.device,
                                        out=child_out, timeout=args.timeout_s)
        if os.path.exists(child_out):
            os.unlink(child_out)
        result["full_rows"] = full_rows
        report["runs"][label] = result
        report["summary"] = summarise(report["runs"])
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)
        print(f"{label}: {result.get('outcome')} {json.dumps(result.get('phases', {}).get('train', {}))}", flush=True)
    print(json.dumps(report["summary"], indent=1))


if __name__ == "__main__":
    main()
