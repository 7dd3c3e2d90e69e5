"""Process state that RecBole changes as a side effect, kept or scoped for the driver."""

import os
from contextlib import contextmanager


@contextmanager
def cuda_visible_devices_kept():
    """RecBole's Config writes gpu_id into CUDA_VISIBLE_DEVICES; the driver's own value must survive it
    (a local Ray started afterwards would otherwise see only GPU 0)."""
    before = os.environ.get("CUDA_VISIBLE_DEVICES")
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = before


@contextmanager
def working_directory(path):
    """RecBole writes ./log and ./log_tensorboard relative to the working directory."""
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


@contextmanager
def environment_default(name, value):
    """``name=value`` unless the user set ``name``; the process environment is restored afterwards."""
    before = os.environ.get(name)
    os.environ.setdefault(name, value)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
