import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = os.path.join(REPO, "run_recbole.py")


def run_cli(*args, cwd):
    env = dict(os.environ, PYTHONPATH=REPO)
    return subprocess.run([sys.executable, RUN, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


SMALL = ["--hidden_size=16", "--inner_size=32", "--n_layers=1", "--MAX_ITEM_LIST_LENGTH=10", "--show_progress=False",
         "--load_col=None"]


def test_cli_trains_our_bert4rec_and_prints_recbole_result_lines(tiny_data, tmp_path):
    out = run_cli("--model=BERT4Rec", "--dataset=tiny", f"--data_path={tiny_data}", "--epochs=2", *SMALL, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    log = out.stdout + out.stderr
    assert "best valid" in log and "test result" in log
    assert "ndcg@10" in log and "hit@10" in log and "mrr@10" in log
    assert "output_projection" in log and "user sequences" in log  # our model and our train loader ran


def test_cli_config_files_are_space_separated_and_later_files_win(tiny_data, tmp_path):
    (tmp_path / "a.yaml").write_text("epochs: 5\nhidden_size: 16\n")
    (tmp_path / "b.yaml").write_text("epochs: 1\n")
    out = run_cli("--model=BERT4Rec", "--dataset=tiny", f"--data_path={tiny_data}",
                  f"--config_files={tmp_path / 'a.yaml'} {tmp_path / 'b.yaml'}", *SMALL, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    log = out.stdout + out.stderr
    assert "epoch 0 training" in log and "epoch 1 training" not in log


def test_cli_falls_back_to_recbole_models(tiny_data, tmp_path):
    out = run_cli("--model=SASRec", "--dataset=tiny", f"--data_path={tiny_data}", "--epochs=1",
                  "--train_neg_sample_args=None", *SMALL, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "SASRec(" in out.stdout + out.stderr and "test result" in out.stdout + out.stderr


@pytest.mark.parametrize("args,message", [
    (["--model=BERT5Rec"], "unknown model 'BERT5Rec'"),
    (["--epochs", "3"], "overrides are written --key=value"),
    (["--mask_ratio=1.5"], "mask_ratio must be in (0, 1)"),
])
def test_cli_bad_input_exits_2_with_a_clear_message(tmp_path, args, message):
    out = run_cli("--dataset=ml-100k", *args, cwd=tmp_path)
    assert out.returncode == 2
    assert message in out.stderr


def test_cli_smoke_on_bundled_ml_100k(tmp_path):
    out = run_cli("--model=BERT4Rec", "--dataset=ml-100k", "--epochs=1", "--show_progress=False", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    log = out.stdout + out.stderr
    assert "ml-100k" in log and "test result" in log
