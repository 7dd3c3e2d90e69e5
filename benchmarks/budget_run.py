"""One training run under a wall-clock budget, in a child process: the building block of the benchmarks.

The child trains with our plugin's pipeline (any model name or class) and stops at the budget: after
the first validation past it, or inside an epoch that is still running at the budget (RecBole's
prefix-row models can need hours per epoch), in which case the partly trained model is validated
too. It then tests the best validated model and writes a JSON result with the validation curve
(seconds since start, valid score), epochs trained (fractional for a cut epoch) and peak RSS.
"""

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class BudgetReached(Exception):
    def __init__(self, mid_epoch=False):
        super().__init__("wall-clock budget reached" + (" inside an epoch" if mid_epoch else ""))
        self.mid_epoch = mid_epoch


def hardware():
    if torch.cuda.is_available():
        return f"GPU {torch.cuda.get_device_name(0)}"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} CPU cores ({cpu})"


def resolved_settings(config):
    """The final config as plain JSON values (paths and the device left out: they name this machine)."""
    machine_specific = {"data_path", "checkpoint_dir", "device", "gpu_id", "local_rank", "dataset_save_path"}
    settings = {}
    for key in sorted(config.final_config_dict):
        value = config.final_config_dict[key]
        if key in machine_specific:
            continue
        try:
            settings[key] = json.loads(json.dumps(value))
        except (TypeError, ValueError):
            settings[key] = str(value)
    return settings


def train_with_budget(model, dataset, config_dict, budget_s, result_file, label=None):
    """Run inside the child process. ``model`` is a name or a model class."""
    sys.path.insert(0, REPO)
    from recbole_bert4rec import prepare

    load_before = os.getloadavg()[0]
    result_file = os.path.abspath(result_file)  # the child works in its own temporary folder
    workdir = tempfile.mkdtemp(prefix="bench-")
    os.chdir(workdir)
    config_dict = dict(config_dict, checkpoint_dir=os.path.join(workdir, "saved"))
    start = time.perf_counter()
    config, _, trainer, (train, valid, test) = prepare(model, dataset, config_dict=config_dict)
    setup_s = time.perf_counter() - start
    epoch_times, curve = [], []
    last = [time.perf_counter()]
    train_start = last[0]
    batches_since_validation = [0]
    calculate_loss = trainer.model.calculate_loss

    def budgeted_loss(interaction):
        if time.perf_counter() - train_start >= budget_s:
            raise BudgetReached(mid_epoch=True)
        batches_since_validation[0] += 1
        return calculate_loss(interaction)

    trainer.model.calculate_loss = budgeted_loss  # RecBole's _train_epoch looks it up on the model

    def record(valid_score):
        now = time.perf_counter()
        curve.append([now - train_start, float(valid_score)])
        with open(result_file + ".partial", "w") as f:  # progress survives a killed session
            json.dump({"label": label, "curve": curve}, f)
        return now

    def on_validation(epoch_idx, valid_score):
        batches_since_validation[0] = 0
        now = record(valid_score)
        epoch_times.append(now - last[0])
        last[0] = now
        if now - train_start >= budget_s:
            raise BudgetReached

    epochs_trained = None
    try:
        trainer.fit(train, valid, saved=True, show_progress=False, callback_fn=on_validation)
        stopped_by = "early stopping or max epochs"
    except BudgetReached as stop:
        stopped_by = "budget"
        if stop.mid_epoch:
            stopped_by = "budget, inside an epoch"
            trainer.model.calculate_loss = calculate_loss
            epochs_trained = len(epoch_times) + batches_since_validation[0] / len(train)
            cut_score, _ = trainer._valid_epoch(valid, show_progress=False)
            record(cut_score)
    train_s = time.perf_counter() - train_start
    scores = [score for _, score in curve]
    best_index = max(range(len(scores)), key=scores.__getitem__) if scores else None
    # The cut epoch's model is in memory only: test it when it is the best, else the best checkpoint.
    cut_is_best = epochs_trained is not None and best_index == len(scores) - 1
    test_result = trainer.evaluate(test, load_best_model=not cut_is_best)
    if epochs_trained is None:
        epochs_trained = len(epoch_times)
    result = {
        "label": label, "model": config["model"], "seed": config["seed"], "epochs": epochs_trained,
        # 1-based: the number of epochs trained when the best validation score was reached
        "best_epoch": (epochs_trained if cut_is_best else best_index + 1) if scores else None,
        "stopped_by": stopped_by, "setup_s": setup_s, "train_s": train_s,
        "epoch_times_s": epoch_times, "curve": curve, "best_valid_score": max(scores) if scores else None,
        "test": {k: float(v) for k, v in test_result.items()}, "hardware": hardware(),
        "torch_threads": torch.get_num_threads(),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        # 1-minute load average: these machines are shared, so say how busy the cores were.
        "load_avg_start_end": [load_before, os.getloadavg()[0]],
        "config": {k: config_dict[k] for k in sorted(config_dict) if k != "checkpoint_dir"},
        # every setting after all yaml layers: the overrides alone do not survive a change of the shipped yaml
        "resolved_config": resolved_settings(config),
    }
    with open(result_file, "w") as f:
        json.dump(result, f, indent=1)
    if os.path.exists(result_file + ".partial"):
        os.unlink(result_file + ".partial")


def run_child(script, args, result_file):
    """Start ``script --child ...`` and return its JSON result."""
    subprocess.run([sys.executable, script, *args], check=True, stdout=subprocess.DEVNULL)
    with open(result_file) as f:
        return json.load(f)
