"""Resume: a run killed with SIGKILL continues from its last checkpoint and ends exactly where an
uninterrupted run with the same seed ends (same metrics, bit-identical weights and optimizer state)."""

import glob
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch
import yaml

from recbole_bert4rec import run_recbole
from recbole_bert4rec.checkpoint import CheckpointError, last_checkpoint_path, load_checkpoint
from recbole_bert4rec.cli import build_parser
from tests.tiny_data import pattern_sequences, tiny_config, write_sequences

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Runs the real CLI. STARTED_EPOCHS_FILE records each epoch as it starts. With STALL_AT_EPOCH=e the
# process stops inside epoch e (after its first batch) and writes "stalled" until it is killed:
# a SIGKILL mid-epoch, at a known point, with epoch e-1's checkpoint on disk.
DRIVER = textwrap.dedent("""
    import json, os, sys, time
    from recbole_bert4rec import cli, trainer
    from recbole_bert4rec.dataloader import MaskedItemSequenceDataLoader

    stall_at = int(os.environ.get("STALL_AT_EPOCH", "-1"))
    progress = {"epoch": None, "batches": 0}

    train_epoch = trainer.SafeCheckpointMixin._train_epoch
    def recording_train_epoch(self, train_data, epoch_idx, **kwargs):
        with open(os.environ["STARTED_EPOCHS_FILE"], "a") as f:
            f.write(f"{epoch_idx}\\n")
        progress.update(epoch=epoch_idx, batches=0)
        return train_epoch(self, train_data, epoch_idx, **kwargs)
    trainer.SafeCheckpointMixin._train_epoch = recording_train_epoch

    collate = MaskedItemSequenceDataLoader.collate_fn
    def stalling_collate(self, index):
        progress["batches"] += 1
        if progress["epoch"] == stall_at and progress["batches"] == 2:
            open("stalled", "w").close()
            time.sleep(300)
        return collate(self, index)
    MaskedItemSequenceDataLoader.collate_fn = stalling_collate

    evaluate = trainer.SafeCheckpointMixin.evaluate
    def recording_evaluate(self, eval_data, load_best_model=True, model_file=None, show_progress=False):
        result = evaluate(self, eval_data, load_best_model, model_file, show_progress)
        if load_best_model:  # the final test evaluation (validation passes load_best_model=False)
            with open("result.json", "w") as f:
                json.dump({"best_valid_score": self.best_valid_score, "best_valid_result":
                           dict(self.best_valid_result), "test_result": dict(result)}, f)
        return result
    trainer.SafeCheckpointMixin.evaluate = recording_evaluate

    sys.exit(cli.main(sys.argv[1:]))
""")


def start_run(folder, config_file, *extra_args, stall_at_epoch=-1):
    os.makedirs(folder, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               STALL_AT_EPOCH=str(stall_at_epoch), STARTED_EPOCHS_FILE=os.path.join(folder, "started_epochs.txt"))
    command = [sys.executable, os.path.join(os.path.dirname(folder), "driver.py"), "--model=BERT4Rec",
               "--dataset=tiny", f"--config_files={config_file}", *extra_args]
    return subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def finish(process, timeout=120):
    _, stderr = process.communicate(timeout=timeout)
    assert process.returncode == 0, stderr[-3000:]


def started_epochs(folder):
    with open(os.path.join(folder, "started_epochs.txt")) as f:
        return [int(line) for line in f]


def last_checkpoints(folder):
    return glob.glob(os.path.join(folder, "saved", "*-last.pth"))


