"""Data-parallel training on RecBole's own settings: ``nproc``, ``world_size``, ``ip``, ``port``, ``offset``.

RecBole 1.2.1 runs multi-process training only on CUDA + NCCL, and two of its steps break elsewhere:
``Config._init_device`` always asks for NCCL and a CUDA device, and ``AbstractTrainer`` passes
``device_ids`` to ``DistributedDataParallel``, which torch refuses for CPU modules. Here a process
group is NCCL on CUDA and gloo on CPU, and the trainer wraps the model accordingly. Ranks come from
``torch.multiprocessing.spawn`` (``nproc`` on this machine, see :func:`spawn`) or from ``torchrun``
(its environment variables, see :func:`torchrun_settings`).
"""

import os

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from recbole_bert4rec.checkpoint import load_checkpoint

# Environment variables torchrun sets for every worker.
TORCHRUN_VARIABLES = ("LOCAL_RANK", "RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def torchrun_settings(environ=None):
    """RecBole's multi-process keys for a worker started by ``torchrun``; ``None`` outside torchrun."""
    environ = os.environ if environ is None else environ
    if not all(name in environ for name in TORCHRUN_VARIABLES):
        return None
    local_rank, rank = int(environ["LOCAL_RANK"]), int(environ["RANK"])
    return {
        "local_rank": local_rank,
        "offset": rank - local_rank,
        "world_size": int(environ["WORLD_SIZE"]),
        "nproc": int(environ["LOCAL_WORLD_SIZE"]),
        "ip": environ["MASTER_ADDR"],
        "port": environ["MASTER_PORT"],
    }


def init_process_group(settings):
    """``Config._init_device`` for a multi-process run: join the group, pick this rank's device.

    ``settings`` is the config's final dict, with ``local_rank`` set by the launcher.
    """
    gpu_id = settings.get("gpu_id")
    gpu_id = ",".join(map(str, gpu_id)) if isinstance(gpu_id, (tuple, list)) else str(gpu_id or "")
    use_cuda = bool(gpu_id) and torch.cuda.is_available()
    local_rank = settings["local_rank"]
    nproc = settings.get("nproc") or 1
    if use_cuda:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu_id  # as RecBole does: gpu_id lists this machine's GPUs
        if len(gpu_id.split(",")) < nproc:
            raise ValueError(f"nproc={nproc} processes on CUDA need as many GPUs in gpu_id, got gpu_id={gpu_id!r}; "
                             f"e.g. --gpu_id={','.join(map(str, range(nproc)))}")
    else:
        # Ranks of one machine share its cores; oversubscribed OpenMP threads slow every rank down.
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // nproc))
    if not dist.is_initialized():
        from_torchrun = torchrun_settings() is not None
        dist.init_process_group(
            backend="nccl" if use_cuda else "gloo",
            init_method="env://" if from_torchrun else f"tcp://{settings['ip']}:{settings['port']}",
            rank=local_rank + (settings.get("offset") or 0),
            world_size=settings["world_size"],
        )
    _create_shared_folders(settings)
    if use_cuda:
        torch.cuda.set_device(local_rank)
    settings["device"] = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    settings["single_spec"] = False
    if local_rank != 0:  # RecBole's choice: one machine's rank 0 logs, the others stay quiet
        settings.update(state="error", show_progress=False, verbose=False)


def _create_shared_folders(settings):
    # RecBole creates ./log/<model> and checkpoint_dir with check-then-create (utils.ensure_dir), which
    # fails with FileExistsError when two ranks get there at the same moment.
    for folder in ("log", os.path.join("log", str(settings.get("model"))), settings.get("checkpoint_dir")):
        if folder:
            os.makedirs(folder, exist_ok=True)


def is_distributed(config):
    return not config["single_spec"]


class DataParallelMixin:
    """Trainer mixin: ``DistributedDataParallel`` on CPU (gloo) as well as CUDA, one best-model file for all ranks.

    Put it before RecBole's trainer class (and before other mixins that load checkpoints).
    """

    def __init__(self, config, model):
        if not is_distributed(config):
            super().__init__(config, model)
            return
        # RecBole's AbstractTrainer would wrap with device_ids=[local_rank]: invalid for CPU modules.
        config["single_spec"] = True
        try:
            super().__init__(config, model)
        finally:
            config["single_spec"] = False
        on_cuda = config["device"].type == "cuda"
        if on_cuda:
            self.model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(self.model)
        # Buffers that are not in the state dict (our seen-item index, sampling tables) are the same data on
        # every rank; broadcasting them before every step would copy the whole history each time.
        parameter_names = {name for name, _ in self.model.named_parameters()}
        has_persistent_buffers = any(name not in parameter_names for name in self.model.state_dict())
        self.distributed_model = DistributedDataParallel(
            self.model, device_ids=[config["local_rank"]] if on_cuda else None,
            broadcast_buffers=has_persistent_buffers,
        )
        # Checkpoint names carry a timestamp that can differ between ranks: use rank 0's everywhere (logs and
        # results name it).
        names = [self.saved_model_file]
        dist.broadcast_object_list(names, src=0)
        self.saved_model_file = names[0]

    def evaluate(self, eval_data, load_best_model=True, model_file=None, show_progress=False):
        if eval_data and load_best_model and is_distributed(self.config):
            # Only global rank 0 wrote the best model, perhaps on another machine: it reads the file and
            # sends the weights, so checkpoint_dir need not be shared storage.
            if dist.get_rank() == 0:
                checkpoint = load_checkpoint(model_file or self.saved_model_file, map_location=self.device)
                self.model.load_state_dict(checkpoint["state_dict"])
                self.model.load_other_parameter(checkpoint.get("other_parameter"))
            for tensor in self.model.state_dict().values():
                dist.broadcast(tensor, src=0)  # state_dict tensors share storage with the model's
            load_best_model = False
        return super().evaluate(eval_data, load_best_model=load_best_model, model_file=model_file,
                                show_progress=show_progress)


def spawn(target, nproc, args, config_dict, kwargs):
    """Run ``target(*args, config_dict=..., **kwargs)`` in ``nproc`` spawned ranks; returns rank 0's result.

    ``config_dict`` must already hold the group settings (``world_size``, ``ip``, ``port``, ``nproc``,
    ``offset``); each rank adds its ``local_rank``. ``target`` must be importable (module level).
    """
    queue = mp.get_context("spawn").SimpleQueue()
    mp.spawn(_run_rank, args=(target, args, config_dict, kwargs, queue), nprocs=nproc, join=True)
    return None if queue.empty() else queue.get()


def _run_rank(local_rank, target, args, config_dict, kwargs, queue):
    result = target(*args, config_dict=dict(config_dict, local_rank=local_rank), **kwargs)
    finish(local_rank, result, queue)


def finish(local_rank, result=None, queue=None):
    """Leave the process group; rank 0 hands its result to the launcher."""
    if dist.is_initialized():
        dist.destroy_process_group()
    if local_rank == 0 and queue is not None:
        queue.put(result)
