"""Results table, trial statuses, best-config yaml and curve plot, from hand-made Ray results."""

import types

import pandas as pd
import pytest
import yaml

from recbole_bert4rec.config import Config
from recbole_bert4rec.tune.outputs import (COMPLETED, ERROR, NOT_RUN, PRUNED, UNFINISHED, best_config_yaml,
                                           first_line, results_table, tidy_floats)
from recbole_bert4rec.tune.plot import plot_validation_curves
from recbole_bert4rec.tune.trial import LAST_VALIDATION, TrialPlan
from tests.tiny_data import tiny_config


def fake_result(trial_id, ndcg=(), last=False, error=None, lr=1e-3):
    rows = [{"epoch": i + 1, "ndcg@10": v, "hit@10": v * 2, LAST_VALIDATION: last and i == len(ndcg) - 1,
             "time_total_s": float(i + 1), "trial_id": trial_id} for i, v in enumerate(ndcg)]
    return types.SimpleNamespace(
        metrics=dict(rows[-1]) if rows else {"trial_id": trial_id},
        metrics_dataframe=pd.DataFrame(rows) if rows else None,
        error=error, config={"learning_rate": lr}, path=f"/results/search/train_trial_{trial_id}",
    )


def test_statuses_tell_completed_pruned_error_and_interrupted_apart():
    results = [
        fake_result("t0", [0.2, 0.3, 0.35], last=True),  # ran to its end
        fake_result("t1", [0.1]),  # ASHA stopped it (Ray marks it TERMINATED, and `done`)
        fake_result("t2", error=RuntimeError("boom")),
        fake_result("t3", [0.25]),  # running when Ctrl+C came
        fake_result("t4"),  # never started
    ]
    states = [("t0", "TERMINATED"), ("t1", "TERMINATED"), ("t2", "ERROR"), ("t3", "PAUSED"), ("t4", "PENDING")]
    table = results_table(results, "ndcg@10", "max", ["learning_rate"], states).set_index("trial")
    assert table["status"].to_dict() == {"t0": COMPLETED, "t1": PRUNED, "t2": ERROR, "t3": UNFINISHED,
                                         "t4": NOT_RUN}


def test_table_is_best_first_with_the_best_epoch_of_each_trial():
    results = [fake_result("low", [0.1, 0.15], last=True), fake_result("high", [0.3, 0.2], last=True),
               fake_result("broken", error=ValueError("bad"))]
    table = results_table(results, "ndcg@10", "max", ["learning_rate"])
    assert table["trial"].tolist() == ["high", "low", "broken"]
    assert table.loc[0, "best_epoch"] == 1 and table.loc[0, "ndcg@10"] == 0.3 and table.loc[0, "hit@10"] == 0.6
    assert table.loc[1, "best_epoch"] == 2
    assert table["config/learning_rate"].tolist() == [1e-3] * 3


def test_lower_is_better_metrics_sort_ascending():
    results = [fake_result("a", [0.5], last=True), fake_result("b", [0.2], last=True)]
    assert results_table(results, "ndcg@10", "min", [])["trial"].tolist() == ["b", "a"]


def test_error_column_keeps_the_line_that_says_what_went_wrong():
    wrapped = ("Failure # 1 (occurred at 2026-12-04)\nTraceback (most recent call last):\n  File \"x.py\"\n"
               "recbole_bert4rec.config_checks.ConfigError: hidden_size (15) must be divisible by n_heads (2)\n")
    assert first_line(wrapped) == ("recbole_bert4rec.config_checks.ConfigError: hidden_size (15) must be "
                                   "divisible by n_heads (2)")


def test_quniform_float_noise_is_tidied_for_the_yaml():
    assert tidy_floats({"p": 0.30000000000000004, "l": [0.1 + 0.2], "n": 3}) == {"p": 0.3, "l": [0.3], "n": 3}


def test_best_yaml_is_read_by_our_config_with_the_best_values(tiny_data, tmp_path):
    base = tiny_config(tiny_data)
    base.pop("checkpoint_dir")
    plan = TrialPlan(model="BERT4Rec", dataset="tiny", base_config=base, metric="ndcg@10")
    path = best_config_yaml(str(tmp_path / "best.yaml"), plan, {"eval_batch_size": 32},
                            {"learning_rate": 0.004, "mask_ratio": 0.30000000000000004}, ["best of 4 trials"])

    text = open(path, encoding="utf-8").read()
    assert text.startswith("# best of 4 trials\n# Run it: python run_recbole.py --model=BERT4Rec --dataset=tiny")
    assert yaml.safe_load(text)["mask_ratio"] == 0.3
    config = Config("BERT4Rec", "tiny", [path])
    assert config["learning_rate"] == pytest.approx(0.004) and config["mask_ratio"] == pytest.approx(0.3)
    assert config["eval_batch_size"] == 64  # fixed overrides beat the config files, as in the trials


def test_plot_draws_every_trial_that_reported(tmp_path):
    curves = {"a": pd.DataFrame({"epoch": [1, 2, 3], "ndcg@10": [0.1, 0.2, 0.3]}),
              "b": pd.DataFrame({"epoch": [1], "ndcg@10": [0.05]}),
              "c": pd.DataFrame(columns=["epoch", "ndcg@10"])}
    path = plot_validation_curves(curves, {"a": COMPLETED, "b": PRUNED, "c": ERROR}, "ndcg@10", "a",
                                  str(tmp_path / "curves.png"), labels={"a": "learning_rate=0.001"})
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
