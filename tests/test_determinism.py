"""Same seed, same CPU: identical metrics and weights across runs; another seed: another model."""

import torch

from recbole_bert4rec import run_recbole
from recbole_bert4rec.checkpoint import load_checkpoint
from tests.tiny_data import tiny_config


def train(data_path, folder, **overrides):
    # Every random stream in play: dropout, random windows, BERT's mask/random/keep replacement.
    config = tiny_config(data_path, epochs=3, checkpoint_dir=f"{data_path}/{folder}", train_window="random",
                         mask_replace_probs=[0.8, 0.1, 0.1], hidden_dropout_prob=0.2, attn_dropout_prob=0.2,
                         **overrides)
    result = run_recbole("BERT4Rec", "tiny", config_dict=config)
    return result, load_checkpoint(result["saved_model_file"])["state_dict"]


def test_same_seed_gives_identical_metrics_and_weights(tiny_data):
    first, first_weights = train(tiny_data, "first")
    second, second_weights = train(tiny_data, "second")
    assert first["best_valid_result"] == second["best_valid_result"]
    assert first["test_result"] == second["test_result"]
    assert all(torch.equal(first_weights[name], second_weights[name]) for name in first_weights)


def test_another_seed_gives_another_model(tiny_data):
    _, seed_7 = train(tiny_data, "seed7")
    _, seed_8 = train(tiny_data, "seed8", seed=8)
    assert not torch.equal(seed_7["item_embedding.weight"], seed_8["item_embedding.weight"])
