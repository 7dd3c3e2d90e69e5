"""Scale benchmark on ML-20M-shaped data (benchmarks/make_synthetic.py): memory and speed.

``ours``: one process does what a user's run does: build the dataset and loaders, train (one epoch,
or ``--train-batches`` batches), evaluate every test user with full-sort ranking. It reports each
phase's time, samples/s (user sequences), users/s, and the peak resident memory of the whole run.
The machines are shared, so process CPU seconds (all threads) and the load average come with every
wall-clock figure.

``recbole``: RecBole 1.2.1's built-in BERT4Rec pipeline (prefix augmentation, one row per
interaction with a [rows x MAX_ITEM_LIST_LENGTH] history) builds the same kind of data at a few
scales, each in a child process under a hard address-space cap (``RLIMIT_AS``) so it cannot take
the machine down; it reports build time and peak RSS, or the stage where the cap stopped it, and a
linear extrapolation to full size.

``variants``: full softmax vs sampled softmax, float32 vs bf16 autocast, timed on the same batches.

``measure``: one measurement of either system (used by the modes above and by gpu_check.py).

    python benchmarks/make_synthetic.py --out /tmp/b4r-scale
    python benchmarks/scale.py ours --data-path /tmp/b4r-scale --out benchmarks/results/scale/ours-ml20m.json
    python benchmarks/scale.py recbole --scales 0.01 0.05 0.1 0.2 --data-path /tmp/b4r-scale \\
        --cap-gib 12 --out benchmarks/results/scale/recbole-build.json

Results are rewritten after every phase, so a run killed part-way keeps what it measured.
"""

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.dirname(os.path.abspath(__file__))
DATASET = "synthetic-ml20m"
ML20M_TRAIN_ROWS = 20_000_263 - 138_493  # RecBole's prefix rows: every interaction but each user's first

# The ML-20M setting of the paper table: hidden 64, 2 layers, 2 heads, length 200.
ARCHITECTURE = {"hidden_size": 64, "inner_size": 256, "n_layers": 2, "n_heads": 2, "MAX_ITEM_LIST_LENGTH": 200}
QUIET = {"show_progress": False, "state": "WARNING", "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
         "user_inter_num_interval": None, "item_inter_num_interval": None}


def tolerate_numpy_2():
    """RecBole 1.2.1's Config reads np.float_, np.complex_ and np.unicode_, which numpy 2 removed. The project
    pins numpy < 2; a GPU image that ships numpy 2 (see gpu_check.py) gets the old names back here."""
    import numpy as np
    for old, new in (("float_", "float64"), ("complex_", "complex128"), ("unicode_", "str_")):
        if not hasattr(np, old):
            setattr(np, old, getattr(np, new))


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def current_rss_mib():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


class Report:
    """A JSON file rewritten after each phase."""

    def __init__(self, path, **header):
        self.path = os.path.abspath(path)  # measurements run in their own temporary folder
        self.data = dict(header, load_avg_start=os.getloadavg()[0], phases={})
        self.write()

    def phase(self, name, **figures):
        figures.update(peak_rss_mib=round(peak_rss_mib(), 1), rss_mib=round(current_rss_mib(), 1),
                       load_avg=round(os.getloadavg()[0], 2))
        self.data["phases"][name] = figures
        self.write()
        print(f"{name}: {figures}", flush=True)

    def write(self):
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        with open(self.path, "w") as f:
            json.dump(self.data, f, indent=1)


