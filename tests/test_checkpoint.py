"""Checkpoint format: plain data + tensors only, code in a file never runs, writes are atomic."""

import io
import os
import pickle
import random
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from recbole_bert4rec import checkpoint as checkpoint_module
from recbole_bert4rec import run_recbole
from recbole_bert4rec.checkpoint import (
    CheckpointError, best_model_path, find_latest_checkpoint, last_checkpoint_path, load_checkpoint, save_checkpoint,
)
from recbole_bert4rec.rng_state import capture_rng_state, restore_rng_state
from tests.tiny_data import tiny_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class CreatesMarkerWhenUnpickled:
    """A pickle payload: unpickling it calls open(marker, 'w'), i.e. runs code from the file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trained")
    from tests.tiny_data import pattern_sequences, write_sequences
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        data = write_sequences(str(folder / "data"), "tiny", pattern_sequences())
        result = run_recbole("BERT4Rec", "tiny", config_dict=tiny_config(data, epochs=2))
    return result["saved_model_file"]


def test_trained_checkpoints_load_with_plain_torch_weights_only(trained):
    for path in (trained, last_checkpoint_path(trained)):
        state = torch.load(path, weights_only=True)
        assert state["format_version"] == checkpoint_module.FORMAT_VERSION
        assert state["config"]["model"] == "BERT4Rec" and state["config"]["hidden_size"] == 16
        # the last-epoch file holds epoch 1; the best-model file the better of the 2 epochs
        assert state["epoch"] == 1 if path != trained else state["epoch"] in (0, 1)
        assert state["stopped"] is False
        assert isinstance(state["best_valid_score"], float) and set(state["best_valid_result"]) == {
            "hit@10", "ndcg@10", "mrr@10"}
        assert {"state", "param_groups"} <= set(state["optimizer"])
        assert isinstance(state["rng_state"]["torch"], torch.Tensor)
        assert isinstance(state["rng_state"]["numpy"]["keys"], torch.Tensor)
        assert state["train_loader"]["epoch"] == state["epoch"] + 1  # passes of the masking loader done


def test_checkpoint_stores_id_maps_and_user_histories(trained):
    snapshot = load_checkpoint(trained)["dataset"]
    assert snapshot["fields"] == {"user": "user_id", "item": "item_id"}
    users, items = snapshot["id_tokens"]["user_id"], snapshot["id_tokens"]["item_id"]
    assert users[0] == items[0] == "[PAD]"
    assert set(users[1:]) == {f"u{n}" for n in range(1, 61)} and set(items[1:]) <= {f"i{n}" for n in range(1, 41)}
    histories = snapshot["user_histories"]
    assert histories["items"].dtype == torch.int32 and histories["offsets"][-1] == len(histories["items"])
    # every user's stored sequence is its whole file sequence, in time order
    from tests.tiny_data import pattern_sequences
    expected = pattern_sequences()
    for uid in (1, 30, 60):
        start, end = histories["offsets"][uid], histories["offsets"][uid + 1]
        assert [items[i] for i in histories["items"][start:end].tolist()] == expected[users[uid]]


@pytest.mark.parametrize("write", ["torch_save", "raw_pickle"])
def test_crafted_pickle_payload_is_refused_without_running(tmp_path, write):
    marker = tmp_path / "payload-ran"
    payload = {"format_version": 2, "config": CreatesMarkerWhenUnpickled(marker), "state_dict": {}}
    path = tmp_path / "crafted.pth"
    if write == "torch_save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload))
    with pytest.raises(CheckpointError) as refused:
        load_checkpoint(path)
    assert str(refused.value).startswith(
        f"refused to load {str(path)!r}: it contains pickled Python objects, not only tensors and plain data "
        f"(a stock RecBole checkpoint, or a crafted file). Nothing from it was executed.")
    assert "Detail: Unsupported" in str(refused.value)  # torch's reason: a global or an opcode it refuses
    assert not marker.exists()


def test_the_crafted_payload_is_live_under_an_unrestricted_load(tmp_path):
    """Proves the refusal test above would notice: plain pickle runs the payload."""
    marker = tmp_path / "payload-ran"
    pickle.loads(pickle.dumps(CreatesMarkerWhenUnpickled(marker))).close()
    assert marker.exists()


def test_saved_checkpoint_gets_the_usual_file_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        save_checkpoint({"n": 1}, tmp_path / "model.pth")
    finally:
        os.umask(umask)
    assert os.stat(tmp_path / "model.pth").st_mode & 0o777 == 0o644


def test_failed_save_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.pth"
    save_checkpoint({"weights": torch.ones(1000)}, path)
    real_save = torch.save

    def write_half_then_die(obj, f):
        buffer = io.BytesIO()
        real_save(obj, buffer)
        f.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        raise KeyboardInterrupt("killed mid-save")

    monkeypatch.setattr(checkpoint_module.torch, "save", write_half_then_die)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint({"weights": torch.zeros(1000)}, path)
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(path)["weights"], torch.ones(1000))
    assert os.listdir(tmp_path) == ["model.pth"]  # the temporary file was cleaned up


def test_sigkill_mid_save_leaves_the_previous_checkpoint_intact(tmp_path):
    path = tmp_path / "model.pth"
    # The child writes one checkpoint, then starts a second save that stops half-written
    # (as a kill would find it) until the parent SIGKILLs it.
    child = textwrap.dedent(f"""
        import io, sys, time, torch
        from recbole_bert4rec import checkpoint
        checkpoint.save_checkpoint({{"weights": torch.ones(100000)}}, {str(path)!r})
        real_save = torch.save
        def stall_half_written(obj, f):
            buffer = io.BytesIO(); real_save(obj, buffer); data = buffer.getvalue()
            f.write(data[: len(data) // 2]); f.flush()
            print("half-written", flush=True); time.sleep(120)
        checkpoint.torch.save = stall_half_written
        checkpoint.save_checkpoint({{"weights": torch.zeros(100000)}}, {str(path)!r})
    """)
    process = subprocess.Popen([sys.executable, "-c", child], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "half-written"
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        process.kill()
        process.stdout.close()
    leftovers = [name for name in os.listdir(tmp_path) if name.startswith(".tmp-")]
    assert len(leftovers) == 1  # the half-written temporary file: the kill did land mid-save
    assert torch.equal(load_checkpoint(path)["weights"], torch.ones(100000))


def test_last_and_best_paths_map_to_each_other(tmp_path):
    best = str(tmp_path / "BERT4Rec-Jan-01-2026_00-00-00.pth")
    last = last_checkpoint_path(best)
    assert last == str(tmp_path / "BERT4Rec-Jan-01-2026_00-00-00-last.pth")
    assert best_model_path(last) == best and best_model_path(best) == best


def test_latest_checkpoint_is_the_newest_last_file_ignoring_temporaries(tmp_path):
    older, newer = tmp_path / "a-last.pth", tmp_path / "b-last.pth"
    for n, path in enumerate((older, newer, tmp_path / "b.pth", tmp_path / ".tmp-x-last.pth")):
        save_checkpoint({"n": n}, path)
        os.utime(path, (1000 + n, 1000 + n))
    assert find_latest_checkpoint(tmp_path) == str(newer)


def test_no_checkpoint_to_resume_names_the_folder_and_the_fix(tmp_path):
    with pytest.raises(CheckpointError) as missing:
        find_latest_checkpoint(tmp_path)
    assert str(missing.value) == (
        f"no '*-last.pth' checkpoint in {str(tmp_path)!r} to resume from; pass --resume=<path to a checkpoint> "
        f"or set checkpoint_dir to the folder of the killed run")


def test_rng_state_round_trips_through_a_checkpoint(tmp_path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    random.random(), np.random.normal(), torch.rand(3)  # leave cached state (numpy's gauss) mid-stream
    save_checkpoint({"rng": capture_rng_state()}, tmp_path / "rng.pth")
    expected = (random.random(), np.random.normal(), torch.rand(3))
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    restore_rng_state(load_checkpoint(tmp_path / "rng.pth")["rng"])
    again = (random.random(), np.random.normal(), torch.rand(3))
    assert again[:2] == expected[:2] and torch.equal(again[2], expected[2])
