"""Dataset creation and splitting: our dataset/loader for our models, RecBole's for the rest."""

import os
from logging import getLogger

import recbole.data
from recbole.data.utils import create_samplers, get_dataloader

from recbole_bert4rec.config import is_plugin_model
from recbole_bert4rec.dataloader import MaskedItemSequenceDataLoader
from recbole_bert4rec.dataset import BERT4RecDataset
from recbole_bert4rec.validation import check_interaction_file


def check_dataset_files(config):
    """Fail early, naming the path, instead of RecBole's download attempt or a late crash."""
    if config["benchmark_filename"]:
        return
    folder = os.path.abspath(config["data_path"])
    inter_file = os.path.join(folder, f"{config['dataset']}.inter")
    if not os.path.isfile(inter_file):
        raise FileNotFoundError(
            f"dataset {config['dataset']!r}: no interaction file at {inter_file}. Put the RecBole atomic files "
            f"'{config['dataset']}.inter' (and optional .item/.user) in that folder, or set data_path to the "
            f"folder that contains '{config['dataset']}/' (e.g. --data_path=/data/recbole)."
        )


def create_dataset(config):
    """Load and filter the dataset named in ``config``."""
    check_dataset_files(config)
    if is_plugin_model(config["model"], config.model_class):
        check_interaction_file(config)
        return BERT4RecDataset(config)
    return recbole.data.create_dataset(config)


def data_preparation(config, dataset):
    """Split into train/valid/test loaders. Ours: masking train loader + RecBole's eval loaders."""
    if not isinstance(dataset, BERT4RecDataset):
        train_data, valid_data, test_data = recbole.data.data_preparation(config, dataset)
        valid_data.eval_phase, test_data.eval_phase = "valid", "test"  # for the trainer's seen-item filter
        return train_data, valid_data, test_data
    built = dataset.build()
    _, valid_sampler, test_sampler = create_samplers(config, dataset, built)
    train_data = MaskedItemSequenceDataLoader(config, built[0], shuffle=config["shuffle"])
    valid_data = get_dataloader(config, "valid")(config, built[1], valid_sampler, shuffle=False)
    test_data = get_dataloader(config, "test")(config, built[2], test_sampler, shuffle=False)
    getLogger().info(
        f"[Training]: {len(train_data.train_users)} user sequences, train_batch_size = {config['train_batch_size']}, "
        f"masking: mask_ratio = {config['mask_ratio']}, last_item_mask_ratio = {config['last_item_mask_ratio']}; "
        f"[Evaluation]: eval_batch_size = {config['eval_batch_size']}, eval_args: {config['eval_args']}"
    )
    return train_data, valid_data, test_data