class Stopwatch:
    """Wall and process-CPU seconds; waits for the GPU before reading so queued kernels count."""

    def __init__(self, device):
        import torch
        self.sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
        self.sync()
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def read(self):
        self.sync()
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def measure(args):
    """Build, then optionally train ``--train-batches`` batches (-1 = one epoch) and evaluate all test users."""
    if args.cap_gib:
        cap = int(args.cap_gib * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))  # before torch allocates anything
    report = Report(args.out, system=args.system, dataset=args.dataset, cap_gib=args.cap_gib)
    data_path = os.path.abspath(args.data_path)  # measurements run in their own temporary folder
    stage = "import"
    try:
        sys.path.insert(0, REPO)
        tolerate_numpy_2()
        import torch
        from recbole.model.sequential_recommender import BERT4Rec as RecBoleBERT4Rec
        from recbole_bert4rec.config import Config
        from recbole_bert4rec.data import create_dataset, data_preparation
        from recbole_bert4rec.model import BERT4Rec
        from recbole_bert4rec.trainer import get_trainer

        workdir = tempfile.mkdtemp(prefix="b4r-scale-")
        os.chdir(workdir)
        config_dict = dict(ARCHITECTURE, **QUIET, data_path=data_path, train_batch_size=args.batch,
                           eval_batch_size=args.eval_batch, checkpoint_dir=os.path.join(workdir, "saved"),
                           seed=2024, gpu_id="" if args.device == "cpu" else "0")
        if args.system == "ours":
            model_class = BERT4Rec
            config_dict.update(bf16_autocast=args.bf16, loss_type=args.loss_type)
        else:
            model_class = RecBoleBERT4Rec
            config_dict.update(train_neg_sample_args=None)
        report.data.update(config=config_dict, torch_threads=torch.get_num_threads(), cpu_count=os.cpu_count(),
                           device=describe_device(torch))

        stage = "load"
        start = time.perf_counter()
        config = Config(model_class, args.dataset, config_dict=config_dict)
        dataset = create_dataset(config)
        report.phase("load", seconds=round(time.perf_counter() - start, 1), interactions=len(dataset.inter_feat))
        stage = "build"
        train, valid, test = data_preparation(config, dataset)
        report.phase("build", seconds=round(time.perf_counter() - start, 1), users=dataset.user_num - 1,
                     items=dataset.item_num - 1, train_rows=len(train._dataset), train_samples=train.sample_size,
                     test_users=len(test._dataset))

        stage = "train"
        model = model_class(config, train._dataset).to(config["device"])
        trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
        if args.train_batches:
            time_training(args, config, model, trainer, train, report)
        if args.evaluate:
            stage = "evaluate"
            time_evaluation(config, trainer, test, report)
        report.data["outcome"] = "done"
    except (MemoryError, RuntimeError) as err:
        if not isinstance(err, MemoryError) and "alloc" not in str(err).lower():
            raise
        report.data["outcome"] = (f"out of memory during {stage} ({type(err).__name__}) under the "
                                  f"{args.cap_gib} GiB address-space cap")
    report.data["peak_rss_mib"] = round(peak_rss_mib(), 1)
    report.data["fits_24_gib"] = report.data["peak_rss_mib"] < 24 * 1024
    report.write()
    return report.data


def describe_device(torch):
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU x{os.cpu_count()}"


def time_training(args, config, model, trainer, train, report):
    """RecBole's Trainer._train_epoch steps (autocast as it does), timed; samples = rows the loader yields."""
    import torch

    n_batches = len(train) if args.train_batches < 0 else min(args.train_batches, len(train))
    device = config["device"]
    model.train()
    samples, clock = 0, Stopwatch(device)
    for batch_idx, batch in enumerate(itertools.islice(train, n_batches)):
        trainer.optimizer.zero_grad()
        with torch.autocast(device_type=device.type, enabled=bool(config["enable_amp"])):
            loss = model.calculate_loss(batch.to(device))
        loss.backward()
        trainer.optimizer.step()
        samples += len(batch)
        if (batch_idx + 1) % args.report_every == 0 or batch_idx + 1 == n_batches:
            wall, cpu = clock.read()
            report.phase("train", batches=batch_idx + 1, epoch_batches=len(train), samples=samples,
                         seconds=round(wall, 2), samples_per_s=round(samples / wall, 1), cpu_seconds=round(cpu, 1),
                         epoch_seconds=round(wall * len(train) / (batch_idx + 1), 1),
                         full_epoch=batch_idx + 1 == len(train), last_loss=round(loss.item(), 4),
                         **gpu_memory(device))


def time_evaluation(config, trainer, test, report):
    clock = Stopwatch(config["device"])
    result = trainer.evaluate(test, load_best_model=False)
    wall, cpu = clock.read()
    users = len(test._dataset)
    report.phase("evaluate", users=users, seconds=round(wall, 2), users_per_s=round(users / wall, 1),
                 cpu_seconds=round(cpu, 1), result={k: float(v) for k, v in result.items()},
                 **gpu_memory(config["device"]))


def gpu_memory(device):
    import torch
    if device.type != "cuda":
        return {}
    return {"gpu_peak_allocated_mib": round(torch.cuda.max_memory_allocated(device) / 2**20, 1)}


