"""What one Ray Tune trial runs: train with RecBole's ``fit`` and report every validation to Ray."""

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field

import ray

from recbole_bert4rec.quick_start import prepare
from recbole_bert4rec.tune import ray_compat

# Reported True with the validation after which the trial ends by itself. Ray's own `done` cannot tell this:
# it is also set on the last result of a trial the scheduler stopped.
LAST_VALIDATION = "last_validation"

# Root-logger handlers this process had before any trial. Ray reuses a process for the next trial, and RecBole's
# init_logger (a logging.basicConfig call) does nothing while an earlier trial's handlers remain: the new trial's
# log would go on into the first trial's file.
PROCESS_LOG_HANDLERS = list(logging.getLogger().handlers)


@dataclass
class TrialPlan:
    """Everything a trial needs besides its sampled values; every path in it is absolute."""

    model: str
    dataset: str
    config_files: list = field(default_factory=list)
    base_config: dict = field(default_factory=dict)  # fixed overrides + absolute data_path
    metric: str = "ndcg@10"  # RecBole's lower-cased valid_metric

    def config_dict(self, sampled, checkpoint_dir, gpu_ids):
        """Config for this trial; a fresh dict each time because RecBole's Config rewrites the one it gets."""
        return {
            **self.base_config,
            **sampled,
            "checkpoint_dir": checkpoint_dir,
            "show_progress": False,
            **device_settings(gpu_ids),
        }


def device_settings(gpu_ids):
    # RecBole's Config writes gpu_id into CUDA_VISIBLE_DEVICES (default '0'): hand it Ray's assignment back,
    # so a trial uses exactly the GPUs Ray gave it, and none when it got none.
    ids = ",".join(str(i) for i in gpu_ids)
    return {"use_gpu": bool(ids), "gpu_id": ids}


class ValidationReporter:
    """RecBole ``callback_fn``: reports each validation to Ray, with a checkpoint when it is the best so far."""

    def __init__(self, trainer, metric, trial_dir):
        self.trainer = trainer
        self.metric = metric
        self.trial_dir = trial_dir
        self.last_result = {}
        self._capture_validation_results()

    def _capture_validation_results(self):
        # fit() passes only the score to callback_fn; keep the full result dict (hit@10, mrr@10, ...) too.
        validate = self.trainer._valid_epoch

        def validate_and_keep(*args, **kwargs):
            score, result = validate(*args, **kwargs)
            self.last_result = dict(result)
            return score, result

        self.trainer._valid_epoch = validate_and_keep

    def _is_last(self, epoch_idx):
        # fit() ends after this validation: no epoch with a validation is left, or patience ran out.
        trainer = self.trainer
        return epoch_idx + trainer.eval_step >= trainer.epochs or trainer.cur_step > trainer.stopping_step

    def __call__(self, epoch_idx, valid_score):
        metrics = {key.lower(): float(value) for key, value in self.last_result.items()}
        metrics[self.metric] = float(valid_score)
        metrics["epoch"] = epoch_idx + 1
        metrics[LAST_VALIDATION] = self._is_last(epoch_idx)
        improved = self.trainer.cur_step == 0  # RecBole's early stopping resets it on every new best
        if not improved:
            ray_compat.report(metrics)
            return
        folder = tempfile.mkdtemp(prefix="best-model-", dir=self.trial_dir)
        try:
            model_file = os.path.join(folder, f"{self.trainer.config['model']}.pth")
            self.trainer._save_checkpoint(epoch_idx, verbose=False, saved_model_file=model_file)
            ray_compat.report(metrics, checkpoint_dir=folder)  # Ray copies it into its storage
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def model_file_in(folder):
    files = sorted(name for name in os.listdir(folder) if name.endswith(".pth"))
    if not files:
        raise FileNotFoundError(f"no .pth model file in checkpoint folder {folder}")
    return os.path.join(folder, files[0])


def resume_from_ray_checkpoint(trainer):
    """A trial restarted by a resumed search continues after its best epoch (weights, optimizer, patience)."""
    checkpoint = ray_compat.get_checkpoint()
    if checkpoint is None:
        return
    with checkpoint.as_directory() as folder:
        trainer.resume_checkpoint(model_file_in(folder))


def drop_earlier_trial_log_handlers():
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler not in PROCESS_LOG_HANDLERS:
            root.removeHandler(handler)
            handler.close()


def train_trial(sampled, plan):
    """Ray Tune function trainable. Runs inside the trial's own folder, so RecBole's ./log lands there."""
    trial_dir = os.path.abspath(ray_compat.trial_dir())
    os.makedirs(trial_dir, exist_ok=True)
    os.chdir(trial_dir)
    drop_earlier_trial_log_handlers()
    config_dict = plan.config_dict(sampled, trial_dir, ray.get_gpu_ids())
    _, _, trainer, (train_data, valid_data, _) = prepare(
        plan.model, plan.dataset, plan.config_files, config_dict
    )
    resume_from_ray_checkpoint(trainer)
    reporter = ValidationReporter(trainer, plan.metric, trial_dir)
    # saved=False: the best model travels as a Ray checkpoint; nothing else is written per epoch.
    trainer.fit(train_data, valid_data, saved=False, show_progress=False, callback_fn=reporter)
