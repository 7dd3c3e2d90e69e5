"""What a search leaves behind besides the plot: the results table (CSV) and the best configuration (yaml)."""

import math
import os

import pandas as pd
import yaml

from recbole_bert4rec.checkpoint import to_plain
from recbole_bert4rec.tune.trial import LAST_VALIDATION

COMPLETED = "completed"  # ran to its last epoch, or RecBole's own early stopping ended it
PRUNED = "pruned"  # the scheduler (ASHA) or the time budget stopped it
ERROR = "error"  # raised; the message is in the table, the traceback in <trial>/error.txt
UNFINISHED = "unfinished"  # running when the search was interrupted; resuming continues it
NOT_RUN = "not run"  # never started (interrupted search, or time budget spent)
RAY_UNFINISHED = ("PENDING", "RUNNING", "PAUSED")


def trial_name(result, ray_states=None, index=None):
    """Ray's trial id (as in its progress table)."""
    if ray_states:
        return ray_states[index][0]
    return (result.metrics or {}).get("trial_id") or os.path.basename(os.path.normpath(result.path))


def validation_curve(result, metric):
    """The trial's validations in order (rows with ``epoch`` and ``metric``); empty if it reported none."""
    frame = result.metrics_dataframe
    if frame is None or metric not in frame:
        return pd.DataFrame(columns=["epoch", metric])
    return frame[frame[metric].notna()].reset_index(drop=True)


def trial_status(result, curve, ray_status=None):
    if result.error is not None:
        return ERROR
    if ray_status in RAY_UNFINISHED:
        return UNFINISHED if len(curve) else NOT_RUN
    if not len(curve):
        return NOT_RUN
    # Ray's own `done` cannot tell: it is also set on the last result of a trial the scheduler stopped.
    finished = LAST_VALIDATION in curve and bool(curve[LAST_VALIDATION].iloc[-1])
    return COMPLETED if finished else PRUNED


def first_line(error):
    """The line of an error that says what went wrong (Ray wraps the trial's exception in its own text)."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    relevant = [line for line in lines if "Error" in line or "Exception" in line] or lines or [""]
    return relevant[-1][:300]


def results_table(results, metric, mode, searched_keys, ray_states=None):
    """One row per trial, best first: status, best validation epoch and its metrics, sampled values, error."""
    rows = []
    for index, result in enumerate(results):
        curve = validation_curve(result, metric)
        ray_status = ray_states[index][1] if ray_states else None
        row = {"trial": trial_name(result, ray_states, index), "status": trial_status(result, curve, ray_status),
               "validations": len(curve)}
        if len(curve):
            best = curve[metric].idxmax() if mode == "max" else curve[metric].idxmin()
            row["best_epoch"] = int(curve.loc[best, "epoch"])
            row[metric] = float(curve.loc[best, metric])
            for column in curve.columns:
                if "@" in column and column != metric:
                    row[column] = float(curve.loc[best, column])
            row["time_s"] = float(curve["time_total_s"].iloc[-1]) if "time_total_s" in curve else math.nan
        config = result.config or {}
        for key in searched_keys:
            row[f"config/{key}"] = tidy_floats(config.get(key))
        row["error"] = first_line(result.error) if result.error is not None else ""
        row["trial_dir"] = os.path.basename(os.path.normpath(result.path))  # inside the experiment folder
        rows.append(row)
    table = pd.DataFrame(rows)
    for column in (metric, "best_epoch"):
        if column not in table:
            table[column] = math.nan
    table["best_epoch"] = table["best_epoch"].astype("Int64")
    return table.sort_values(metric, ascending=(mode == "min"), na_position="last", kind="stable").reset_index(drop=True)


def tidy_floats(value):
    # quniform samples such as 0.30000000000000004 read better, and identically, as 0.3.
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, dict):
        return {k: tidy_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [tidy_floats(v) for v in value]
    return value


def best_config_yaml(path, plan, file_config, best_config, summary_lines):
    """A yaml ``run_recbole.py --config_files=`` reads as is: config files + fixed overrides + best values."""
    merged = tidy_floats(to_plain({**file_config, **plan.base_config, **best_config}))
    header = [f"# {line}" for line in summary_lines]
    header.append(f"# Run it: python run_recbole.py --model={plan.model} --dataset={plan.dataset} "
                  f"--config_files={os.path.abspath(path)}")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(header) + "\n")
        yaml.safe_dump(merged, f, sort_keys=False, default_flow_style=False)
    return path
