import logging
import sys

import pytest
from recbole.model.sequential_recommender import SASRec
from recbole.model.sequential_recommender import BERT4Rec as RecBoleBERT4Rec

from recbole_bert4rec import BERT4Rec, Config
from recbole_bert4rec.config_checks import ConfigError
from tests.tiny_data import tiny_config


def test_bert4rec_name_resolves_to_our_class_with_our_yaml(tiny_data):
    config = Config("BERT4Rec", "tiny", config_dict=tiny_config(tiny_data))
    assert config.model_class is BERT4Rec and config.model_class is not RecBoleBERT4Rec
    assert config["transform"] is None
    assert "ft_ratio" not in config.final_config_dict
    assert config["last_item_mask_ratio"] == 0.1  # only in our BERT4Rec.yaml
    assert config["valid_metric"] == "NDCG@10"  # our overall.yaml
    assert config["train_neg_sample_args"]["distribution"] == "none"  # RecBole's form of ~


def test_other_model_names_fall_back_to_recbole_with_recbole_defaults(tiny_data):
    config = Config("SASRec", "tiny", config_dict={"data_path": tiny_data, "train_neg_sample_args": None})
    assert config.model_class is SASRec
    assert config["train_batch_size"] == 2048  # RecBole's overall.yaml, not ours
    assert config["valid_metric"] == "MRR@10"


def test_unknown_model_error_lists_available_models():
    with pytest.raises(ValueError, match=r"unknown model 'BERT5Rec'.*BERT4Rec.*SASRec"):
        Config("BERT5Rec", "ml-100k")


def test_sys_argv_words_do_not_leak_into_library_configs(tiny_data, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["pytest", "--epochs=999", "--learning_rate=5"])
    config = Config("BERT4Rec", "tiny", config_dict=tiny_config(tiny_data))
    assert config["epochs"] == 2 and config["learning_rate"] == 0.001


def test_cmd_args_override_dict_and_files(tiny_data, tmp_path):
    yaml_a, yaml_b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    yaml_a.write_text("learning_rate: 0.01\nn_layers: 3\n")
    yaml_b.write_text("n_layers: 4\n")
    config = Config("BERT4Rec", "tiny", [str(yaml_a), str(yaml_b)], tiny_config(tiny_data, n_layers=1),
                    cmd_args=["--learning_rate=0.02", "--mask_replace_probs=[0.8,0.1,0.1]"])
    assert config["learning_rate"] == 0.02
    assert config["n_layers"] == 1  # dict beats files, as in RecBole
    assert config["mask_replace_probs"] == [0.8, 0.1, 0.1]


def test_malformed_cmd_arg_is_an_error_naming_the_form():
    with pytest.raises(ValueError, match=r"--key=value"):
        Config("BERT4Rec", "ml-100k", cmd_args=["--epochs", "3"])


def test_recbole_transform_keys_are_ignored_with_one_warning(tiny_data, caplog):
    with caplog.at_level(logging.WARNING):
        config = Config("BERT4Rec", "tiny", config_dict=tiny_config(tiny_data, transform="mask_itemseq", ft_ratio=0.5))
    assert config["transform"] is None and "ft_ratio" not in config.final_config_dict
    warnings = [r for r in caplog.records if "ignores" in r.getMessage()]
    assert len(warnings) == 1 and "ft_ratio=0.5" in warnings[0].getMessage()


def test_recbole_bert4rec_yaml_keys_keep_their_meaning(tiny_data, tmp_path):
    recbole_style = tmp_path / "recbole_bert4rec.yaml"
    recbole_style.write_text(
        "n_layers: 3\nn_heads: 4\nhidden_size: 32\ninner_size: 64\nhidden_dropout_prob: 0.3\n"
        "attn_dropout_prob: 0.25\nhidden_act: swish\nlayer_norm_eps: 1e-6\ninitializer_range: 0.01\n"
        "mask_ratio: 0.4\nloss_type: BPR\ntransform: mask_itemseq\nft_ratio: 0.5\n"
    )
    config = Config("BERT4Rec", "tiny", [str(recbole_style)], {"data_path": tiny_data, "load_col": None})
    assert (config["n_layers"], config["n_heads"], config["hidden_size"], config["hidden_act"]) == (3, 4, 32, "swish")
    assert (config["mask_ratio"], config["loss_type"], config["layer_norm_eps"]) == (0.4, "BPR", 1e-6)


@pytest.mark.parametrize("key,value,message", [
    ("mask_ratio", 0.0, r"mask_ratio must be in \(0, 1\)"),
    ("mask_ratio", 1.0, r"mask_ratio must be in \(0, 1\)"),
    ("MAX_ITEM_LIST_LENGTH", 1, r"MAX_ITEM_LIST_LENGTH must be >= 2"),
    ("hidden_size", "abc", r"hidden_size must be an integer >= 1, got 'abc'"),
    ("n_heads", 3, r"hidden_size \(16\) must be divisible by n_heads \(3\)"),
    ("hidden_act", "mish", r"hidden_act must be one of"),
    ("train_window", "all", r"train_window must be 'latest' or 'random'"),
])
def test_bad_values_fail_before_loading_data(key, value, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        Config("BERT4Rec", "nowhere", config_dict=tiny_config(str(tmp_path), **{key: value}))


def test_recbole_builtin_class_passed_in_is_the_model_that_runs(tiny_data):
    from recbole_bert4rec import prepare
    _, model, _, _ = prepare(RecBoleBERT4Rec, "tiny", config_dict={"data_path": tiny_data, "load_col": None,
                                                                 "show_progress": False, "state": "WARNING",
                                                                 "train_neg_sample_args": None})
    assert type(model) is RecBoleBERT4Rec


def test_tuned_ml1m_settings_reach_our_bert4rec_only(tmp_path):
    """ml-1m's protocol applies to every model; our tuned training keys must not leak into RecBole's models."""
    ours = Config("BERT4Rec", "ml-1m", config_dict={"data_path": str(tmp_path)})
    theirs = Config("SASRec", "ml-1m", config_dict={"data_path": str(tmp_path), "loss_type": "BPR"})
    for config in (ours, theirs):  # protocol from properties/dataset/ml-1m.yaml
        assert config["MAX_ITEM_LIST_LENGTH"] == 200 and config["valid_metric"] == "NDCG@10"
        assert config["user_inter_num_interval"] == "[5,inf)"
    assert (ours["learning_rate"], ours["train_batch_size"], ours["lr_schedule"]) == (0.002, 64, "cosine")
    assert (theirs["learning_rate"], theirs["train_batch_size"]) == (0.001, 2048)  # RecBole's defaults
    assert theirs["lr_schedule"] is None  # so our trainer mixin keeps a constant lr for RecBole's models


def test_user_settings_override_tuned_settings(tmp_path):
    config = Config("BERT4Rec", "ml-1m", config_dict={"data_path": str(tmp_path), "learning_rate": 0.0005},
                    cmd_args=["--lr_schedule=constant"])
    assert (config["learning_rate"], config["lr_schedule"]) == (0.0005, "constant")
