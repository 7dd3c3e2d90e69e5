"""Real Ray Tune searches on a tiny dataset the tests write: pruning, outputs, failures, resume, a real cluster."""

import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import ray
import yaml

from recbole_bert4rec.config import Config
from recbole_bert4rec.tune import SearchOptions, resume_search, run_search
from recbole_bert4rec.tune import search as search_module
from recbole_bert4rec.tune.outputs import COMPLETED, ERROR, PRUNED
from tests.tiny_data import tiny_config, write_sequences

pytestmark = pytest.mark.ray

# Good learning rates first: ASHA compares a trial with those that reached the rung before it, so the
# 1e-6 trials (validation NDCG@10 ~0.19 vs ~0.35 after one epoch) are cut at the first rung, deterministically.
PRUNABLE_GRID = {"learning_rate": {"grid": [1e-2, 3e-3, 1e-6, 1e-6]}}


def popular_sequences(n_users=60, n_items=40, length=15, seed=0):
    """Items drawn with Zipf-like popularity: a signal one epoch of a sane learning rate already picks up."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_items + 1) ** 1.5
    weights /= weights.sum()
    return {f"u{user}": [f"i{item + 1}" for item in rng.choice(n_items, size=length, replace=False, p=weights)]
            for user in range(1, n_users + 1)}


@pytest.fixture
def tiny_search(tmp_path, monkeypatch):
    """(config_dict, storage_path) for a 3-epoch BERT4Rec on 60 users x 40 items; Ray is shut down afterwards."""
    monkeypatch.chdir(tmp_path)
    data_path = write_sequences(str(tmp_path / "data"), "tiny", popular_sequences())
    config = tiny_config(data_path, epochs=3, train_batch_size=8)
    config.pop("checkpoint_dir")  # trials write into their own folders
    yield config, str(tmp_path / "ray_results")
    ray.shutdown()


def options(storage_path, **overrides):
    values = dict(num_cpus=2, max_concurrent=2, grace_period=1, reduction_factor=2, storage_path=storage_path,
                  name="search")
    values.update(overrides)
    return SearchOptions(**values)


def assert_outputs_written(outcome):
    table = pd.read_csv(outcome.results_csv)
    assert len(table) == len(outcome.table)
    with open(outcome.curves_png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with open(outcome.best_config_yaml, encoding="utf-8") as f:
        best = yaml.safe_load(f)
    for key, value in outcome.best_config.items():
        assert best[key] == pytest.approx(value)
    return table


def run_prunable_search(config, storage_path, **option_overrides):
    outcome = run_search(PRUNABLE_GRID, "BERT4Rec", "tiny", config_dict=config,
                         options=options(storage_path, **option_overrides))
    table = outcome.table
    assert len(table) == 4
    assert outcome.counts[PRUNED] >= 2  # both 1e-6 trials at least
    assert set(table[table["config/learning_rate"] == 1e-6]["status"]) == {PRUNED}
    assert table.iloc[0]["status"] == COMPLETED and table.iloc[0]["validations"] == 3
    assert outcome.best_config["learning_rate"] in (1e-2, 3e-3)
    assert set(outcome.test_result) >= {"ndcg@10", "hit@10"}
    return outcome


def test_asha_search_prunes_weak_trials_and_writes_every_output(tiny_search):
    config, storage_path = tiny_search
    outcome = run_prunable_search(config, storage_path)

    table = assert_outputs_written(outcome)
    assert list(table["status"]).count(PRUNED) == outcome.counts[PRUNED]
    # A pruned trial stopped at the first rung: one validation, and no RecBole files beside Ray's checkpoint.
    pruned = outcome.table[outcome.table["config/learning_rate"] == 1e-6].iloc[0]
    assert pruned["validations"] == 1
    trial_dir = os.path.join(outcome.experiment_path, pruned["trial_dir"])
    assert not [name for name in os.listdir(trial_dir) if name.startswith("best-model-")]
    assert os.path.isdir(os.path.join(trial_dir, "log"))  # RecBole's ./log went into the trial folder

    # The best yaml is what run_recbole.py --config_files= reads: same model settings, same data.
    best_config = Config("BERT4Rec", "tiny", [outcome.best_config_yaml])
    assert best_config["learning_rate"] == pytest.approx(outcome.best_config["learning_rate"])
    assert best_config["hidden_size"] == 16 and best_config["epochs"] == 3
    assert os.path.isfile(os.path.join(best_config["data_path"], "tiny.inter"))


def test_trial_that_raises_is_recorded_and_the_search_goes_on(tiny_search):
    config, storage_path = tiny_search
    config.pop("hidden_size")
    config["epochs"] = 1
    outcome = run_search({"hidden_size": {"grid": [16, 15]}}, "BERT4Rec", "tiny", config_dict=config,
                         options=options(storage_path, scheduler="fifo"))

    table = outcome.table.set_index("config/hidden_size")
    assert table.loc[15, "status"] == ERROR
    assert "divisible by n_heads" in table.loc[15, "error"]
    assert table.loc[16, "status"] == COMPLETED
    assert outcome.best_config == {"hidden_size": 16}
    assert_outputs_written(outcome)


class InterruptOnce(ray.tune.Callback):
    """Ctrl+C after the first trial ends. Ray pickles callbacks with the experiment and restores them on resume,
    so a marker file makes it fire only once."""

    def __init__(self, marker):
        self.marker = marker

    def on_trial_complete(self, iteration, trials, trial, **info):
        if not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os.kill(os.getpid(), signal.SIGINT)  # Ray saves the experiment state and returns


def test_interrupted_search_resumes_without_rerunning_finished_trials(tiny_search, monkeypatch):
    config, storage_path = tiny_search
    config["epochs"] = 2

    build_run_config = search_module.build_run_config

    def with_interrupt(setup):
        run_config = build_run_config(setup)
        run_config.callbacks = [InterruptOnce(os.path.join(storage_path, "interrupted"))]
        return run_config

    monkeypatch.setattr(search_module, "build_run_config", with_interrupt)
    space = {"learning_rate": {"grid": [1e-2, 3e-3, 5e-3]}}
    first = run_search(space, "BERT4Rec", "tiny", config_dict=config,
                       options=options(storage_path, scheduler="fifo", max_concurrent=1))
    assert first.interrupted and first.test_result is None and first.best_config_yaml is None
    assert 1 <= first.counts[COMPLETED] < 3
    finished_first = set(first.table[first.table["status"] == COMPLETED]["trial"])

    resumed = resume_search(first.experiment_path)

    assert not resumed.interrupted
    assert resumed.counts[COMPLETED] == 3
    assert resumed.table["validations"].tolist() == [2, 2, 2]  # nobody trained its epochs twice
    assert finished_first <= set(resumed.table["trial"])
    assert_outputs_written(resumed)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def local_cluster(tmp_path):
    """A real head node from `ray start --head` on 127.0.0.1; stopped by ending the processes it started."""
    port = free_port()
    ray_cli = os.path.join(os.path.dirname(sys.executable), "ray")
    head = subprocess.Popen(
        [ray_cli, "start", "--head", "--block", f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
         "--node-ip-address=127.0.0.1", "--disable-usage-stats"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        deadline = time.time() + 60
        for line in head.stdout:
            if "Ray runtime started" in line:
                break
            if time.time() > deadline:
                raise TimeoutError("ray start --head did not come up within 60 s")
        else:
            raise RuntimeError(f"ray start --head exited with {head.wait()}")
        yield f"127.0.0.1:{port}"
    finally:
        ray.shutdown()
        # `ray stop` would end every Ray on this machine; end only this head's process group.
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(head.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        forget_cluster_address(f"127.0.0.1:{port}")


def forget_cluster_address(address):
    """`ray start` records its address for later `ray.init()` calls; drop the record if it is this head's."""
    record = "/tmp/ray/ray_current_cluster"
    try:
        with open(record, encoding="utf-8") as f:
            if f.read().strip() == address:
                os.remove(record)
    except FileNotFoundError:
        pass


def test_same_search_runs_on_a_real_cluster_given_by_address(tiny_search, local_cluster, monkeypatch):
    config, storage_path = tiny_search
    joined = []
    init = ray.init
    monkeypatch.setattr(ray, "init", lambda **kwargs: joined.append(kwargs.get("address")) or init(**kwargs))

    outcome = run_prunable_search(config, storage_path, address=local_cluster, num_cpus=None)

    assert joined == [local_cluster]
    assert not ray.is_initialized()  # the driver left the cluster, the cluster itself is the fixture's
    assert_outputs_written(outcome)


def test_optuna_search_algorithm_runs_when_optuna_is_installed(tiny_search):
    pytest.importorskip("optuna")
    config, storage_path = tiny_search
    config["epochs"] = 1
    outcome = run_search({"learning_rate": {"loguniform": [1e-3, 1e-2]}}, "BERT4Rec", "tiny", config_dict=config,
                         options=options(storage_path, search_alg="optuna", num_samples=3, search_seed=1))
    assert outcome.counts[COMPLETED] == 3
    assert 1e-3 <= outcome.best_config["learning_rate"] <= 1e-2
