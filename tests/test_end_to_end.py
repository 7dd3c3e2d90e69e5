import os

import pytest
from recbole.trainer import Trainer as RecBoleTrainer

from recbole_bert4rec import BERT4Rec, Config, create_dataset, data_preparation, run_recbole
from recbole_bert4rec.checkpoint import CheckpointError
from tests.tiny_data import pattern_sequences, tiny_config, write_sequences


def test_train_and_full_sort_evaluate_learns_the_pattern(tiny_data):
    result = run_recbole("BERT4Rec", "tiny", config_dict=tiny_config(
        tiny_data, epochs=40, learning_rate=0.01, hidden_dropout_prob=0.0, attn_dropout_prob=0.0))
    test = result["test_result"]
    assert set(test) == {"hit@10", "ndcg@10", "mrr@10"}
    # next item = previous + 1: a model that learned the order beats popularity-free chance (~10/37) by far
    assert test["hit@10"] > 0.6, test
    assert result["best_valid_result"]["ndcg@10"] > 0.3
    assert os.path.isfile(result["saved_model_file"])


def test_drop_in_with_recbole_own_trainer(tiny_data):
    """Existing RecBole code: our Config/data preparation/model, RecBole's stock Trainer."""
    config = Config(BERT4Rec, "tiny", config_dict=tiny_config(tiny_data, epochs=2))
    dataset = create_dataset(config)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    model = BERT4Rec(config, train_data.dataset)
    trainer = RecBoleTrainer(config, model)
    best_score, _ = trainer.fit(train_data, valid_data, saved=False)
    result = trainer.evaluate(test_data, load_best_model=False)
    assert best_score > 0 and 0 <= result["ndcg@10"] <= 1


def test_best_checkpoint_loads_on_current_torch_and_refuses_pickles(tiny_data):
    result = run_recbole("BERT4Rec", "tiny", config_dict=tiny_config(tiny_data))
    import torch
    state = torch.load(result["saved_model_file"], weights_only=True)  # plain data + tensors only
    assert state["config"]["model"] == "BERT4Rec" and "state_dict" in state
    pickled = os.path.join(tiny_data, "pickled.pth")
    torch.save({"config": Config("BERT4Rec", "tiny", config_dict=tiny_config(tiny_data))}, pickled)
    from recbole_bert4rec.checkpoint import load_checkpoint
    with pytest.raises(CheckpointError, match="refused to load"):
        load_checkpoint(pickled)


def test_missing_dataset_files_name_the_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no interaction file at .*/nowhere/nowhere\.inter"):
        run_recbole("BERT4Rec", "nowhere", config_dict=tiny_config(str(tmp_path)))


def test_dataset_without_time_field_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = write_sequences(str(tmp_path / "data"), "notime", pattern_sequences(), with_time=False)
    with pytest.raises(ValueError, match=r"no time field 'timestamp'.*add a 'timestamp:float' column"):
        run_recbole("BERT4Rec", "notime", config_dict=tiny_config(data))


def test_random_split_is_refused_with_the_fix(tiny_data):
    with pytest.raises(ValueError, match=r"leave-one-out split only.*LS: valid_and_test"):
        run_recbole("BERT4Rec", "tiny", config_dict=tiny_config(
            tiny_data, eval_args={"split": {"RS": [0.8, 0.1, 0.1]}, "order": "TO", "mode": "full"}))
