"""Checkpoints that hold only tensors and plain data, written atomically, read with weights_only=True.

RecBole pickles its whole Config into checkpoints: torch >= 2.6 refuses to load them by default,
and loading one without that guard can run code from the file.
"""

import enum
import os
import pickle
import tempfile
import zipfile

import numpy as np
import torch

FORMAT_VERSION = 1


def to_plain(value):
    """Recursively turn config values into str/int/float/bool/None/list/dict."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [to_plain(v) for v in value]
    if isinstance(value, type):
        return value.__name__
    return str(value)


def plain_config(config):
    final = getattr(config, "final_config_dict", config)
    return {key: to_plain(value) for key, value in final.items()}


def save_checkpoint(state, path):
    """``torch.save`` to a temporary file in the same folder, then rename: a kill mid-write leaves
    the previous checkpoint intact."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    state = dict(state, format_version=FORMAT_VERSION)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".pth", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class CheckpointError(RuntimeError):
    """A checkpoint file could not be read safely."""


def load_checkpoint(path, map_location="cpu"):
    """Load a checkpoint with ``weights_only=True``; code inside the file never runs."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint {path!r} does not exist")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"refused to load {path!r}: it contains pickled Python objects, not only tensors and plain data "
            f"(a stock RecBole checkpoint, or a crafted file). Nothing from it was executed. "
            f"Only checkpoints written by recbole_bert4rec can be opened. Detail: {str(err).splitlines()[0]}"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as err:
        raise CheckpointError(
            f"checkpoint {path!r} is truncated or corrupt ({type(err).__name__}: {str(err).splitlines()[0]}); "
            f"use an earlier checkpoint or retrain"
        ) from None
