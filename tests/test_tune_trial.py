"""One trial without Ray: what it reports each epoch, what it leaves on disk, how it resumes."""

import logging
import os
import shutil
from contextlib import contextmanager

import pytest

from recbole_bert4rec.tune import ray_compat, trial
from recbole_bert4rec.tune.trial import LAST_VALIDATION, TrialPlan, device_settings, train_trial
from tests.tiny_data import tiny_config


class FolderCheckpoint:
    def __init__(self, path):
        self.path = path

    @contextmanager
    def as_directory(self):
        yield self.path


@pytest.fixture
def fake_ray_session(tiny_data, tmp_path, monkeypatch):
    """Reports land in a list; checkpoints are copied the way Ray copies them (the trial deletes its own)."""
    trial_dir = tmp_path / "trial"
    trial_dir.mkdir()
    reports, kept = [], []

    def report(metrics, checkpoint_dir=None):
        copy = None
        if checkpoint_dir:
            copy = str(tmp_path / f"ray-checkpoint-{len(kept)}")
            shutil.copytree(checkpoint_dir, copy)
            kept.append(copy)
        reports.append((metrics, copy))

    monkeypatch.setattr(ray_compat, "report", report)
    monkeypatch.setattr(ray_compat, "trial_dir", lambda: str(trial_dir))
    monkeypatch.setattr(ray_compat, "get_checkpoint", lambda: None)
    monkeypatch.setattr(trial.ray, "get_gpu_ids", lambda: [])
    base = tiny_config(tiny_data, epochs=3, train_batch_size=8)
    base.pop("checkpoint_dir")
    plan = TrialPlan(model="BERT4Rec", dataset="tiny", base_config=base, metric="ndcg@10")
    return plan, trial_dir, reports


def test_trial_reports_every_validation_and_checkpoints_only_new_bests(fake_ray_session):
    plan, trial_dir, reports = fake_ray_session
    train_trial({"learning_rate": 1e-2}, plan)

    assert [metrics["epoch"] for metrics, _ in reports] == [1, 2, 3]
    assert [metrics[LAST_VALIDATION] for metrics, _ in reports] == [False, False, True]
    assert {"ndcg@10", "hit@10", "mrr@10"} <= set(reports[0][0])
    best_so_far = float("-inf")
    for metrics, checkpoint in reports:
        assert (checkpoint is not None) == (metrics["ndcg@10"] > best_so_far)
        best_so_far = max(best_so_far, metrics["ndcg@10"])
    assert os.getcwd() == str(trial_dir)  # RecBole's ./log lands in the trial folder
    assert sorted(os.listdir(trial_dir)) == ["log", "log_tensorboard"]  # no RecBole checkpoint left behind


def test_trial_resumed_from_its_checkpoint_continues_after_that_epoch(fake_ray_session, monkeypatch):
    plan, _, reports = fake_ray_session
    train_trial({"learning_rate": 1e-2}, plan)
    first_checkpoint = reports[0][1]
    reports.clear()

    monkeypatch.setattr(ray_compat, "get_checkpoint", lambda: FolderCheckpoint(first_checkpoint))
    train_trial({"learning_rate": 1e-2}, plan)

    assert [metrics["epoch"] for metrics, _ in reports] == [2, 3]


def test_a_reused_process_logs_each_trial_into_its_own_folder(fake_ray_session, tmp_path, monkeypatch):
    plan, _, _ = fake_ray_session
    plan.base_config["epochs"] = 1
    plan.base_config["state"] = "INFO"
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])  # a fresh Ray worker's root logger, not pytest's
    monkeypatch.setattr(trial, "PROCESS_LOG_HANDLERS", [])
    for name in ("first", "second"):
        folder = tmp_path / name
        folder.mkdir()
        monkeypatch.setattr(ray_compat, "trial_dir", lambda folder=folder: str(folder))
        train_trial({"learning_rate": 1e-2}, plan)

    for name in ("first", "second"):
        logs = list((tmp_path / name / "log").rglob("*.log"))
        assert len(logs) == 1 and "valid result" in logs[0].read_text()
    trial.drop_earlier_trial_log_handlers()


def test_trial_hands_ray_gpu_assignment_to_recbole():
    # RecBole copies gpu_id into CUDA_VISIBLE_DEVICES: it must be Ray's ids, or empty on a CPU trial.
    assert device_settings([]) == {"use_gpu": False, "gpu_id": ""}
    assert device_settings([3]) == {"use_gpu": True, "gpu_id": "3"}
    assert device_settings(["0", "1"]) == {"use_gpu": True, "gpu_id": "0,1"}


def test_trial_config_is_a_fresh_dict_with_trial_owned_keys_last():
    plan = TrialPlan(model="BERT4Rec", dataset="tiny", base_config={"epochs": 3, "show_progress": True})
    first = plan.config_dict({"learning_rate": 0.01}, "/trials/t", [])
    first["epochs"] = 99
    assert plan.config_dict({}, "/trials/t", [])["epochs"] == 3
    assert first["show_progress"] is False and first["checkpoint_dir"] == "/trials/t"
