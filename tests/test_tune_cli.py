"""run_tune.py's command line and the search plan: checks that fail fast, before Ray starts."""

import os

import pytest

from recbole_bert4rec.tune import plan as plan_module
from recbole_bert4rec.tune import ray_runtime
from recbole_bert4rec.tune.cli import build_parser, main, options_from
from recbole_bert4rec.tune.plan import SearchOptions, SearchSetup, plan_search
from tests.tiny_data import tiny_config

SPACE = {"learning_rate": {"loguniform": [1e-4, 1e-2]}}


def test_search_flags_are_parsed_and_other_keys_stay_recbole_overrides():
    args, overrides = build_parser().parse_known_args(
        ["--num-samples=8", "--gpus-per-trial=0.5", "--max-concurrent=2", "--time-budget-s=600",
         "--epochs=20", "--num=3", "--learning_rate=0.01"])
    options = options_from(args)
    assert (options.num_samples, options.gpus_per_trial, options.max_concurrent, options.time_budget_s) == \
        (8, 0.5, 2, 600)
    assert options.scheduler == "asha" and options.search_alg is None
    assert overrides == ["--epochs=20", "--num=3", "--learning_rate=0.01"]  # --num is not --num-samples


def test_missing_search_algorithm_package_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setattr(plan_module, "find_spec", lambda name: None)
    assert main(["--search-alg=optuna"]) == 2
    err = capsys.readouterr().err
    assert "needs the optuna package" in err and "pip install optuna" in err


def test_missing_search_algorithm_names_the_pip_command(monkeypatch):
    monkeypatch.setattr(plan_module, "find_spec", lambda name: None)
    with pytest.raises(ValueError, match="pip install hyperopt"):
        plan_search(SPACE, options=SearchOptions(search_alg="hyperopt"))


def test_grid_with_a_search_algorithm_is_refused(monkeypatch):
    monkeypatch.setattr(plan_module, "find_spec", lambda name: object())
    with pytest.raises(ValueError, match="'grid' works only without --search-alg"):
        plan_search({"n_layers": {"grid": [1, 2]}}, options=SearchOptions(search_alg="optuna"))


def test_a_key_both_searched_and_fixed_is_refused(capsys):
    assert main(["--learning_rate=0.01"]) == 2  # the default space searches learning_rate
    assert "learning_rate: both searched" in capsys.readouterr().err


def test_resume_takes_no_overrides_and_needs_a_search_folder(tmp_path, capsys):
    assert main([f"--resume={tmp_path}", "--epochs=3"]) == 2
    assert "drop --epochs=3" in capsys.readouterr().err
    assert main([f"--resume={tmp_path}"]) == 2
    assert "holds no search started by run_tune.py" in capsys.readouterr().err


def test_plan_makes_every_path_absolute_and_leaves_devices_to_ray(tiny_data, tmp_path):
    config = tiny_config(os.path.relpath(tiny_data), gpu_id="1", valid_metric="Hit@10", epochs=7, eval_step=2)
    setup = plan_search(SPACE, "BERT4Rec", "tiny", config_dict=config)

    assert setup.plan.base_config["data_path"] == os.path.abspath(tiny_data)
    assert "gpu_id" not in setup.plan.base_config and "checkpoint_dir" not in setup.plan.base_config
    assert (setup.plan.metric, setup.mode) == ("hit@10", "max")
    assert setup.max_validations == 3  # validations after epochs 2, 4, 6


def test_plan_accepts_recbole_models_and_recbole_hyper_files(tiny_data, tmp_path):
    hyper = tmp_path / "hyper.test"
    hyper.write_text("learning_rate loguniform -8,0\nhidden_size choice [16,32]\n")
    config = tiny_config(tiny_data, train_neg_sample_args=None)  # RecBole's SASRec with its CE loss needs it
    config.pop("hidden_size")
    setup = plan_search(str(hyper), "SASRec", "tiny", config_dict=config)
    assert setup.plan.model == "SASRec" and set(setup.space) == {"learning_rate", "hidden_size"}


def test_bundled_ml100k_needs_no_data_path():
    setup = plan_search(SPACE, "BERT4Rec", "ml-100k")
    assert "data_path" not in setup.plan.base_config


def test_setup_survives_the_round_trip_through_its_folder(tiny_data, tmp_path):
    options = SearchOptions(storage_path=str(tmp_path), name="s", num_samples=3)
    config = tiny_config(tiny_data)
    config.pop("n_layers")
    setup = plan_search({"n_layers": {"grid": [1, 2]}, **SPACE}, "BERT4Rec", "tiny", config_dict=config,
                        options=options)
    os.makedirs(setup.folder)
    setup.save()
    loaded = SearchSetup.load(setup.folder)
    assert loaded == setup
    assert loaded.expected_trials == 6  # num_samples repeats the whole grid


def test_local_ray_too_small_for_one_trial_is_refused_not_left_waiting(monkeypatch):
    monkeypatch.setattr(ray_runtime.ray, "cluster_resources", lambda: {"CPU": 2.0})
    with pytest.raises(RuntimeError, match="asks for 1 GPU but the Ray cluster has 0"):
        ray_runtime.check_trial_fits(SearchOptions(gpus_per_trial=1), fixed_size=True)
    ray_runtime.check_trial_fits(SearchOptions(gpus_per_trial=1), fixed_size=False)  # may autoscale: a warning


def test_cluster_address_comes_from_the_flag_then_ray_address(monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.5:6379")
    assert ray_runtime.cluster_address(SearchOptions()) == "10.0.0.5:6379"
    assert ray_runtime.cluster_address(SearchOptions(address="127.0.0.1:7000")) == "127.0.0.1:7000"
    monkeypatch.delenv("RAY_ADDRESS")
    assert ray_runtime.cluster_address(SearchOptions()) is None


def test_workers_get_the_source_checkout_on_their_path():
    checkout = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = ray_runtime.code_runtime_env()
    assert env["env_vars"]["PYTHONPATH"].split(os.pathsep)[0] == checkout


def test_cloud_storage_uri_is_refused_before_ray_starts(capsys):
    assert main(["--storage-path=s3://bucket/experiments", "--epochs=1"]) == 2
    assert "use a folder every node mounts" in capsys.readouterr().err
