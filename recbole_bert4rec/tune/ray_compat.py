"""The one place that knows which Ray release moved what.

Ray 2.6 (the release that installs beside RecBole 1.2.1) reports through ``ray.air.session``; 2.7-2.40 through
``ray.train``; later releases through ``ray.tune``. ``ray.tune.report`` also exists in 2.6, but it is the old
keyword-argument API, so the choice goes by version, not by ``hasattr``.
"""

import ray

AIR, TRAIN, TUNE = "ray.air", "ray.train", "ray.tune"


def ray_version():
    major, minor = ray.__version__.split(".")[:2]
    return int(major), int(minor)


def api_generation(version=None):
    """Which module holds ``report``, ``Checkpoint``, ``RunConfig`` and friends for this Ray."""
    version = version or ray_version()
    if version < (2, 7):
        return AIR
    if version < (2, 41):
        return TRAIN
    return TUNE


def _module(generation):
    if generation == AIR:
        import ray.air
        return ray.air
    if generation == TRAIN:
        import ray.train
        return ray.train
    import ray.tune
    return ray.tune


def report(metrics, checkpoint_dir=None):
    """Report one validation from inside a trial, optionally with a checkpoint folder that Ray copies away."""
    generation = api_generation()
    module = _module(generation)
    checkpoint = module.Checkpoint.from_directory(checkpoint_dir) if checkpoint_dir else None
    if generation == AIR:
        from ray.air import session
        session.report(metrics, checkpoint=checkpoint)
    else:
        module.report(metrics, checkpoint=checkpoint)


def get_checkpoint():
    """The checkpoint this trial resumes from (after an interrupted search), or None."""
    generation = api_generation()
    if generation == AIR:
        from ray.air import session
        return session.get_checkpoint()
    return _module(generation).get_checkpoint()


def trial_dir():
    """This trial's own folder (absolute)."""
    generation = api_generation()
    if generation == AIR:
        from ray.air import session
        return session.get_trial_dir()
    return _module(generation).get_context().get_trial_dir()


def run_config_classes():
    """(RunConfig, FailureConfig, CheckpointConfig) of this Ray."""
    module = _module(api_generation())
    return module.RunConfig, module.FailureConfig, module.CheckpointConfig


def trial_states(result_grid):
    """[(trial_id, status)] aligned with ``list(result_grid)``; status is Ray's PENDING, RUNNING, PAUSED,
    TERMINATED or ERROR. Ray has no public per-trial status on results; None where this Ray hides it."""
    trials = getattr(getattr(result_grid, "_experiment_analysis", None), "trials", None)
    if not trials or len(trials) != len(result_grid):
        return None
    return [(trial.trial_id, trial.status) for trial in trials]