def measure_in_child(args, **overrides):
    """Run :func:`measure` in a fresh process (clean peak RSS, and a crash or cap hit stays there)."""
    options = dict(vars(args), **overrides)
    out = options["out"]
    command = [sys.executable, __file__, "measure"]
    for key in ("system", "dataset", "data_path", "batch", "eval_batch", "train_batches", "loss_type",
                "cap_gib", "device", "report_every", "out"):
        if options.get(key) is not None:
            command += [f"--{key.replace('_', '-')}", str(options[key])]
    command += ["--bf16"] * bool(options.get("bf16")) + ["--evaluate"] * bool(options.get("evaluate"))
    start = time.perf_counter()
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=options.get("timeout"))
    except subprocess.TimeoutExpired:  # run() has killed the child; keep what it wrote
        proc = subprocess.CompletedProcess(command, returncode=-9, stderr=f"timed out after {options['timeout']} s")
    try:
        with open(out) as f:
            result = json.load(f)
    except (OSError, ValueError):
        result = {}
    result.update(wall_s=round(time.perf_counter() - start, 1), returncode=proc.returncode)
    if proc.returncode and result.get("outcome") is None:
        last = proc.stderr.strip().splitlines()[-1:] or [f"signal {-proc.returncode}"]
        result["outcome"] = f"child exited {proc.returncode}: {last[0]}"
    return result


# Loss x precision settings compared by ``variants`` on the same batches.
VARIANTS = {
    "CE/fp32": {"loss_type": "CE", "bf16_autocast": False},
    "CE/bf16": {"loss_type": "CE", "bf16_autocast": True},
    "sampled_softmax/fp32": {"loss_type": "sampled_softmax", "bf16_autocast": False},
    "sampled_softmax/bf16": {"loss_type": "sampled_softmax", "bf16_autocast": True},
}


def run_variants(args):
    """Build once, then time each VARIANT on the same pre-drawn batches, alternating (A B C D A B C D ...)."""
    sys.path.insert(0, REPO)
    import statistics
    import torch
    from recbole_bert4rec.config import Config
    from recbole_bert4rec.data import create_dataset, data_preparation
    from recbole_bert4rec.model import BERT4Rec

    data_path = os.path.abspath(args.data_path)
    os.chdir(tempfile.mkdtemp(prefix="b4r-variants-"))
    config_dict = dict(ARCHITECTURE, **QUIET, data_path=data_path, train_batch_size=args.batch, seed=2024,
                       gpu_id="" if args.device == "cpu" else "0", checkpoint_dir="saved")
    report = Report(args.out, mode="variants", dataset=args.dataset, config=config_dict, repeats=args.repeats,
                    batches_per_repeat=args.train_batches, torch_threads=torch.get_num_threads())
    config = Config(BERT4Rec, args.dataset, config_dict=config_dict)
    train, _, _ = data_preparation(config, create_dataset(config))
    device = config["device"]
    batches = [batch.to(device) for batch in itertools.islice(train, args.train_batches)]
    timings = {name: {"wall": [], "cpu": []} for name in VARIANTS}
    for repeat in [None] + list(range(args.repeats)):  # round None warms every code path up, untimed
        for name, settings in VARIANTS.items():
            for key, value in settings.items():
                config[key] = value
            torch.manual_seed(repeat or 0)
            model = BERT4Rec(config, train._dataset).to(device)
            optimizer = torch.optim.Adam(model.parameters(), lr=config["learning_rate"])
            model.train()
            clock = Stopwatch(device)
            for batch in batches:
                optimizer.zero_grad()
                model.calculate_loss(batch).backward()
                optimizer.step()
            wall, cpu = clock.read()
            if repeat is None:
                continue
            timings[name]["wall"].append(wall / len(batches))
            timings[name]["cpu"].append(cpu / len(batches))
            samples = sum(len(batch) for batch in batches)
            report.phase(f"{name}/repeat{repeat}", seconds_per_batch=round(wall / len(batches), 3),
                         cpu_seconds_per_batch=round(cpu / len(batches), 3), samples_per_s=round(samples / wall, 1))
    baseline = statistics.median(timings["CE/fp32"]["wall"])
    report.data["median"] = {
        name: {"seconds_per_batch": round(statistics.median(t["wall"]), 3),
               "cpu_seconds_per_batch": round(statistics.median(t["cpu"]), 3),
               "speedup_vs_CE_fp32": round(baseline / statistics.median(t["wall"]), 2)}
        for name, t in timings.items()
    }
    report.write()
    print(json.dumps(report.data["median"], indent=1))


