"""Checkpoints that hold only tensors and plain data, written atomically, read with weights_only=True.

RecBole pickles its whole Config into checkpoints: torch >= 2.6 refuses to load them by default,
and loading one without that guard can run code from the file.
"""

import enum
import glob
import os
import pickle
import tempfile
import warnings

import numpy as np
import torch

# 2: + dataset snapshot (id maps, user histories), RNG states, early-stopping and train-loader state.
FORMAT_VERSION = 2

# The per-epoch "last" checkpoint sits beside the best-model file: <best>-last.pth.
LAST_SUFFIX = "-last"


def to_plain(value):
    """Recursively turn config values into str/int/float/bool/None/list/dict."""
    if isinstance(value, np.generic):  # before the float check: np.float64 subclasses float
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return value.name
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
        os.chmod(tmp, _new_file_mode())  # mkstemp's 0600 would make checkpoints private to their writer
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def _new_file_mode():
    """The mode ``open()`` would give a new file (0666 minus the process umask)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_folder(folder):
    # Makes the rename itself durable across a power cut; not every OS lets a folder be opened.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class CheckpointError(RuntimeError):
    """A checkpoint file could not be read safely."""


def load_checkpoint(path, map_location="cpu"):
    """Load a checkpoint with ``weights_only=True``; code inside the file never runs."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint {path!r} does not exist")
    try:
        with warnings.catch_warnings():
            # torch warns about the pickle protocol of non-torch files just before refusing them.
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if not _is_refused_pickle(path, err):
            raise _corrupt(path, err) from None
        raise CheckpointError(
            f"refused to load {path!r}: it contains pickled Python objects, not only tensors and plain data "
            f"(a stock RecBole checkpoint, or a crafted file). Nothing from it was executed. "
            f"Only checkpoints written by recbole_bert4rec can be opened. Detail: {_unpickler_detail(err)}"
        ) from None
    except Exception as err:  # torch raises KeyError, EOFError, RuntimeError, ... on damaged files
        raise _corrupt(path, err) from None
    if not isinstance(checkpoint, dict) or "format_version" not in checkpoint:
        raise CheckpointError(
            f"{path!r} is not a recbole_bert4rec checkpoint (no 'format_version'; e.g. a bare state_dict). "
            f"Use a file written by recbole_bert4rec's trainer (saved/<model>-<time>.pth)"
        )
    if checkpoint["format_version"] > FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {path!r} has format version {checkpoint['format_version']}, newer than this "
            f"recbole_bert4rec reads ({FORMAT_VERSION}); upgrade recbole_bert4rec"
        )
    return checkpoint


def _corrupt(path, err):
    detail = next(iter(str(err).splitlines()), "") or "no detail"
    return CheckpointError(
        f"checkpoint {path!r} is truncated or corrupt ({type(err).__name__}: {detail}); "
        f"use an earlier checkpoint or retrain"
    )


def _is_refused_pickle(path, err):
    """A real pickle the weights-only reader refused, as opposed to bytes that are no pickle at all."""
    message = str(err)
    if "Weights only load failed" not in message:
        return False
    if "Unsupported global" in message:
        return True
    with open(path, "rb") as f:
        return f.read(1) == pickle.PROTO  # pickles of protocol >= 2 start with PROTO


def _unpickler_detail(err):
    """What torch refused (e.g. "Unsupported global: GLOBAL io.open ..."), without its advice on how to
    allow it anyway."""
    message = str(err)
    start = message.find("Unsupported")
    if start < 0:
        return "not a weights-only file"
    return message[start:].split(". ")[0].splitlines()[0].rstrip(".")


def require_entries(checkpoint, path, *keys):
    """Raise a CheckpointError naming what is missing (files from older versions lack newer entries)."""
    missing = [key for key in keys if key not in checkpoint]
    if missing:
        raise CheckpointError(
            f"checkpoint {os.fspath(path)!r} (format version {checkpoint.get('format_version')}) has no "
            f"{', '.join(repr(k) for k in missing)}; it was written by an older recbole_bert4rec. "
            f"Retrain to get a checkpoint with them"
        )


def last_checkpoint_path(best_model_file):
    """Path of the per-epoch checkpoint that goes with a best-model file."""
    root, ext = os.path.splitext(os.fspath(best_model_file))
    return f"{root}{LAST_SUFFIX}{ext or '.pth'}"


def best_model_path(checkpoint_file):
    """Inverse of :func:`last_checkpoint_path`; a best-model file maps to itself."""
    root, ext = os.path.splitext(os.fspath(checkpoint_file))
    return f"{root[: -len(LAST_SUFFIX)]}{ext}" if root.endswith(LAST_SUFFIX) else os.fspath(checkpoint_file)


def find_latest_checkpoint(folder):
    """The most recently written ``*-last.pth`` in ``folder`` (what ``--resume`` without a path means)."""
    folder = os.fspath(folder)
    candidates = [
        path for path in glob.glob(os.path.join(glob.escape(folder), f"*{LAST_SUFFIX}.pth"))
        if not os.path.basename(path).startswith(".tmp-")
    ]
    if not candidates:
        raise CheckpointError(
            f"no '*{LAST_SUFFIX}.pth' checkpoint in {os.path.abspath(folder)!r} to resume from; "
            f"pass --resume=<path to a checkpoint> or set checkpoint_dir to the folder of the killed run"
        )
    return max(candidates, key=os.path.getmtime)


def resolve_resume_file(resume_from, checkpoint_dir):
    """``"latest"`` (or ``True``) -> newest ``*-last.pth`` in ``checkpoint_dir``; a path -> itself."""
    if resume_from is True or resume_from == "latest":
        return find_latest_checkpoint(checkpoint_dir)
    return os.fspath(resume_from)


def dataset_snapshot(dataset):
    """What inference needs from the training data: raw token <-> id maps of the user and item
    fields (list position = internal id) and, for BERT4RecDataset, every user's item sequence."""
    fields = {"user": dataset.uid_field, "item": dataset.iid_field}
    snapshot = {
        "fields": fields,
        "id_tokens": {field: [str(token) for token in dataset.field2id_token[field]] for field in fields.values()},
    }
    items = getattr(dataset, "user_item_seq", None)
    if items is not None:
        # int32 halves the size (item ids stay far below 2**31); ~4 bytes per interaction.
        snapshot["user_histories"] = {
            "items": items.to(torch.int32).clone(),
            "offsets": dataset.user_seq_offsets.to(torch.int64).clone(),
        }
    return snapshot
