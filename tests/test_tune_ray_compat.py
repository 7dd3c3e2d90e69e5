"""The Ray version shim: each generation's report, checkpoint, trial folder and config classes."""

import sys
import types

import pytest
import ray

from recbole_bert4rec.tune import ray_compat


@pytest.mark.parametrize("version, generation", [
    ("2.6.3", ray_compat.AIR), ("2.5.1", ray_compat.AIR),
    ("2.7.0", ray_compat.TRAIN), ("2.40.0", ray_compat.TRAIN),
    ("2.41.0", ray_compat.TUNE), ("2.52.1", ray_compat.TUNE), ("3.0.0.dev0", ray_compat.TUNE),
])
def test_generation_follows_the_ray_version(monkeypatch, version, generation):
    monkeypatch.setattr(ray, "__version__", version)
    assert ray_compat.api_generation() == generation


class FakeCheckpoint:
    def __init__(self, path):
        self.path = path

    @classmethod
    def from_directory(cls, path):
        return cls(path)


def fake_api(calls):
    """A module with the report/checkpoint/context API that ray.train and (newer) ray.tune share."""
    module = types.SimpleNamespace(
        Checkpoint=FakeCheckpoint,
        report=lambda metrics, checkpoint=None: calls.append((metrics, checkpoint)),
        get_checkpoint=lambda: "resume-from",
        get_context=lambda: types.SimpleNamespace(get_trial_dir=lambda: "/trials/t1"),
        RunConfig="RunConfig", FailureConfig="FailureConfig", CheckpointConfig="CheckpointConfig",
    )
    return module


@pytest.mark.parametrize("version, generation", [("2.7.0", ray_compat.TRAIN), ("2.41.0", ray_compat.TUNE)])
def test_newer_rays_report_through_their_own_module(monkeypatch, version, generation):
    calls = []
    monkeypatch.setattr(ray, "__version__", version)
    monkeypatch.setattr(ray_compat, "_module", lambda g: fake_api(calls) if g == generation else None)

    ray_compat.report({"ndcg@10": 0.5})
    ray_compat.report({"ndcg@10": 0.6}, checkpoint_dir="/tmp/best")

    assert calls[0] == ({"ndcg@10": 0.5}, None)
    assert calls[1][0] == {"ndcg@10": 0.6} and calls[1][1].path == "/tmp/best"
    assert ray_compat.trial_dir() == "/trials/t1"
    assert ray_compat.get_checkpoint() == "resume-from"
    assert ray_compat.run_config_classes() == ("RunConfig", "FailureConfig", "CheckpointConfig")


def test_ray_2_6_reports_through_air_session_with_an_air_checkpoint(monkeypatch, tmp_path):
    from ray.air import Checkpoint, session

    calls = []
    monkeypatch.setattr(ray, "__version__", "2.6.3")
    monkeypatch.setattr(session, "report", lambda metrics, checkpoint=None: calls.append((metrics, checkpoint)))
    monkeypatch.setattr(session, "get_trial_dir", lambda: "/trials/t2")
    monkeypatch.setattr(session, "get_checkpoint", lambda: None)
    (tmp_path / "model.pth").write_bytes(b"weights")

    ray_compat.report({"ndcg@10": 0.5}, checkpoint_dir=str(tmp_path))

    metrics, checkpoint = calls[0]
    assert metrics == {"ndcg@10": 0.5} and isinstance(checkpoint, Checkpoint)
    with checkpoint.as_directory() as folder:
        assert open(f"{folder}/model.pth", "rb").read() == b"weights"
    assert ray_compat.trial_dir() == "/trials/t2"
    assert ray_compat.get_checkpoint() is None


def test_ray_2_6_never_uses_its_legacy_keyword_tune_report(monkeypatch):
    from ray.air import session

    monkeypatch.setattr(ray, "__version__", "2.6.3")
    monkeypatch.setattr(sys.modules["ray.tune"], "report", lambda **kw: pytest.fail("legacy tune.report called"))
    seen = []
    monkeypatch.setattr(session, "report", lambda metrics, checkpoint=None: seen.append(metrics))
    ray_compat.report({"ndcg@10": 0.1})
    assert seen == [{"ndcg@10": 0.1}]


def test_installed_ray_has_every_class_the_shim_hands_out():
    run_config, failure_config, checkpoint_config = ray_compat.run_config_classes()
    config = run_config(name="x", storage_path="/tmp", failure_config=failure_config(max_failures=0),
                        checkpoint_config=checkpoint_config(num_to_keep=1))
    assert config.failure_config.max_failures == 0


def test_trial_states_are_none_when_ray_hides_them():
    assert ray_compat.trial_states(types.SimpleNamespace()) is None