# ---- modes -----------------------------------------------------------------------------------
def run_ours(args):
    args.system, args.evaluate = "ours", True
    measure(args)


def run_recbole_builds(args):
    results = []
    out = args.out
    for scale in args.scales:
        name = ensure_synthetic(args.data_path, scale)
        child = measure_in_child(args, system="recbole", dataset=name, train_batches=0, evaluate=False,
                                 out=f"{out}.{scale:g}.json")
        os.unlink(f"{out}.{scale:g}.json")
        child["scale"] = scale
        results.append(child)
        with open(out, "w") as f:
            json.dump({"runs": results, "extrapolation": extrapolate(results)}, f, indent=1)
        print(json.dumps({k: child.get(k) for k in ("scale", "outcome", "peak_rss_mib", "wall_s")}), flush=True)
        if child.get("outcome") != "done":
            break  # larger scales fail too


def ensure_synthetic(data_path, scale, seed=2024):
    """``synthetic-ml20m`` at ``scale`` (1 = full) under ``data_path``; generated if missing. Returns its name."""
    name = DATASET if scale == 1 else f"{DATASET}-{scale:g}"
    if not os.path.isfile(os.path.join(data_path, name, f"{name}.inter")):
        subprocess.run([sys.executable, os.path.join(HERE, "make_synthetic.py"), "--out", data_path, "--name", name,
                        "--scale", str(scale), "--seed", str(seed)], check=True, stdout=subprocess.DEVNULL)
    return name


def extrapolate(results):
    """Least-squares line through (training rows, peak RSS / build seconds) of the built runs, at full ML-20M."""
    built = [r for r in results if r.get("outcome") == "done"]
    if len(built) < 2:
        return None
    xs = [r["phases"]["build"]["train_rows"] for r in built]

    def at_full_size(ys):
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
        return slope * ML20M_TRAIN_ROWS + my - slope * mx, slope

    rss, rss_slope = at_full_size([r["peak_rss_mib"] for r in built])
    seconds, _ = at_full_size([r["phases"]["build"]["seconds"] for r in built])
    return {
        "note": "linear extrapolation in training rows from the measured scales, not a measurement",
        "full_train_rows": ML20M_TRAIN_ROWS,
        "peak_rss_gib": round(rss / 1024, 1),
        "build_seconds": round(seconds),
        "rss_bytes_per_row": round(rss_slope * 2**20),
    }


def build_parser():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=["ours", "recbole", "measure", "variants"])
    ap.add_argument("--system", choices=["ours", "recbole"], default="ours", help="measure mode only")
    ap.add_argument("--data-path", default="/tmp/b4r-scale")
    ap.add_argument("--dataset", default=DATASET)
    ap.add_argument("--batch", type=int, default=256, help="train batch size")
    ap.add_argument("--eval-batch", type=int, default=1024, help="users per evaluation batch")
    ap.add_argument("--train-batches", type=int, default=-1, help="batches to time; -1 = one epoch, 0 = none")
    ap.add_argument("--evaluate", action="store_true", help="measure mode: full-sort evaluation of all test users")
    ap.add_argument("--bf16", action="store_true", help="ours only: bf16_autocast")
    ap.add_argument("--loss-type", default="CE")
    ap.add_argument("--device", default=None, help="cpu, or leave unset for RecBole's choice (cuda if present)")
    ap.add_argument("--report-every", type=int, default=25, help="batches between progress writes")
    ap.add_argument("--repeats", type=int, default=3, help="variants mode: rounds over all variants")
    ap.add_argument("--scales", type=float, nargs="+", default=[0.01, 0.05, 0.1, 0.2])
    ap.add_argument("--cap-gib", type=float, default=None, help="address-space cap (recbole mode: default 12)")
    ap.add_argument("--out", required=True)
    return ap


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.mode == "recbole" and args.cap_gib is None:
        args.cap_gib = 12.0
    modes = {"ours": run_ours, "recbole": run_recbole_builds, "measure": measure, "variants": run_variants}
    modes[args.mode](args)


if __name__ == "__main__":
    main()