def test_sigkilled_run_resumes_to_the_same_result_as_an_uninterrupted_run(tmp_path):
    data = write_sequences(str(tmp_path / "data"), "tiny", pattern_sequences())
    (tmp_path / "driver.py").write_text(DRIVER)
    config = tiny_config(data, epochs=6, stopping_step=3, checkpoint_dir="saved")
    config_file = tmp_path / "tiny.yaml"
    config_file.write_text(yaml.safe_dump(config))
    uninterrupted, killed = str(tmp_path / "uninterrupted"), str(tmp_path / "killed")

    reference = start_run(uninterrupted, config_file)
    victim = start_run(killed, config_file, stall_at_epoch=2)
    try:
        deadline = time.monotonic() + 120
        while not os.path.exists(os.path.join(killed, "stalled")):
            assert victim.poll() is None, victim.stderr.read()[-3000:]
            assert time.monotonic() < deadline, "training did not reach epoch 2"
            time.sleep(0.01)
        victim.send_signal(signal.SIGKILL)
        assert victim.wait(timeout=30) == -signal.SIGKILL
    finally:
        victim.kill()
        victim.stderr.close()
    assert not os.path.exists(os.path.join(killed, "result.json"))  # it really died before finishing
    (checkpoint_file,) = last_checkpoints(killed)
    assert load_checkpoint(checkpoint_file)["epoch"] == 1  # killed inside epoch 2: epoch 1's checkpoint is the last
    assert started_epochs(killed) == [0, 1, 2]

    finish(start_run(killed, config_file, "--resume"))
    finish(reference)

    assert started_epochs(killed) == [0, 1, 2] + [2, 3, 4, 5]  # the resumed process redid epoch 2 only
    with open(os.path.join(uninterrupted, "result.json")) as a, open(os.path.join(killed, "result.json")) as b:
        assert json.load(a) == json.load(b)  # tolerance: none, exact equality
    (reference_last,) = last_checkpoints(uninterrupted)
    assert_same_training_state(load_checkpoint(reference_last), load_checkpoint(checkpoint_file))


def assert_same_training_state(a, b):
    assert (a["epoch"], a["cur_step"], a["best_valid_score"]) == (b["epoch"], b["cur_step"], b["best_valid_score"])
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for name in a["state_dict"]:
        assert torch.equal(a["state_dict"][name], b["state_dict"][name]), name
    for param, state in a["optimizer"]["state"].items():
        for key, value in state.items():
            assert torch.equal(value, b["optimizer"]["state"][param][key]), (param, key)
    assert torch.equal(a["rng_state"]["torch"], b["rng_state"]["torch"])


def test_resumed_run_matches_uninterrupted_in_process(tiny_data):
    full = run_recbole("BERT4Rec", "tiny", config_dict=tiny_config(
        tiny_data, epochs=3, checkpoint_dir=os.path.join(tiny_data, "full")))
    cut = tiny_config(tiny_data, checkpoint_dir=os.path.join(tiny_data, "cut"))
    run_recbole("BERT4Rec", "tiny", config_dict=dict(cut, epochs=1))
    resumed = run_recbole("BERT4Rec", "tiny", config_dict=dict(cut, epochs=3), resume_from="latest")
    assert resumed["test_result"] == full["test_result"]
    assert resumed["best_valid_result"] == full["best_valid_result"]
    assert_same_training_state(load_checkpoint(last_checkpoint_path(full["saved_model_file"])),
                               load_checkpoint(last_checkpoint_path(resumed["saved_model_file"])))


def test_resuming_a_finished_run_trains_nothing_and_keeps_the_best_model(tiny_data):
    config = tiny_config(tiny_data, epochs=2)
    first = run_recbole("BERT4Rec", "tiny", config_dict=config)
    best_bytes = open(first["saved_model_file"], "rb").read()
    again = run_recbole("BERT4Rec", "tiny", config_dict=config, resume_from=last_checkpoint_path(
        first["saved_model_file"]))
    assert again["test_result"] == first["test_result"]
    assert open(first["saved_model_file"], "rb").read() == best_bytes


def test_resume_refuses_a_dataset_with_other_ids(tiny_data, tmp_path):
    first = run_recbole("BERT4Rec", "tiny", config_dict=tiny_config(tiny_data, epochs=1))
    other = write_sequences(str(tmp_path / "other"), "tiny", pattern_sequences(n_users=50, seed=3))
    with pytest.raises(CheckpointError) as refused:
        run_recbole("BERT4Rec", "tiny", config_dict=tiny_config(other, epochs=2),
                    resume_from=last_checkpoint_path(first["saved_model_file"]))
    assert str(refused.value) == (
        f"the data differ from the run of {last_checkpoint_path(first['saved_model_file'])!r}: its user/item id "
        f"mappings do not match the dataset loaded now. Resume with the same dataset files and filtering settings")


def test_resume_flag_means_latest_or_a_given_file():
    parse = build_parser().parse_known_args
    assert parse(["--resume"])[0].resume == "latest"
    assert parse(["--resume=saved/x-last.pth"])[0].resume == "saved/x-last.pth"
    assert parse([])[0].resume is None
