"""From the user's configuration to a frozen search setup: checked once, before Ray starts."""

import json
import os
from dataclasses import asdict, dataclass, field
from importlib.util import find_spec

from recbole_bert4rec.checkpoint import to_plain
from recbole_bert4rec.config import Config, properties_dir
from recbole_bert4rec.tune.environment import cuda_visible_devices_kept
from recbole_bert4rec.tune.space import check_space, grid_keys, read_space_file
from recbole_bert4rec.tune.trial import TrialPlan

SETTINGS_FILE = "search_settings.json"

# Keys each trial sets itself: Ray decides devices, the trial folder holds its files.
TRIAL_OWNED_KEYS = ("checkpoint_dir", "show_progress", "use_gpu", "gpu_id")
# Relative paths a user may give that must not resolve inside each trial's folder.
PATH_KEYS = ("dataset_save_path", "dataloaders_save_path")
# name -> (package, Ray module, class, seed argument)
SEARCH_ALGORITHMS = {
    "optuna": ("optuna", "ray.tune.search.optuna", "OptunaSearch", "seed"),
    "hyperopt": ("hyperopt", "ray.tune.search.hyperopt", "HyperOptSearch", "random_state_seed"),
}


@dataclass
class SearchOptions:
    """How the search runs (not what a trial trains)."""

    num_samples: int = 1  # with grid entries: repeats of the whole grid
    cpus_per_trial: float = 1
    gpus_per_trial: float = 0  # fractions share a GPU, e.g. 0.5 = two trials per GPU
    max_concurrent: int | None = None
    time_budget_s: float | None = None
    scheduler: str = "asha"  # asha | fifo
    grace_period: int = 1  # ASHA: validations every trial gets before it can be pruned
    reduction_factor: float = 2  # ASHA: keep the best 1/reduction_factor at each rung
    search_alg: str | None = None  # None (random/grid) | optuna | hyperopt
    search_seed: int | None = None  # seeds the sampling of configurations
    storage_path: str = "ray_results"
    name: str | None = None  # default: <model>-<dataset>-<date>_<time>
    address: str | None = None  # Ray cluster to join; default RAY_ADDRESS, else a local Ray started here
    num_cpus: int | None = None  # local Ray only: CPUs it may use (default: all)


@dataclass
class SearchSetup:
    """What a search is; saved beside its results so a resume needs only the folder."""

    plan: TrialPlan
    space: dict
    options: SearchOptions
    mode: str  # max | min, from valid_metric_bigger
    max_validations: int  # ASHA's max_t: validations in a full run
    file_config: dict = field(default_factory=dict)  # values read from --config_files, for the best yaml

    @property
    def expected_trials(self):
        """Trials a whole search creates: num_samples, times every grid's size (Ray repeats grids)."""
        total = self.options.num_samples
        for key in grid_keys(self.space):
            total *= len(self.space[key]["grid"])
        return total

    @property
    def folder(self):
        return os.path.join(self.options.storage_path, self.options.name)

    def save(self):
        with open(os.path.join(self.folder, SETTINGS_FILE), "w", encoding="utf-8") as f:
            json.dump(to_plain(asdict(self)), f, indent=2)

    @classmethod
    def load(cls, folder):
        with open(os.path.join(folder, SETTINGS_FILE), encoding="utf-8") as f:
            raw = json.load(f)
        return cls(plan=TrialPlan(**raw.pop("plan")), options=SearchOptions(**raw.pop("options")), **raw)


def default_space_file(model):
    return os.path.join(properties_dir(), "tune", f"{model}.yaml")


def load_space(space, model):
    """A path (our yaml or RecBole's hyper file), a plain-form dict, or None for properties/tune/<model>.yaml."""
    if space is None:
        space = default_space_file(model if isinstance(model, str) else model.__name__)
        if not os.path.isfile(space):
            raise FileNotFoundError(f"no default search space for {model} ({space}); pass --space=<file>")
    if isinstance(space, (str, os.PathLike)):
        return read_space_file(space)
    return check_space(space)


def check_search_alg(name, space):
    if name is None:
        return
    if name not in SEARCH_ALGORITHMS:
        raise ValueError(f"search_alg {name!r}: use one of {', '.join(SEARCH_ALGORITHMS)} (or none for random/grid)")
    package = SEARCH_ALGORITHMS[name][0]
    if find_spec(package) is None:
        raise ValueError(f"--search-alg {name} needs the {package} package, which is not installed here: "
                         f"pip install {package}")
    if grid_keys(space):
        raise ValueError(f"{', '.join(grid_keys(space))}: 'grid' works only without --search-alg; "
                         f"write choice instead")


def plan_search(space, model="BERT4Rec", dataset="ml-100k", config_file_list=None, config_dict=None,
                cmd_args=None, options=None):
    """Build the configuration once here (unknown model, bad values: errors before Ray starts) and freeze
    what every trial needs, with absolute paths (Ray runs each trial in its own folder)."""
    options = options or SearchOptions()
    space = load_space(space, model)
    check_search_alg(options.search_alg, space)
    if options.scheduler not in ("asha", "fifo"):
        raise ValueError(f"scheduler {options.scheduler!r}: use asha or fifo")
    config_files = [os.path.abspath(path) for path in (config_file_list or [])]
    with cuda_visible_devices_kept():
        probe = Config(model, dataset, config_files, dict(config_dict or {}), cmd_args)
    fixed = {**probe.variable_config_dict, **probe.cmd_config_dict}
    both = sorted(set(fixed) & set(space))
    if both:
        raise ValueError(f"{', '.join(both)}: both searched (search space) and fixed (--key=value or config_dict); "
                         f"drop one of the two")
    if not probe["eval_step"] or probe["eval_step"] < 1:
        raise ValueError(f"eval_step={probe['eval_step']}: trials report validations, set eval_step >= 1")
    base = {key: value for key, value in fixed.items() if key not in TRIAL_OWNED_KEYS}
    for key in PATH_KEYS:
        if isinstance(base.get(key), str):
            base[key] = os.path.abspath(base[key])
    if probe["dataset"] != "ml-100k":  # RecBole reads ml-100k from its wheel whatever data_path says
        base["data_path"] = os.path.dirname(os.path.abspath(os.path.normpath(probe["data_path"])))
    plan = TrialPlan(model=probe["model"], dataset=probe["dataset"], config_files=config_files,
                     base_config=to_plain(base), metric=probe["valid_metric"].lower())
    return SearchSetup(
        plan=plan, space=space, options=options,
        mode="max" if probe["valid_metric_bigger"] else "min",
        max_validations=max(1, probe["epochs"] // probe["eval_step"]),  # RecBole validates after every eval_step-th epoch
        file_config=to_plain(probe.file_config_dict),
    )
