"""Plugin-aware RecBole Config: our models and yaml first, RecBole's second (RecBole-GNN's pattern)."""

import importlib
import inspect
from logging import getLogger
from pathlib import Path

from recbole.config import Config as RecBoleConfig
from recbole.model.abstract_recommender import AbstractRecommender
from recbole.utils import get_model as recbole_get_model

from recbole_bert4rec.config_checks import check_bert4rec_config
from recbole_bert4rec.distributed import init_process_group
from recbole_bert4rec.model import BERT4Rec

PLUGIN_MODELS = {"BERT4Rec": BERT4Rec}

# Keys of RecBole's built-in BERT4Rec that only drive its dataloader transform.
LEGACY_TRANSFORM_KEYS = ("transform", "ft_ratio")


def properties_dir():
    """Our yaml folder: inside the installed package, or at the top of a source checkout."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "properties", package.parent / "properties"):
        if (candidate / "model").is_dir():
            return candidate
    raise FileNotFoundError(f"recbole_bert4rec's properties/ folder is missing (looked in {package} and its parent); "
                            f"reinstall with `pip install .`")


RECBOLE_MODEL_PACKAGES = ("general_recommender", "sequential_recommender", "context_aware_recommender",
                          "knowledge_aware_recommender", "exlib_recommender")


def recbole_models():
    """RecBole's model classes by name. Packages that fail to import are skipped: RecBole's exlib
    models need xgboost/lightgbm, and without them RecBole's own lookup crashes for every unknown name."""
    models = {}
    for package in RECBOLE_MODEL_PACKAGES:
        try:
            module = importlib.import_module(f"recbole.model.{package}")
        except ImportError:
            continue
        for name, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, AbstractRecommender) and obj.__module__.startswith(module.__name__):
                models[name] = obj
    return models


def get_model(name):
    """Model class by name: ours first, then RecBole's; unknown names list what exists."""
    if name in PLUGIN_MODELS:
        return PLUGIN_MODELS[name]
    models = recbole_models()
    if name in models:
        return models[name]
    if name.lower() in ("lightgbm", "xgboost"):
        return recbole_get_model(name)  # raises RecBole's ImportError naming the missing package
    raise ValueError(
        f"unknown model {name!r}. recbole_bert4rec models: {', '.join(PLUGIN_MODELS)}; "
        f"RecBole models: {', '.join(sorted(models))}."
    )


def is_plugin_model(model_name, model_class):
    """True when the config resolved to one of our classes (not a same-named RecBole model)."""
    return PLUGIN_MODELS.get(model_name) is model_class


class Config(RecBoleConfig):
    """RecBole's Config, resolving ``model`` to our class and laying ``properties/`` over RecBole's yaml.

    Unlike RecBole's, it never reads ``sys.argv``: command-line overrides come in through ``cmd_args``
    (a list of ``--key=value`` strings), so launcher or pytest arguments cannot leak into a config.
    """

    def __init__(self, model=None, dataset=None, config_file_list=None, config_dict=None, cmd_args=None):
        self._cmd_args = list(cmd_args or [])
        super().__init__(model, dataset, config_file_list, config_dict)
        if is_plugin_model(self.model, self.model_class):
            self._ignore_legacy_keys()
            check_bert4rec_config(self)

    def _load_cmd_line(self):
        cmd_config_dict = {}
        for arg in self._cmd_args:
            key, sep, value = arg[2:].partition("=")
            if not arg.startswith("--") or not sep or not key:
                raise ValueError(f"cannot read command-line argument {arg!r}: overrides are written --key=value, "
                                 f"e.g. --learning_rate=0.001")
            if key in cmd_config_dict and cmd_config_dict[key] != value:
                raise ValueError(f"--{key} is given twice with different values ({cmd_config_dict[key]!r}, {value!r})")
            cmd_config_dict[key] = value
        return self._convert_config_dict(cmd_config_dict)

    def _init_device(self):
        # A launcher set local_rank: multi-process run, on CPU (gloo) too, not only RecBole's CUDA + NCCL.
        if "local_rank" in self.final_config_dict:
            init_process_group(self.final_config_dict)
        else:
            super()._init_device()

    def _get_model_and_dataset(self, model, dataset):
        if model is None:
            model = self.external_config_dict.get("model")
        if isinstance(model, str):
            model = get_model(model)
        return super()._get_model_and_dataset(model, dataset)

    def _load_internal_config_dict(self, model, model_class, dataset):
        plugin = is_plugin_model(model, model_class)
        # A name with no yaml behind it keeps RecBole from loading its own BERT4Rec.yaml for ours.
        super()._load_internal_config_dict(f"{model}.plugin" if plugin else model, model_class, dataset)
        root = properties_dir()
        dataset_yaml = root / "dataset" / f"{dataset}.yaml"
        # The dataset yaml holds the protocol, shared by every model; settings tuned for one of our models on
        # one dataset live in tuned/<model>/<dataset>.yaml, so RecBole's models keep RecBole's training defaults.
        if plugin:
            layers = [root / "overall.yaml", root / "model" / f"{model}.yaml", dataset_yaml,
                      root / "tuned" / model / f"{dataset}.yaml"]
        else:
            layers = [dataset_yaml]
        for path in layers:
            if path.is_file():
                loaded = self._update_internal_config_dict(str(path))
                if loaded and path == dataset_yaml:
                    self.parameters["Dataset"] += [k for k in loaded if k not in self.parameters["Dataset"]]

    def _ignore_legacy_keys(self):
        given = {k: v for k, v in self.external_config_dict.items() if k in LEGACY_TRANSFORM_KEYS and v is not None}
        if given:
            getLogger().warning(
                f"recbole_bert4rec ignores {', '.join(f'{k}={v}' for k, v in given.items())}: our BERT4Rec masks in "
                f"its own train loader (see mask_ratio, last_item_mask_ratio in properties/model/BERT4Rec.yaml)."
            )
        for key in LEGACY_TRANSFORM_KEYS:
            self.final_config_dict.pop(key, None)
        self.final_config_dict["transform"] = None

