"""RecBole trainers with safe checkpoints and an optional warm-up/decay learning-rate schedule.

The mixin works on top of any RecBole trainer class, so models that fall back to RecBole keep
their own trainer and gain checkpoints that load on torch >= 2.6.
"""

import math

import recbole.utils
from recbole.trainer import Trainer as RecBoleTrainer

from recbole_bert4rec.checkpoint import load_checkpoint, plain_config, save_checkpoint

LR_SCHEDULES = ("constant", "linear", "cosine")


def lr_factor(step, warmup_steps, total_steps, schedule):
    """Multiplier of the base learning rate after ``step`` optimizer steps."""
    if warmup_steps and step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant" or total_steps <= warmup_steps:
        return 1.0
    progress = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))
    if schedule == "linear":
        return 1.0 - progress
    return 0.5 * (1.0 + math.cos(math.pi * progress))


class SafeCheckpointMixin:
    """Checkpoints as tensors + plain data (see checkpoint.py); LR schedule from ``lr_schedule``."""

    def _save_checkpoint(self, epoch, verbose=True, **kwargs):
        if not self.config["single_spec"] and self.config["local_rank"] != 0:
            return
        path = kwargs.pop("saved_model_file", self.saved_model_file)
        save_checkpoint({
            "config": plain_config(self.config),
            "epoch": epoch,
            "cur_step": self.cur_step,
            "best_valid_score": float(self.best_valid_score),
            "state_dict": self.model.state_dict(),
            "other_parameter": self.model.other_parameter(),
            "optimizer": self.optimizer.state_dict(),
        }, path)
        if verbose:
            self.logger.info(f"Saving current: {path}")

    def resume_checkpoint(self, resume_file):
        resume_file = str(resume_file)
        checkpoint = load_checkpoint(resume_file, map_location=self.device)
        if checkpoint["config"]["model"].lower() != self.config["model"].lower():
            raise ValueError(f"checkpoint {resume_file!r} is a {checkpoint['config']['model']} model, "
                             f"not {self.config['model']}; pass --model={checkpoint['config']['model']}")
        self.saved_model_file = resume_file
        self.start_epoch = checkpoint["epoch"] + 1
        self.cur_step = checkpoint["cur_step"]
        self.best_valid_score = checkpoint["best_valid_score"]
        self.model.load_state_dict(checkpoint["state_dict"])
        self.model.load_other_parameter(checkpoint.get("other_parameter"))
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.logger.info(f"Checkpoint loaded. Resume training from epoch {self.start_epoch}")

    def evaluate(self, eval_data, load_best_model=True, model_file=None, show_progress=False):
        if eval_data and load_best_model:
            checkpoint_file = model_file or self.saved_model_file
            checkpoint = load_checkpoint(checkpoint_file, map_location=self.device)
            self.model.load_state_dict(checkpoint["state_dict"])
            self.model.load_other_parameter(checkpoint.get("other_parameter"))
            self.logger.info(f"Loading model structure and parameters from {checkpoint_file}")
        return super().evaluate(eval_data, load_best_model=False, show_progress=show_progress)

    def fit(self, train_data, valid_data=None, verbose=True, saved=True, show_progress=False, callback_fn=None):
        self._install_lr_schedule(len(train_data))
        return super().fit(train_data, valid_data, verbose=verbose, saved=saved,
                           show_progress=show_progress, callback_fn=callback_fn)

    def _install_lr_schedule(self, steps_per_epoch):
        # Own hook rather than a torch LRScheduler: the step count is derived from the epoch counter,
        # so a resumed run continues the schedule without extra scheduler state.
        schedule = self.config["lr_schedule"] or "constant"
        warmup = self.config["lr_warmup_steps"] or 0
        if schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {schedule!r}")
        if schedule == "constant" and not warmup:
            return
        if getattr(self, "_lr_hook", None) is not None:
            self._lr_hook.remove()
        total = steps_per_epoch * self.epochs
        self._lr_step = steps_per_epoch * self.start_epoch
        base_lrs = [group.get("initial_lr", group["lr"]) for group in self.optimizer.param_groups]
        for group, base in zip(self.optimizer.param_groups, base_lrs):
            group["initial_lr"] = base

        def apply(step):
            factor = lr_factor(step, warmup, total, schedule)
            for group, base in zip(self.optimizer.param_groups, base_lrs):
                group["lr"] = base * factor

        def after_step(optimizer, args, kwargs):
            self._lr_step += 1
            apply(self._lr_step)

        apply(self._lr_step)
        self._lr_hook = self.optimizer.register_step_post_hook(after_step)


_TRAINER_CACHE = {}


def get_trainer(model_type, model_name):
    """RecBole's trainer class for this model, with safe checkpoints mixed in."""
    base = recbole.utils.get_trainer(model_type, model_name)
    if base not in _TRAINER_CACHE:
        _TRAINER_CACHE[base] = type(base.__name__, (SafeCheckpointMixin, base), {"__module__": __name__})
    return _TRAINER_CACHE[base]


class Trainer(SafeCheckpointMixin, RecBoleTrainer):
    """RecBole's ``Trainer`` whose checkpoints load on torch >= 2.6 (stock RecBole's crash there)."""


_TRAINER_CACHE[RecBoleTrainer] = Trainer
