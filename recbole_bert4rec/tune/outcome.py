"""After the trials: results table, curves, and, for a finished search, the best trial tested once."""

import json
import os
from dataclasses import asdict, dataclass

import pandas as pd

from recbole_bert4rec.checkpoint import to_plain
from recbole_bert4rec.quick_start import prepare
from recbole_bert4rec.tune.environment import cuda_visible_devices_kept, working_directory
from recbole_bert4rec.tune.outputs import (COMPLETED, ERROR, NOT_RUN, PRUNED, UNFINISHED, best_config_yaml,
                                           results_table, tidy_floats, trial_name, validation_curve)
from recbole_bert4rec.tune.plot import plot_validation_curves
from recbole_bert4rec.tune.trial import model_file_in

RESULTS_FILE = "results.csv"
BEST_CONFIG_FILE = "best_config.yaml"
BEST_TRIAL_FILE = "best_trial.json"
CURVES_FILE = "validation_curves.png"


@dataclass
class SearchOutcome:
    experiment_path: str
    metric: str
    mode: str
    counts: dict  # status -> number of trials
    results_csv: str
    curves_png: str
    wall_time_s: float
    interrupted: bool = False  # True: no test, no best yaml; resume the search to finish it
    best_trial: str | None = None
    best_config: dict | None = None
    best_epoch: int | None = None
    best_valid_result: dict | None = None
    test_result: dict | None = None
    best_config_yaml: str | None = None
    table: object = None  # pandas DataFrame, best first


def write_outcome(setup, results, ray_states, wall_time_s):
    """Write results.csv and the curves PNG; when every trial has ended, test the best one and write its yaml."""
    folder, metric = setup.folder, setup.plan.metric
    table = results_table(results, metric, setup.mode, list(setup.space), ray_states)
    results_csv = os.path.join(folder, RESULTS_FILE)
    table.to_csv(results_csv, index=False)
    counts = {status: int((table["status"] == status).sum())
              for status in (COMPLETED, PRUNED, ERROR, UNFINISHED, NOT_RUN)}
    by_trial = {trial_name(result, ray_states, i): result for i, result in enumerate(results)}
    scored = table[table[metric].notna()]
    best = scored.iloc[0] if len(scored) else None
    curves_png = plot_validation_curves(
        {name: validation_curve(by_trial[name], metric) for name in table["trial"]},
        dict(zip(table["trial"], table["status"])), metric,
        best["trial"] if best is not None else None, os.path.join(folder, CURVES_FILE),
        title=f"{setup.plan.model} on {setup.plan.dataset}: {len(table)} trials, {counts[PRUNED]} pruned, "
              f"{counts[ERROR]} errors",
        labels={row["trial"]: sampled_values_label(row, setup.space) for _, row in table.iterrows()},
    )
    outcome = SearchOutcome(experiment_path=folder, metric=metric, mode=setup.mode, counts=counts,
                            results_csv=results_csv, curves_png=curves_png, wall_time_s=wall_time_s, table=table)
    left = setup.expected_trials - counts[COMPLETED] - counts[PRUNED] - counts[ERROR]
    if left > 0 and not out_of_time(setup, wall_time_s):
        outcome.interrupted = True
        print(f"Search interrupted with {left} of {setup.expected_trials} trials not ended; results so far: "
              f"{results_csv}\nResume it: python run_tune.py --resume={folder}")
        return outcome
    if best is None:
        errors = "; ".join(f"{t}: {e}" for t, e in zip(table["trial"], table["error"]) if e)
        raise RuntimeError(f"no trial reported a validation; see {results_csv}. Errors: {errors or 'none'}")
    finish_with_best(setup, outcome, best, by_trial[best["trial"]])
    return outcome


def out_of_time(setup, wall_time_s):
    budget = setup.options.time_budget_s
    return budget is not None and wall_time_s >= budget


def finish_with_best(setup, outcome, best, best_result):
    outcome.best_trial = best["trial"]
    sampled = {key: best_result.config[key] for key in setup.space}
    outcome.best_config = tidy_floats(to_plain(sampled))
    outcome.best_epoch = int(best["best_epoch"])
    outcome.best_valid_result = {column: float(best[column]) for column in outcome.table.columns
                                 if "@" in column and pd.notna(best[column])}
    outcome.test_result = evaluate_on_test(setup, best_result, sampled)
    counts = outcome.counts
    summary = [
        f"Best of {len(outcome.table)} trials ({counts[PRUNED]} pruned, {counts[ERROR]} errors) "
        f"of Ray Tune search {setup.folder}",
        f"trial {outcome.best_trial}, best validation at epoch {outcome.best_epoch}: "
        f"{format_metrics(outcome.best_valid_result)}",
        f"test (evaluated once, after the search): {format_metrics(outcome.test_result)}",
    ]
    outcome.best_config_yaml = best_config_yaml(os.path.join(setup.folder, BEST_CONFIG_FILE), setup.plan,
                                                setup.file_config, outcome.best_config, summary)
    with open(os.path.join(setup.folder, BEST_TRIAL_FILE), "w", encoding="utf-8") as f:
        json.dump({k: v for k, v in asdict(outcome).items() if k != "table"}, f, indent=2)
    print("\n".join(summary + [f"config: {outcome.best_config}",
                               f"outputs: {outcome.results_csv}, {outcome.best_config_yaml}, {outcome.curves_png}"]))


def evaluate_on_test(setup, result, best_config):
    """Load the best trial's best checkpoint into our trainer and evaluate the test split, once."""
    if result.checkpoint is None:
        raise RuntimeError(f"best trial {result.path} left no checkpoint to evaluate")
    gpu_ids = []
    if setup.options.gpus_per_trial > 0:
        import torch
        if torch.cuda.is_available():
            gpu_ids = (os.environ.get("CUDA_VISIBLE_DEVICES") or "0").split(",")[:1]
    with cuda_visible_devices_kept(), working_directory(setup.folder), \
            result.checkpoint.as_directory() as checkpoint:
        config_dict = setup.plan.config_dict(best_config, setup.folder, gpu_ids)
        config_dict["state"] = "WARNING"  # the summary below says what matters; the full config is in the yaml
        _, _, trainer, (_, _, test_data) = prepare(setup.plan.model, setup.plan.dataset, setup.plan.config_files,
                                                   config_dict)
        test = trainer.evaluate(test_data, load_best_model=True, model_file=model_file_in(checkpoint))
    return {key.lower(): float(value) for key, value in test.items()}


def sampled_values_label(row, space):
    values = []
    for key in space:
        value = row[f"config/{key}"]
        values.append(f"{key}={value:.3g}" if isinstance(value, float) else f"{key}={value}")
    return " ".join(values)


def format_metrics(metrics):
    return ", ".join(f"{key}={value:.4f}" for key, value in metrics.items())
