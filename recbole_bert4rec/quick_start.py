"""One call from configuration to test metrics, like ``recbole.quick_start.run_recbole``, plugin-aware."""

from logging import getLogger

from recbole.utils import ModelType, init_logger, init_seed, set_color

from recbole_bert4rec.checkpoint import resolve_resume_file
from recbole_bert4rec.config import Config
from recbole_bert4rec.data import create_dataset, data_preparation
from recbole_bert4rec.dataset import BERT4RecDataset
from recbole_bert4rec.distributed import finish, spawn, torchrun_settings
from recbole_bert4rec.seen_items import SeenItemFilter
from recbole_bert4rec.trainer import get_trainer


def prepare(model=None, dataset=None, config_file_list=None, config_dict=None, cmd_args=None):
    """Config, data loaders, model and trainer, ready for ``trainer.fit``."""
    config = Config(model, dataset, config_file_list, config_dict, cmd_args)
    init_seed(config["seed"], config["reproducibility"])
    init_logger(config)
    logger = getLogger()
    logger.info(config)
    data = create_dataset(config)
    logger.info(data)
    # RecBole's sequential models do not remove seen items; give them the same protocol as ours.
    seen_filter = (SeenItemFilter(data) if config["exclude_seen_items"] and config["MODEL_TYPE"] == ModelType.SEQUENTIAL
                   and not isinstance(data, BERT4RecDataset) else None)
    train_data, valid_data, test_data = data_preparation(config, data)
    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    # config.model_class, not a lookup by name: a RecBole class passed in shares our model's name.
    model = config.model_class(config, train_data._dataset).to(config["device"])
    logger.info(model)
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    trainer.seen_filter = seen_filter
    return config, model, trainer, (train_data, valid_data, test_data)


def run_recbole(model=None, dataset=None, config_file_list=None, config_dict=None, cmd_args=None,
                saved=True, callback_fn=None, resume_from=None):
    """Train, pick the best epoch on validation, evaluate it on test; returns RecBole's result dict.

    ``callback_fn(epoch_idx, valid_score)`` runs after every validation (e.g. a Ray Tune report).
    ``resume_from``: a checkpoint path, or ``"latest"`` for the newest ``*-last.pth`` in
    ``checkpoint_dir``; training continues exactly where that run stopped.
    """
    config, _, trainer, (train_data, valid_data, test_data) = prepare(
        model, dataset, config_file_list, config_dict, cmd_args
    )
    if resume_from:
        trainer.resume_checkpoint(resolve_resume_file(resume_from, config["checkpoint_dir"]))
    best_valid_score, best_valid_result = trainer.fit(
        train_data, valid_data, saved=saved, show_progress=config["show_progress"], callback_fn=callback_fn
    )
    test_result = trainer.evaluate(test_data, load_best_model=saved, show_progress=config["show_progress"])
    logger = getLogger()
    logger.info(set_color("best valid ", "yellow") + f": {best_valid_result}")
    logger.info(set_color("test result", "yellow") + f": {test_result}")
    return {
        "best_valid_score": best_valid_score,
        "valid_score_bigger": config["valid_metric_bigger"],
        "best_valid_result": best_valid_result,
        "test_result": test_result,
        "saved_model_file": trainer.saved_model_file if saved else None,
    }


def run(model=None, dataset=None, config_file_list=None, config_dict=None, cmd_args=None, saved=True,
        resume_from=None, nproc=1, world_size=-1, ip="localhost", port="5678", group_offset=0):
    """RecBole's ``quick_start.run`` for our models: :func:`run_recbole` in one process, in ``nproc``
    data-parallel ranks spawned here (``world_size`` ranks over all machines, this machine's first one
    being ``group_offset``), or as one rank of a ``torchrun`` launch. Returns rank 0's result (``None``
    on the other torchrun ranks)."""
    kwargs = {"config_file_list": config_file_list, "cmd_args": cmd_args, "saved": saved, "resume_from": resume_from}
    launched = torchrun_settings()
    if launched is not None:
        result = run_recbole(model, dataset, config_dict=dict(config_dict or {}, **launched), **kwargs)
        finish(launched["local_rank"])
        return result if launched["local_rank"] + launched["offset"] == 0 else None
    if nproc == 1 and world_size <= 0:
        return run_recbole(model, dataset, config_dict=config_dict, **kwargs)
    group = {"world_size": nproc if world_size == -1 else world_size, "ip": ip, "port": str(port),
             "nproc": nproc, "offset": group_offset}
    return spawn(run_recbole, nproc, (model, dataset), dict(config_dict or {}, **group), kwargs)
