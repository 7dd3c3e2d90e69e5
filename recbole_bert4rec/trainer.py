"""RecBole trainers with safe checkpoints, exact resume and an optional warm-up/decay learning-rate schedule.

The mixin works on top of any RecBole trainer class, so models that fall back to RecBole keep
their own trainer and gain checkpoints that load on torch >= 2.6.
"""

import math
import os

import recbole.utils
from recbole.trainer import Trainer as RecBoleTrainer

from recbole_bert4rec.checkpoint import (
    CheckpointError, best_model_path, dataset_snapshot, last_checkpoint_path, load_checkpoint, plain_config,
    require_entries, save_checkpoint, to_plain,
)
from recbole_bert4rec.distributed import DataParallelMixin
from recbole_bert4rec.rng_state import capture_rng_state, restore_rng_state

LR_SCHEDULES = ("constant", "linear", "cosine")

# Config keys whose change between a killed run and its resume changes the training trajectory.
TRAJECTORY_KEYS = (
    "seed", "learner", "learning_rate", "weight_decay", "train_batch_size", "MAX_ITEM_LIST_LENGTH", "hidden_size",
    "n_layers", "n_heads", "inner_size", "mask_ratio", "loss_type", "lr_schedule", "lr_warmup_steps",
    "valid_metric", "stopping_step", "eval_step",
)


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
    """Checkpoints as tensors + plain data (see checkpoint.py), exact resume, LR schedule from ``lr_schedule``.

    Besides RecBole's best-model file, every epoch writes ``<best>-last.pth`` with everything a
    resume needs (weights, optimizer, epoch counter, early-stopping state, RNG states, train-loader
    epoch), so a killed run loses at most one epoch and continues as if never stopped.
    """

    _resume_state = None
    _snapshot = None
    _latest_valid_result = None
    _best_model_saved = False
    _saving = False
    _has_valid_data = False

    # ---- saving -----------------------------------------------------------------------------
    def _save_checkpoint(self, epoch, verbose=True, **kwargs):
        if not self.config["single_spec"] and self.config["local_rank"] != 0:
            return
        path = kwargs.pop("saved_model_file", self.saved_model_file)
        is_best_file = os.path.abspath(path) == os.path.abspath(self.saved_model_file)
        save_checkpoint(self._training_state(epoch, is_best_file), path)
        if is_best_file:
            self._best_model_saved = True
        if verbose:
            self.logger.info(f"Saving current: {path}")

    def _training_state(self, epoch, is_best_file):
        # The best file is written right after the validation that made it best, before RecBole
        # updates best_valid_result: that validation's result is the best one.
        best_result = self.best_valid_result
        if is_best_file and self._latest_valid_result is not None:
            best_result = self._latest_valid_result
        state = {
            "config": plain_config(self.config),
            "epoch": epoch,
            "cur_step": self.cur_step,
            "best_valid_score": float(self.best_valid_score),
            "best_valid_result": to_plain(dict(best_result)) if best_result is not None else None,
            "stopped": self._stopped_early(),
            "best_model_file": os.path.abspath(self.saved_model_file)
            if is_best_file or self._best_model_saved else None,
            "state_dict": self.model.state_dict(),
            "other_parameter": self.model.other_parameter(),
            "optimizer": self.optimizer.state_dict(),
            "rng_state": capture_rng_state(),
            "train_loader": self._train_loader_state(),
        }
        if self._snapshot is not None:
            state["dataset"] = self._snapshot
        return state

    def _stopped_early(self):
        # RecBole's early_stopping stops once cur_step exceeds stopping_step.
        return self.stopping_step is not None and self.cur_step > self.stopping_step

    def _train_loader_state(self):
        loader = getattr(self, "_train_data", None)
        state = {}
        if loader is None:
            return state
        if hasattr(loader, "epoch"):
            state["epoch"] = int(loader.epoch)  # our masking loader replays epochs from this
        generator = getattr(loader, "generator", None)
        if generator is not None:
            state["generator"] = generator.get_state()  # RecBole loaders shuffle with it
        return state

    def _save_last_checkpoint(self, epoch):
        if self._saving:
            self._save_checkpoint(epoch, verbose=False, saved_model_file=last_checkpoint_path(self.saved_model_file))

    def _validates_after(self, epoch_idx):
        return self._has_valid_data and self.eval_step > 0 and (epoch_idx + 1) % self.eval_step == 0

    def _train_epoch(self, train_data, epoch_idx, loss_func=None, show_progress=False):
        loss = super()._train_epoch(train_data, epoch_idx, loss_func=loss_func, show_progress=show_progress)
        # Epochs that are validated get their checkpoint after validation (see _after_validation).
        if not self._validates_after(epoch_idx):
            self._save_last_checkpoint(epoch_idx)
        return loss

    def _valid_epoch(self, valid_data, show_progress=False):
        valid_score, valid_result = super()._valid_epoch(valid_data, show_progress=show_progress)
        self._latest_valid_result = valid_result
        return valid_score, valid_result

    def _after_validation(self, callback_fn):
        """RecBole calls this once early stopping and best-model saving of the epoch are done."""
        def callback(epoch_idx, valid_score):
            self._save_last_checkpoint(epoch_idx)
            if callback_fn:
                callback_fn(epoch_idx, valid_score)
        return callback

    # ---- resuming ---------------------------------------------------------------------------
    def resume_checkpoint(self, resume_file):
        """Continue the run of ``resume_file`` (a ``-last.pth`` or best-model checkpoint) where it stopped."""
        resume_file = os.fspath(resume_file)
        checkpoint = load_checkpoint(resume_file, map_location=self.device)
        require_entries(checkpoint, resume_file, "state_dict", "optimizer", "epoch", "rng_state", "train_loader")
        if checkpoint["config"]["model"].lower() != self.config["model"].lower():
            raise ValueError(f"checkpoint {resume_file!r} is a {checkpoint['config']['model']} model, "
                             f"not {self.config['model']}; pass --model={checkpoint['config']['model']}")
        self._warn_about_changed_keys(checkpoint["config"], resume_file)
        self.model.load_state_dict(checkpoint["state_dict"])
        self.model.load_other_parameter(checkpoint.get("other_parameter"))
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.start_epoch = checkpoint["epoch"] + 1
        self.cur_step = checkpoint["cur_step"]
        self.best_valid_score = checkpoint["best_valid_score"]
        self.best_valid_result = checkpoint.get("best_valid_result")
        self.saved_model_file = self._best_model_file_of(checkpoint, resume_file)
        self._best_model_saved = checkpoint.get("best_model_file") is not None
        # RNG and loader state are applied when fit starts, so nothing drawn in between shifts them.
        self._resume_state = {
            "file": resume_file,
            "rng_state": checkpoint["rng_state"],
            "train_loader": checkpoint["train_loader"],
            "stopped": checkpoint.get("stopped", False),
            "dataset": checkpoint.get("dataset"),
        }
        self.logger.info(f"Checkpoint loaded. Resume training from epoch {self.start_epoch}")

    @staticmethod
    def _best_model_file_of(checkpoint, resume_file):
        recorded = checkpoint.get("best_model_file")
        if recorded is None:  # no validation improved yet: the run's best file is still to come
            return best_model_path(resume_file)
        if os.path.isfile(recorded):
            return recorded
        beside = os.path.join(os.path.dirname(os.path.abspath(resume_file)), os.path.basename(recorded))
        if os.path.isfile(beside):  # the run's folder was moved
            return beside
        raise CheckpointError(
            f"{resume_file!r} belongs to the run whose best model is {recorded!r}, which is missing; "
            f"copy that file back (or beside {os.path.basename(resume_file)!r}) to resume"
        )

    def _warn_about_changed_keys(self, saved_config, resume_file):
        changed = [
            f"{key}: {saved_config.get(key)!r} -> {to_plain(self.config[key])!r}"
            for key in TRAJECTORY_KEYS if saved_config.get(key) != to_plain(self.config[key])
        ]
        if changed:
            self.logger.warning(f"resuming {resume_file} with changed settings ({'; '.join(changed)}): "
                                f"results will differ from an uninterrupted run")

    def _apply_resume_state(self, train_data):
        state, self._resume_state = self._resume_state, None
        saved = state["dataset"]
        if saved is not None and self._snapshot is not None and saved["id_tokens"] != self._snapshot["id_tokens"]:
            raise CheckpointError(
                f"the data differ from the run of {state['file']!r}: its user/item id mappings do not match "
                f"the dataset loaded now. Resume with the same dataset files and filtering settings"
            )
        loader_state = state["train_loader"]
        if "epoch" in loader_state and hasattr(train_data, "set_epoch"):
            train_data.set_epoch(loader_state["epoch"])
        if "generator" in loader_state and getattr(train_data, "generator", None) is not None:
            train_data.generator.set_state(loader_state["generator"])
        restore_rng_state(state["rng_state"])
        return state["stopped"]

    # ---- training and evaluation ------------------------------------------------------------
    def fit(self, train_data, valid_data=None, verbose=True, saved=True, show_progress=False, callback_fn=None):
        self._train_data = train_data
        self._saving = saved
        self._has_valid_data = bool(valid_data)
        dataset = getattr(train_data, "_dataset", None)  # RecBole loaders keep their Dataset here
        if self._snapshot is None and dataset is not None and hasattr(dataset, "field2id_token"):
            self._snapshot = dataset_snapshot(dataset)
        if self._resume_state is not None:
            stopped = self._apply_resume_state(train_data)
            if stopped or self.start_epoch >= self.epochs:
                # Skips RecBole's "nothing to train" save, which would overwrite the best model.
                self.logger.info(f"Training of {self.saved_model_file} had already finished; nothing to resume")
                return self.best_valid_score, self.best_valid_result
        self._install_lr_schedule(len(train_data))
        return super().fit(train_data, valid_data, verbose=verbose, saved=saved,
                           show_progress=show_progress, callback_fn=self._after_validation(callback_fn))

    # A SeenItemFilter, set by quick_start for RecBole's sequential models when exclude_seen_items is on
    # (our BERT4Rec filters inside full_sort_predict); eval loaders carry their phase in ``eval_phase``.
    seen_filter = None
    _eval_phase = None

    def _full_sort_batch_eval(self, batched_data):
        interaction, scores, positive_u, positive_i = super()._full_sort_batch_eval(batched_data)
        if self.seen_filter is not None and self._eval_phase is not None:
            self.seen_filter.apply(scores, interaction, self._eval_phase)
        return interaction, scores, positive_u, positive_i

    def evaluate(self, eval_data, load_best_model=True, model_file=None, show_progress=False):
        self._eval_phase = getattr(eval_data, "eval_phase", None)
        if eval_data and load_best_model:
            checkpoint_file = model_file or self.saved_model_file
            checkpoint = load_checkpoint(checkpoint_file, map_location=self.device)
            self.model.load_state_dict(checkpoint["state_dict"])
            self.model.load_other_parameter(checkpoint.get("other_parameter"))
            self.logger.info(f"Loading model structure and parameters from {checkpoint_file}")
        return super().evaluate(eval_data, load_best_model=False, show_progress=show_progress)

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
        _TRAINER_CACHE[base] = type(base.__name__, (DataParallelMixin, SafeCheckpointMixin, base),
                                    {"__module__": __name__})
    return _TRAINER_CACHE[base]


class Trainer(DataParallelMixin, SafeCheckpointMixin, RecBoleTrainer):
    """RecBole's ``Trainer`` whose checkpoints load on torch >= 2.6 (stock RecBole's crash there)."""


_TRAINER_CACHE[RecBoleTrainer] = Trainer
