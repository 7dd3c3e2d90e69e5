"""Search spaces: our yaml format, RecBole's hyper file format, and their Ray Tune domains."""

import math

import pytest
from ray import tune

from recbole_bert4rec.config import properties_dir
from recbole_bert4rec.tune.space import (KINDS, SearchSpaceError, grid_keys, parse_recbole_hyper, parse_yaml_space,
                                         read_space_file, to_param_space)


def test_yaml_space_reads_every_kind_and_exponent_floats():
    space = parse_yaml_space("""
learning_rate: {loguniform: [1e-4, 1.0e-2]}   # 1e-4 without a dot is a float, as RecBole reads it
hidden_size: {choice: [32, 64]}
n_layers: {grid: [1, 2]}
mask_ratio: {uniform: [0.1, 0.4]}
n_heads: {randint: [1, 4]}
hidden_dropout_prob: {quniform: [0.1, 0.5, 0.1]}
""")
    assert space == {
        "learning_rate": {"loguniform": [1e-4, 1e-2]},
        "hidden_size": {"choice": [32, 64]},
        "n_layers": {"grid": [1, 2]},
        "mask_ratio": {"uniform": [0.1, 0.4]},
        "n_heads": {"randint": [1, 4]},
        "hidden_dropout_prob": {"quniform": [0.1, 0.5, 0.1]},
    }
    assert set(KINDS) == {kind for entry in space.values() for kind in entry}


def test_recbole_hyper_file_loguniform_bounds_are_natural_logs():
    space = parse_recbole_hyper("""
# a comment
learning_rate loguniform -8,0
hidden_size choice [64,128]
mlp_hidden_size choice ['[64,64,64]','[128,128]']
dropout_prob uniform 0.1, 0.5
embedding_size quniform 16,64,16
""")
    low, high = space["learning_rate"]["loguniform"]
    assert low == pytest.approx(math.exp(-8)) and high == pytest.approx(1.0)
    assert space["hidden_size"] == {"choice": [64, 128]}
    assert space["mlp_hidden_size"] == {"choice": [[64, 64, 64], [128, 128]]}  # RecBole's Config would eval them
    assert space["dropout_prob"] == {"uniform": [0.1, 0.5]}
    assert space["embedding_size"] == {"quniform": [16.0, 64.0, 16.0]}


@pytest.mark.parametrize("text, message", [
    ("learning_rate: 0.001", "Fixed values belong in a --config_files yaml"),
    ("learning_rate: {logunifrom: [1e-4, 1e-2]}", "unknown kind 'logunifrom'"),
    ("learning_rate: {loguniform: [0, 1e-2]}", "loguniform needs low > 0"),
    ("learning_rate: {uniform: [0.5, 0.1]}", "needs low < high"),
    ("hidden_size: {choice: []}", "non-empty list"),
    ("n_layers: {randint: [1.5, 3]}", "randint bounds must be integers"),
    ("mask_ratio: {quniform: [0.1, 0.5]}", "quniform takes [low, high, step]"),
    ("mask_ratio: {uniform: [low, 0.5]}", "bounds must be numbers"),
    ("", "non-empty mapping"),
])
def test_malformed_yaml_space_names_the_key_and_the_fix(text, message):
    with pytest.raises(SearchSpaceError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_yaml_space(text)


@pytest.mark.parametrize("line, message", [
    ("learning_rate loguniform", "is not 'key kind value'"),
    ("n_layers randint 1,3", "RecBole's format knows choice, uniform, quniform, loguniform"),
    ("hidden_size choice 64", "choice takes a list"),
])
def test_malformed_recbole_hyper_line_is_reported_with_its_number(line, message):
    with pytest.raises(SearchSpaceError, match=f"line 2: .*{message}"):
        parse_recbole_hyper("hidden_size choice [64]\n" + line)


def test_file_extension_decides_the_format(tmp_path):
    (tmp_path / "space.yaml").write_text("learning_rate: {loguniform: [1e-4, 1e-2]}\n")
    (tmp_path / "hyper.test").write_text("learning_rate loguniform -8,0\n")
    assert read_space_file(tmp_path / "space.yaml")["learning_rate"] == {"loguniform": [1e-4, 1e-2]}
    assert read_space_file(tmp_path / "hyper.test")["learning_rate"]["loguniform"][1] == pytest.approx(1.0)


def test_errors_in_a_file_name_the_file(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("learning_rate: {loguniform: [1, 0.1]}\n")
    with pytest.raises(SearchSpaceError, match="space.yaml: learning_rate"):
        read_space_file(path)


def test_param_space_samples_inside_each_domain():
    param_space = to_param_space({
        "learning_rate": {"loguniform": [1e-4, 1e-2]},
        "hidden_size": {"choice": [32, 64]},
        "n_heads": {"randint": [1, 4]},
        "dropout": {"quniform": [0.1, 0.5, 0.1]},
        "n_layers": {"grid": [1, 2]},
    })
    assert param_space["n_layers"] == tune.grid_search([1, 2])
    for _ in range(20):
        assert 1e-4 <= param_space["learning_rate"].sample() <= 1e-2
        assert param_space["hidden_size"].sample() in (32, 64)
        assert param_space["n_heads"].sample() in (1, 2, 3)
        dropout = param_space["dropout"].sample()
        assert 0.1 <= dropout <= 0.5 and dropout * 10 == pytest.approx(round(dropout * 10))


def test_default_bert4rec_space_is_valid_and_random_only():
    space = read_space_file(properties_dir() / "tune" / "BERT4Rec.yaml")
    assert {"learning_rate", "hidden_size", "mask_ratio"} <= set(space)
    assert grid_keys(space) == []  # usable with --search-alg too
    assert all(h % 2 == 0 for h in space["hidden_size"]["choice"])  # divisible by the default n_heads


def test_default_bert4rec_space_has_a_comment_on_every_key():
    text = (properties_dir() / "tune" / "BERT4Rec.yaml").read_text()
    entries = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert entries and all("#" in line for line in entries)
