"""Data-parallel training on CPU: 2 gloo ranks through RecBole's own multi-process settings."""

import os
import socket
import subprocess
import sys

import torch
import torch.multiprocessing as mp

from recbole_bert4rec import prepare
from recbole_bert4rec.distributed import finish, torchrun_settings
from recbole_bert4rec.quick_start import run
from tests.tiny_data import tiny_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = os.path.join(REPO, "run_recbole.py")
SMALL = ["--hidden_size=16", "--inner_size=32", "--n_layers=1", "--MAX_ITEM_LIST_LENGTH=10", "--show_progress=False",
         "--load_col=None"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def train_one_rank(local_rank, data_path, out_dir, port):
    """One spawned rank: train 2 epochs on its shard, save its weights and the users it was given."""
    os.chdir(out_dir)
    config_dict = tiny_config(data_path, epochs=2, local_rank=local_rank, world_size=2, nproc=2, offset=0,
                              ip="127.0.0.1", port=port)
    config, model, trainer, (train, valid, _) = prepare("BERT4Rec", "tiny", config_dict=config_dict)
    initial = {k: v.clone() for k, v in model.state_dict().items()}  # after DDP's broadcast from rank 0
    train.sampler.set_epoch(0)
    shard = list(train.sampler)
    trainer.fit(train, valid, saved=False)
    torch.save({"state_dict": model.state_dict(), "initial": initial, "shard": shard,
                "n_users": train.sample_size, "backend": torch.distributed.get_backend()},
               os.path.join(out_dir, f"rank{local_rank}.pt"))
    finish(local_rank)


def test_two_gloo_ranks_train_disjoint_shards_and_end_with_identical_weights(tiny_data, tmp_path):
    mp.spawn(train_one_rank, args=(tiny_data, str(tmp_path), free_port()), nprocs=2, join=True)
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1))
    assert rank0["backend"] == "gloo"
    for name, weight in rank0["state_dict"].items():
        assert torch.equal(weight, rank1["state_dict"][name]), name
    assert any(not torch.equal(w, rank0["initial"][k]) for k, w in rank0["state_dict"].items())  # it trained
    assert all(torch.equal(w, rank1["initial"][k]) for k, w in rank0["initial"].items())  # same start
    assert not set(rank0["shard"]) & set(rank1["shard"])
    assert set(rank0["shard"]) | set(rank1["shard"]) == set(range(rank0["n_users"]))


def test_quick_start_run_with_nproc_2_returns_rank_0_test_metrics(tiny_data, tmp_path):
    result = run("BERT4Rec", "tiny", config_dict=tiny_config(tiny_data, epochs=2, ip="127.0.0.1"),
                 nproc=2, port=free_port())
    assert set(result["test_result"]) == {"hit@10", "ndcg@10", "mrr@10"}
    assert os.path.isfile(result["saved_model_file"])  # one best-model file, written by rank 0, read by both


def test_two_machines_without_shared_storage_through_the_cli_flags(tiny_data, tmp_path):
    """world_size 2 from two launches of 1 process (RecBole's multi-machine flags), each its own checkpoint_dir:
    only rank 0 has the best model and sends it to the other rank for the test evaluation."""
    port, runs = free_port(), []
    for offset in (0, 1):
        folder = tmp_path / f"machine{offset}"
        folder.mkdir()
        args = ["--model=BERT4Rec", "--dataset=tiny", f"--data_path={tiny_data}", "--epochs=2", *SMALL,
                f"--checkpoint_dir={folder / 'saved'}", "--nproc", "1", "--world_size", "2",
                "--group_offset", str(offset), "--ip", "127.0.0.1", "--port", port]
        runs.append(subprocess.Popen([sys.executable, RUN, *args], cwd=folder, env=dict(os.environ, PYTHONPATH=REPO),
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    logs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], logs[1][-3000:]
    results = [next(line for line in log.splitlines() if "test result" in line).split("test result")[1] for log in logs]
    assert results[0] == results[1]
    assert not list((tmp_path / "machine1" / "saved").glob("*.pth"))  # rank 1 wrote no checkpoint, yet it tested


def test_torchrun_environment_maps_to_recbole_settings():
    env = {"LOCAL_RANK": "1", "RANK": "5", "WORLD_SIZE": "8", "LOCAL_WORLD_SIZE": "4",
           "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29500"}
    assert torchrun_settings(env) == {"local_rank": 1, "offset": 4, "world_size": 8, "nproc": 4,
                                      "ip": "10.0.0.1", "port": "29500"}
    assert torchrun_settings({"LOCAL_RANK": "0"}) is None


def test_torchrun_launches_two_ranks_of_the_cli(tiny_data, tmp_path):
    args = ["--model=BERT4Rec", "--dataset=tiny", f"--data_path={tiny_data}", "--epochs=2", *SMALL,
            f"--checkpoint_dir={tmp_path / 'saved'}"]
    run = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}",
         RUN, *args],
        cwd=tmp_path, env=dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS="1"),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:]
    assert "world_size = 2" in run.stdout and "test result" in run.stdout
    assert len(list((tmp_path / "saved").glob("BERT4Rec-*.pth"))) >= 1
