"""Every global random stream a training run draws from, captured as tensors and plain numbers.

A resumed run must continue these streams exactly where the killed run stood (dropout uses
torch's global generator, RecBole's samplers numpy's, ``init_seed`` seeds all of them), so they go
into checkpoints in a form ``torch.load(weights_only=True)`` accepts: no numpy arrays, no tuples
of mixed Python objects that would need pickle.
"""

import random

import numpy as np
import torch

_NUMPY_BIT_GENERATOR = "MT19937"


def capture_rng_state():
    """The state of Python's ``random``, numpy's global RNG, torch's CPU and CUDA generators."""
    python_version, python_words, python_gauss = random.getstate()
    numpy_name, numpy_keys, numpy_pos, numpy_has_gauss, numpy_gauss = np.random.get_state()
    if numpy_name != _NUMPY_BIT_GENERATOR:
        raise ValueError(f"numpy's global RNG uses {numpy_name}; only {_NUMPY_BIT_GENERATOR} can be saved")
    return {
        "python": {
            "version": int(python_version),
            "words": torch.tensor(python_words, dtype=torch.int64),
            "gauss_next": python_gauss,
        },
        "numpy": {
            "keys": torch.from_numpy(numpy_keys.astype(np.int64)),
            "pos": int(numpy_pos),
            "has_gauss": int(numpy_has_gauss),
            "cached_gaussian": float(numpy_gauss),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng_state(state):
    """Put every stream back where :func:`capture_rng_state` found it."""
    python = state["python"]
    random.setstate((python["version"], tuple(int(w) for w in python["words"].tolist()), python["gauss_next"]))
    numpy = state["numpy"]
    np.random.set_state((
        _NUMPY_BIT_GENERATOR, numpy["keys"].numpy().astype(np.uint32),
        numpy["pos"], numpy["has_gauss"], numpy["cached_gaussian"],
    ))
    torch.set_rng_state(state["torch"].cpu())
    cuda_states = state.get("cuda") or []
    # A checkpoint from a GPU run resumed on CPU (or on fewer GPUs) keeps what it can.
    if cuda_states and torch.cuda.is_available():
        for device, cuda_state in enumerate(cuda_states[: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(cuda_state.cpu(), device)
