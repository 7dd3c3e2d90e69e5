"""Scale path: fast atomic-file reads, the scale benchmark and the device check script (CPU smoke runs)."""

import json
import os
import subprocess
import sys

import pandas as pd
from recbole.data.dataset import Dataset as RecBoleDataset
from recbole.utils import FeatureSource

from recbole_bert4rec import Config
from recbole_bert4rec.dataset import BERT4RecDataset
from tests.tiny_data import tiny_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCHMARKS = os.path.join(REPO, "benchmarks")


def write_awkward_dataset(folder):
    """Tokens that look like numbers, missing values, quotes and a token_seq field."""
    os.makedirs(os.path.join(folder, "odd"))
    with open(os.path.join(folder, "odd", "odd.inter"), "w") as f:
        f.write("user_id:token\titem_id:token\trating:float\ttimestamp:float\n")
        for user in range(1, 13):
            for step in range(6):
                rating = "" if (user + step) % 5 == 0 else f"{(user * step) % 5 + 0.5}"
                f.write(f"{user:03d}\t{'0' * (step % 2)}{(user + step) % 9 + 1}\t{rating}\t{step}\n")
    with open(os.path.join(folder, "odd", "odd.item"), "w") as f:
        f.write("item_id:token\tgenre:token_seq\tyear:float\n")
        for item in range(1, 10):
            f.write(f"{item}\tAction Drama\t\n" if item % 3 == 0 else f"{item}\t\"Sci-Fi Film-Noir\"\t{1990 + item}\n")
    return folder


def test_c_parser_reads_atomic_files_exactly_like_recbole_python_parser(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data_path = write_awkward_dataset(str(tmp_path / "data"))
    config = Config("BERT4Rec", "odd", config_dict=tiny_config(data_path, load_col=None))
    dataset = BERT4RecDataset(config)
    for source, suffix in ((FeatureSource.INTERACTION, "inter"), (FeatureSource.ITEM, "item")):
        path = os.path.join(data_path, "odd", f"odd.{suffix}")
        fast = dataset._load_feat(path, source)
        recbole = RecBoleDataset._load_feat(dataset, path, source)  # RecBole's own read: python parser
        pd.testing.assert_frame_equal(fast, recbole)


def run_script(*args, timeout=600):
    out = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout,
                         env=dict(os.environ, PYTHONPATH=REPO))
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def scale_on_mini_data(tmp_path, mode, *args):
    """benchmarks/scale.py ``mode`` on a 60-user synthetic dataset; returns its JSON report."""
    out = tmp_path / f"{mode}.json"
    run_script(os.path.join(BENCHMARKS, "make_synthetic.py"), "--out", str(tmp_path), "--name", "mini",
               "--users", "60", "--items", "80", "--interactions", "3000")
    run_script(os.path.join(BENCHMARKS, "scale.py"), mode, "--data-path", str(tmp_path), "--dataset", "mini",
               *args, "--out", str(out))
    return json.loads(out.read_text())


def test_scale_benchmark_reports_build_train_evaluate_and_peak_memory(tmp_path):
    report = scale_on_mini_data(tmp_path, "ours", "--train-batches", "2", "--batch", "16", "--report-every", "1")
    assert report["outcome"] == "done" and report["fits_24_gib"]
    phases = report["phases"]
    assert phases["build"]["users"] == 60 and phases["build"]["train_samples"] == 60
    assert phases["train"]["batches"] == 2 and phases["train"]["samples"] == 32 and phases["train"]["samples_per_s"] > 0
    assert phases["evaluate"]["users"] == 60 and set(phases["evaluate"]["result"]) == {"hit@10", "ndcg@10", "mrr@10"}
    assert report["peak_rss_mib"] >= phases["build"]["peak_rss_mib"] > 0


def test_variants_time_every_loss_and_precision_on_the_same_batches(tmp_path):
    report = scale_on_mini_data(tmp_path, "variants", "--train-batches", "1", "--repeats", "1", "--batch", "8")
    median = report["median"]
    assert set(median) == {"CE/fp32", "CE/bf16", "sampled_softmax/fp32", "sampled_softmax/bf16"}
    assert median["CE/fp32"]["speedup_vs_CE_fp32"] == 1.0
    assert all(figures["seconds_per_batch"] > 0 for figures in median.values())


def test_recbole_builds_are_capped_and_extrapolated_to_full_size(tmp_path):
    out = tmp_path / "recbole.json"
    run_script(os.path.join(BENCHMARKS, "scale.py"), "recbole", "--data-path", str(tmp_path), "--scales", "0.0005",
               "0.001", "--cap-gib", "12", "--out", str(out))
    report = json.loads(out.read_text())
    assert [run["outcome"] for run in report["runs"]] == ["done", "done"]
    assert all(run["cap_gib"] == 12 for run in report["runs"])
    rows = [run["phases"]["build"]["train_rows"] for run in report["runs"]]
    assert rows[1] > rows[0] > 0  # one row per interaction except each user's first
    assert report["extrapolation"]["full_train_rows"] == 20_000_263 - 138_493
    assert "not a measurement" in report["extrapolation"]["note"]


def test_recbole_build_stops_at_the_first_scale_the_cap_refuses(tmp_path):
    out = tmp_path / "recbole.json"
    run_script(os.path.join(BENCHMARKS, "scale.py"), "recbole", "--data-path", str(tmp_path), "--scales", "0.0005",
               "0.001", "--cap-gib", "0.3", "--out", str(out))
    runs = json.loads(out.read_text())["runs"]
    assert len(runs) == 1 and runs[0]["outcome"] != "done"  # reported, and the larger scale never started


def test_gpu_check_smoke_runs_every_measurement_on_cpu(tmp_path):
    out = tmp_path / "check.json"
    run_script(os.path.join(BENCHMARKS, "gpu_check.py"), "--device", "cpu", "--smoke", "--smoke-scale", "0.0005",
               "--smoke-batches", "1", "--synthetic-path", str(tmp_path), "--out", str(out))
    report = json.loads(out.read_text())
    assert set(report["runs"]) == {"synthetic-smoke/ours/fp32", "synthetic-smoke/ours/bf16",
                                   "synthetic-smoke/recbole/fp32"}
    assert all(run["outcome"] == "done" for run in report["runs"].values()), report["runs"]
    summary = report["summary"]["synthetic-smoke"]
    assert summary["ours/bf16"]["speedup_vs_recbole"] > 0 and summary["ours/fp32"]["eval_users_per_s"] > 0
