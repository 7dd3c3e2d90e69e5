"""BERT4Rec as a RecBole plugin: ``from recbole_bert4rec import BERT4Rec, Config, run_recbole``."""

from recbole_bert4rec.config import Config, get_model
from recbole_bert4rec.data import create_dataset, data_preparation
from recbole_bert4rec.dataloader import MaskedItemSequenceDataLoader
from recbole_bert4rec.dataset import BERT4RecDataset
from recbole_bert4rec.model import BERT4Rec
from recbole_bert4rec.quick_start import prepare, run_recbole
from recbole_bert4rec.trainer import Trainer, get_trainer

__version__ = "0.1.0"

__all__ = [
    "BERT4Rec", "BERT4RecDataset", "Config", "MaskedItemSequenceDataLoader", "Trainer", "create_dataset",
    "data_preparation", "get_model", "get_trainer", "prepare", "run_recbole",
]
