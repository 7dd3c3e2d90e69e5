"""Run (or resume) a Ray Tune search: ASHA on per-epoch validation, failures recorded, best trial tested once."""

import importlib
import os
import time

from ray import tune

from recbole_bert4rec.tune import ray_compat
from recbole_bert4rec.tune.environment import environment_default
from recbole_bert4rec.tune.outcome import write_outcome
from recbole_bert4rec.tune.plan import SEARCH_ALGORITHMS, SETTINGS_FILE, SearchSetup, plan_search
from recbole_bert4rec.tune.ray_runtime import ray_session
from recbole_bert4rec.tune.space import to_param_space
from recbole_bert4rec.tune.trial import train_trial


def build_search_alg(options):
    if options.search_alg is None:
        # Ray applies max_concurrent_trials only to Searchers; its default generator takes the limit itself.
        from ray.tune.search.basic_variant import BasicVariantGenerator
        return BasicVariantGenerator(max_concurrent=options.max_concurrent or 0, random_state=options.search_seed)
    _, module_name, class_name, seed_argument = SEARCH_ALGORITHMS[options.search_alg]
    module = importlib.import_module(module_name)
    seed = {seed_argument: options.search_seed} if options.search_seed is not None else {}
    return getattr(module, class_name)(**seed)


def build_scheduler(setup):
    if setup.options.scheduler == "fifo":
        return None
    from ray.tune.schedulers import ASHAScheduler
    return ASHAScheduler(time_attr="training_iteration", max_t=setup.max_validations,
                         grace_period=setup.options.grace_period, reduction_factor=setup.options.reduction_factor)


def build_trainable(setup):
    trainable = tune.with_parameters(train_trial, plan=setup.plan)
    return tune.with_resources(trainable, {"cpu": setup.options.cpus_per_trial, "gpu": setup.options.gpus_per_trial})


def build_run_config(setup):
    from ray.tune import CLIReporter

    RunConfig, FailureConfig, CheckpointConfig = ray_compat.run_config_classes()
    metric = setup.plan.metric
    reporter = CLIReporter(metric_columns={metric: metric, "epoch": "epoch"}, parameter_columns=list(setup.space),
                           sort_by_metric=True, max_report_frequency=30)
    return RunConfig(
        name=setup.options.name,
        storage_path=setup.options.storage_path,
        failure_config=FailureConfig(max_failures=0),  # an erroring trial is recorded, never retried
        checkpoint_config=CheckpointConfig(num_to_keep=1),  # trials checkpoint only on a new best
        progress_reporter=reporter,
        log_to_file=True,  # trial output -> <trial>/stdout, stderr
        verbose=1,  # the progress table, without a line per reported result
    )


def build_tuner(setup):
    options = setup.options
    tune_config = tune.TuneConfig(
        metric=setup.plan.metric, mode=setup.mode,
        scheduler=build_scheduler(setup),
        search_alg=build_search_alg(options),
        num_samples=options.num_samples,
        max_concurrent_trials=options.max_concurrent if options.search_alg else None,
        time_budget_s=options.time_budget_s,
    )
    return tune.Tuner(build_trainable(setup), param_space=to_param_space(setup.space),
                      tune_config=tune_config, run_config=build_run_config(setup))


def run_search(space=None, model="BERT4Rec", dataset="ml-100k", config_file_list=None, config_dict=None,
               cmd_args=None, options=None):
    """Run a search; returns a :class:`~recbole_bert4rec.tune.outcome.SearchOutcome`.

    ``space``: a yaml path (our format), a RecBole hyper file path, or a dict ``{key: {kind: args}}``;
    None uses ``properties/tune/<model>.yaml``. ``config_file_list``, ``config_dict``, ``cmd_args`` are fixed for
    every trial, as in ``run_recbole``. Outputs go to ``<storage_path>/<name>/``.
    """
    setup = plan_search(space, model, dataset, config_file_list, config_dict, cmd_args, options)
    options = setup.options
    if "://" in options.storage_path:
        raise ValueError(f"storage_path {options.storage_path!r}: outputs are written with plain file access; for a "
                         f"multi-node cluster use a folder every node mounts (e.g. NFS) instead of a cloud URI")
    options.storage_path = os.path.abspath(options.storage_path)
    options.name = options.name or f"{setup.plan.model}-{setup.plan.dataset}-{time.strftime('%Y%m%d_%H%M%S')}"
    if os.path.exists(os.path.join(setup.folder, SETTINGS_FILE)):
        raise FileExistsError(f"{setup.folder} already holds a search: resume it with --resume={setup.folder}, "
                              f"or choose another --name")
    os.makedirs(setup.folder, exist_ok=True)
    setup.save()
    return execute(setup, lambda: build_tuner(setup))


def resume_search(experiment_path, address=None, num_cpus=None, retry_errored=False):
    """Continue an interrupted search from its folder: ended trials are kept, unfinished ones continue from their
    best checkpoint, never-started ones start; ``retry_errored`` runs errored trials again from scratch."""
    experiment_path = os.path.abspath(experiment_path)
    if not os.path.isfile(os.path.join(experiment_path, SETTINGS_FILE)) or not tune.Tuner.can_restore(experiment_path):
        raise FileNotFoundError(f"{experiment_path} holds no search started by run_tune.py to resume")
    setup = SearchSetup.load(experiment_path)
    setup.options.address, setup.options.num_cpus = address, num_cpus
    setup.options.storage_path, setup.options.name = os.path.split(experiment_path)

    def restore():
        return tune.Tuner.restore(experiment_path, trainable=build_trainable(setup), resume_unfinished=True,
                                  resume_errored=False, restart_errored=retry_errored)

    return execute(setup, restore)


def execute(setup, make_tuner):
    started = time.time()
    # Ray 2.6 ignores progress_reporter under its new console output; the CLIReporter table needs the old one.
    with environment_default("RAY_AIR_NEW_OUTPUT", "0"), ray_session(setup.options):
        result_grid = make_tuner().fit()
        results = list(result_grid)
        ray_states = ray_compat.trial_states(result_grid)
    return write_outcome(setup, results, ray_states, time.time() - started)
