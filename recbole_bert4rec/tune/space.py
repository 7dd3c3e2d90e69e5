"""Search spaces: our yaml format and RecBole's hyper file format, both read into one plain form.

The plain form is ``{config_key: {kind: args}}`` (JSON-able, so a search can be resumed from disk);
:func:`to_param_space` turns it into Ray Tune domains.

Our yaml (``properties/tune/*.yaml``)::

    learning_rate: {loguniform: [1.0e-4, 1.0e-2]}
    hidden_size: {choice: [32, 64]}

RecBole's hyper file (``run_hyper.py --params_file``), one ``key kind value`` per line; as in RecBole
(hyperopt), ``loguniform`` bounds are natural logarithms::

    learning_rate loguniform -8,0
    hidden_size choice [64,128]
"""

import ast
import math
import re

import yaml

# kind -> (argument description for messages, example)
KINDS = {
    "choice": ("a non-empty list of values, sampled uniformly", "{choice: [32, 64]}"),
    "grid": ("a non-empty list of values, each tried (times num_samples)", "{grid: [1, 2]}"),
    "uniform": ("[low, high]", "{uniform: [0.1, 0.5]}"),
    "loguniform": ("[low, high], 0 < low < high, log-scale", "{loguniform: [1.0e-4, 1.0e-2]}"),
    "randint": ("[low, high] integers, high excluded", "{randint: [1, 4]}"),
    "quniform": ("[low, high, step], uniform rounded to a multiple of step", "{quniform: [0.1, 0.5, 0.1]}"),
}
RECBOLE_KINDS = ("choice", "uniform", "quniform", "loguniform")


class SearchSpaceError(ValueError):
    """A search-space file or mapping is malformed; the message names the key and shows the expected form."""


class _YamlLoader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-4`` as a float (YAML 1.1 wants ``1.0e-4``), as RecBole's loader does."""


_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+$"),
    list("-+0123456789."),
)


def _numbers(key, kind, args, count):
    if not isinstance(args, (list, tuple)) or len(args) != count:
        raise SearchSpaceError(f"{key}: {kind} takes {KINDS[kind][0]}, got {args!r}; e.g. {key}: {KINDS[kind][1]}")
    try:
        values = [float(a) for a in args]
    except (TypeError, ValueError):
        raise SearchSpaceError(f"{key}: {kind} bounds must be numbers, got {args!r}; "
                               f"e.g. {key}: {KINDS[kind][1]}") from None
    if values[0] >= values[1]:
        raise SearchSpaceError(f"{key}: {kind} needs low < high, got {args!r}")
    return values


def check_entry(key, entry):
    """Validate one ``{kind: args}`` entry; returns it with numeric bounds as numbers."""
    if not isinstance(entry, dict) or len(entry) != 1:
        raise SearchSpaceError(
            f"{key}: expected one {{kind: args}} mapping with kind in {', '.join(KINDS)}, got {entry!r}; "
            f"e.g. {key}: {{choice: [32, 64]}}. Fixed values belong in a --config_files yaml or --{key}=value."
        )
    (kind, args), = entry.items()
    if kind not in KINDS:
        raise SearchSpaceError(f"{key}: unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    if kind in ("choice", "grid"):
        if not isinstance(args, list) or not args:
            raise SearchSpaceError(f"{key}: {kind} takes {KINDS[kind][0]}, got {args!r}; e.g. {key}: {KINDS[kind][1]}")
        return {kind: list(args)}
    if kind == "quniform":
        low, high, step = _numbers(key, kind, args, 3)
        if step <= 0:
            raise SearchSpaceError(f"{key}: quniform step must be > 0, got {step}")
        return {kind: [low, high, step]}
    low, high = _numbers(key, kind, args, 2)
    if kind == "loguniform" and low <= 0:
        raise SearchSpaceError(f"{key}: loguniform needs low > 0, got {low}; e.g. {key}: {KINDS[kind][1]}")
    if kind == "randint":
        if not (low.is_integer() and high.is_integer()):
            raise SearchSpaceError(f"{key}: randint bounds must be integers, got {args!r}")
        return {kind: [int(low), int(high)]}
    return {kind: [low, high]}


def check_space(space):
    """Validate a whole plain-form space (e.g. a dict written in Python)."""
    if not isinstance(space, dict) or not space:
        raise SearchSpaceError(f"a search space is a non-empty mapping of config key -> {{kind: args}}, got {space!r}")
    return {str(key): check_entry(key, entry) for key, entry in space.items()}


def parse_yaml_space(text):
    """Our yaml format -> plain form."""
    return check_space(yaml.load(text, Loader=_YamlLoader))


def _literal(text):
    # RecBole's Config evaluates string values ('[64,64]' -> list); literal_eval does so without running code.
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_recbole_hyper(text):
    """RecBole's ``key kind value`` lines -> plain form (loguniform bounds given as natural logs)."""
    space = {}
    for number, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        if len(tokens) < 3:
            raise SearchSpaceError(f"line {number}: {line.strip()!r} is not 'key kind value', "
                                   f"e.g. 'learning_rate loguniform -8,0'")
        key, kind, value = tokens[0], tokens[1], "".join(tokens[2:])
        if kind not in RECBOLE_KINDS:
            raise SearchSpaceError(f"line {number}: RecBole's format knows {', '.join(RECBOLE_KINDS)}, got {kind!r}")
        if kind == "choice":
            options = _literal(value)
            if not isinstance(options, list):
                raise SearchSpaceError(f"line {number}: choice takes a list like [64,128], got {value!r}")
            space[key] = {"choice": [_literal(o) if isinstance(o, str) else o for o in options]}
            continue
        bounds = value.split(",")
        if kind == "loguniform" and len(bounds) == 2:
            try:
                bounds = [math.exp(float(b)) for b in bounds]
            except ValueError:
                raise SearchSpaceError(f"line {number}: loguniform takes 'low,high' (natural logs), "
                                       f"got {value!r}") from None
        space[key] = {kind: bounds}
    return check_space(space)


def read_space_file(path):
    """``.yaml``/``.yml``: our format; anything else: RecBole's hyper file format."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        if str(path).endswith((".yaml", ".yml")):
            return parse_yaml_space(text)
        return parse_recbole_hyper(text)
    except SearchSpaceError as err:
        raise SearchSpaceError(f"{path}: {err}") from None


def to_param_space(space):
    """Plain form -> Ray Tune ``param_space``."""
    from ray import tune

    makers = {
        "choice": tune.choice,
        "grid": tune.grid_search,
        "uniform": lambda a: tune.uniform(*a),
        "loguniform": lambda a: tune.loguniform(*a),
        "randint": lambda a: tune.randint(*a),
        "quniform": lambda a: tune.quniform(*a),
    }
    param_space = {}
    for key, entry in check_space(space).items():
        (kind, args), = entry.items()
        param_space[key] = makers[kind](args)
    return param_space


def grid_keys(space):
    return [key for key, entry in space.items() if "grid" in entry]
