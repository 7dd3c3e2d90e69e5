"""Tiny atomic datasets and configs written by the tests themselves."""

import os

import numpy as np


def write_sequences(folder, name, sequences, with_time=True):
    """Write RecBole atomic files for {user: [items in time order]}; returns data_path."""
    dataset_dir = os.path.join(folder, name)
    os.makedirs(dataset_dir, exist_ok=True)
    with open(os.path.join(dataset_dir, f"{name}.inter"), "w", encoding="utf-8") as f:
        f.write("user_id:token\titem_id:token" + ("\ttimestamp:float" if with_time else "") + "\n")
        for user, items in sequences.items():
            for t, item in enumerate(items):
                f.write(f"{user}\t{item}" + (f"\t{t}" if with_time else "") + "\n")
    return str(folder)


def pattern_sequences(n_users=60, n_items=40, min_len=8, max_len=20, seed=0):
    """Each user walks the catalog in steps of +1 from a random start: a learnable next-item rule."""
    rng = np.random.default_rng(seed)
    sequences = {}
    for user in range(1, n_users + 1):
        start = int(rng.integers(n_items))
        length = int(rng.integers(min_len, max_len + 1))
        sequences[f"u{user}"] = [f"i{(start + step) % n_items + 1}" for step in range(length)]
    return sequences


def tiny_config(data_path, **overrides):
    """A small, fast BERT4Rec configuration over a test-written dataset."""
    config = {
        "data_path": data_path,
        "checkpoint_dir": os.path.join(data_path, "saved"),
        "load_col": None,
        "MAX_ITEM_LIST_LENGTH": 10,
        "hidden_size": 16,
        "inner_size": 32,
        "n_layers": 1,
        "n_heads": 2,
        "train_batch_size": 16,
        "eval_batch_size": 64,
        "epochs": 2,
        "show_progress": False,
        "state": "WARNING",
        "seed": 7,
    }
    config.update(overrides)
    return config
