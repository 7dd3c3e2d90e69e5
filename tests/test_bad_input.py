"""Bad input, each case with the exact message a user sees. Every case either works (documented
behaviour, pinned here) or fails before training with a message naming the field and the fix."""

import logging
import os

import pytest
import torch

from recbole_bert4rec import Config, cli, create_dataset, data_preparation, prepare, run_recbole, validation
from recbole_bert4rec.checkpoint import CheckpointError, load_checkpoint
from recbole_bert4rec.config_checks import ConfigError
from recbole_bert4rec.inference import Recommender
from recbole_bert4rec.validation import DataError
from tests.tiny_data import pattern_sequences, tiny_config

HEADER = "user_id:token\titem_id:token\ttimestamp:float\n"


def inter_lines(sequences):
    return "".join(f"{user}\t{item}\t{t}\n" for user, items in sequences.items() for t, item in enumerate(items))


GOOD_LINES = inter_lines(pattern_sequences(n_users=20))


@pytest.fixture
def write_inter(tmp_path, monkeypatch):
    """Write <tmp>/data/tiny/tiny.inter with the given text; returns (data_path, path of the file)."""
    monkeypatch.chdir(tmp_path)

    def write(text):
        folder = tmp_path / "data" / "tiny"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "tiny.inter").write_text(text, encoding="utf-8")
        return str(tmp_path / "data"), str(folder / "tiny.inter")
    return write


def load(data_path, **overrides):
    """Config + dataset, as run_recbole does before training."""
    config = Config("BERT4Rec", "tiny", config_dict=tiny_config(data_path, **overrides))
    return config, create_dataset(config)


def data_error(data_path, **overrides):
    with pytest.raises(DataError) as error:
        load(data_path, **overrides)
    return str(error.value)


# ---- the .inter file ------------------------------------------------------------------------

def test_empty_inter_file(write_inter):
    data, path = write_inter("")
    assert data_error(data) == (
        f"tiny.inter is empty ({path}). Fix: start it with a header line such as "
        f"'user_id:token\\titem_id:token\\ttimestamp:float' and add one interaction per line.")


def test_header_only_inter_file(write_inter):
    data, path = write_inter(HEADER)
    assert data_error(data) == (
        f"tiny.inter has a header but no interactions ({path}). Fix: add one line per interaction under the "
        f"header, e.g. 'alice\titem42\t1700000000'.")


def test_missing_time_column(write_inter):
    data, _ = write_inter("user_id:token\titem_id:token\nu1\ti1\n")
    assert data_error(data) == (
        "tiny.inter has no time field 'timestamp' (TIME_FIELD); its columns are user_id:token, item_id:token. "
        "Fix: add a 'timestamp:float' column or set TIME_FIELD to the column that holds it.")


def test_misspelled_user_column_suggests_the_rename(write_inter):
    data, _ = write_inter(HEADER.replace("user_id", "usr_id") + GOOD_LINES)
    assert data_error(data) == (
        "tiny.inter has no user id field 'user_id' (USER_ID_FIELD); its columns are usr_id:token, item_id:token, "
        "timestamp:float. Did you mean 'usr_id'? Fix: rename the header to 'user_id:token' or set "
        "USER_ID_FIELD: usr_id.")


def test_misspelled_user_column_works_once_the_field_is_renamed(write_inter):
    data, _ = write_inter(HEADER.replace("user_id", "usr_id") + GOOD_LINES)
    _, dataset = load(data, USER_ID_FIELD="usr_id")
    assert dataset.user_num == 21  # 20 users + padding


def test_column_without_a_type(write_inter):
    data, _ = write_inter("user_id\titem_id:token\ttimestamp:float\n" + GOOD_LINES)
    assert data_error(data) == (
        "tiny.inter: column 'user_id' in the header has no type. Fix: write it as 'user_id:token' "
        "(types: token, token_seq, float, float_seq).")


def test_column_with_a_misspelled_type(write_inter):
    data, _ = write_inter(HEADER.replace("item_id:token", "item_id:tokn") + GOOD_LINES)
    assert data_error(data) == (
        "tiny.inter: column 'item_id' has unknown type 'tokn'. Fix: use one of token, token_seq, float, "
        "float_seq, e.g. 'item_id:token'.")


def test_time_column_declared_as_token(write_inter):
    data, _ = write_inter(HEADER.replace("timestamp:float", "timestamp:token") + GOOD_LINES)
    assert data_error(data) == (
        "tiny.inter: column 'timestamp' (TIME_FIELD) is declared timestamp:token but must be timestamp:float. "
        "Fix: change its header to 'timestamp:float'.")


def test_recbole_default_load_col_leaves_the_time_out(write_inter):
    data, _ = write_inter(HEADER + GOOD_LINES)
    assert data_error(data, load_col={"inter": ["user_id", "item_id"]}) == (
        "load_col leaves 'timestamp' of tiny.inter unloaded (load_col: {inter: ['user_id', 'item_id']}; "
        "RecBole's default for a new dataset is [user_id, item_id]). Fix: set load_col: "
        "{inter: ['user_id', 'item_id', 'timestamp']}, or load_col: ~ to load every column.")


def test_non_numeric_timestamps(write_inter):
    data, _ = write_inter(HEADER + "u1\ti1\t2021-03-04\nu1\ti2\t1614900000\nu1\ti3\tyesterday\n")
    assert data_error(data) == (
        "tiny.inter, lines 2, 4: timestamp '2021-03-04' is not a number (timestamp:float). Fix: write times as "
        "numbers, e.g. Unix seconds (pandas: pd.to_datetime(col).astype('int64') // 10**9).")


def test_empty_timestamps(write_inter):
    data, _ = write_inter(HEADER + GOOD_LINES + "u1\ti1\t\n")
    line = GOOD_LINES.count("\n") + 2
    assert data_error(data) == (
        f"tiny.inter, line {line}: timestamp is empty. BERT4Rec orders each user's interactions by timestamp "
        f"(RecBole would fill in the column mean). Fix: give every line a timestamp or remove those lines.")


def test_windows_line_endings(write_inter):
    data, _ = write_inter((HEADER + GOOD_LINES).replace("\n", "\r\n"))
    assert data_error(data) == (
        "tiny.inter has Windows line endings (\\r\\n), which RecBole reads into the last column's type. "
        "Fix: convert the file to \\n line endings (e.g. dos2unix tiny.inter).")


def test_missing_ids(write_inter):
    data, _ = write_inter(HEADER + GOOD_LINES + "\ti1\t99\nu1\t\t100\n")
    line = GOOD_LINES.count("\n") + 2
    assert data_error(data) == (
        f"tiny.inter, line {line}: user_id is empty. Fix: fill in the user_id or remove those lines "
        f"(RecBole 1.2.1 would remove other lines in their place).")


def test_duplicate_rows_are_kept_with_a_warning_or_dropped_on_request(write_inter, caplog):
    duplicate = GOOD_LINES.splitlines(keepends=True)[3]
    data, _ = write_inter(HEADER + GOOD_LINES + duplicate)
    with caplog.at_level(logging.WARNING):
        _, kept = load(data)
    line = GOOD_LINES.count("\n") + 2
    assert (f"tiny.inter, line {line}: repeat an earlier (user_id, item_id, timestamp); they are kept as repeated "
            f"interactions. Set rm_dup_inter: first to drop repeated (user, item) pairs.") in caplog.messages
    assert len(kept.inter_feat) == GOOD_LINES.count("\n") + 1
    _, deduplicated = load(data, rm_dup_inter="first")
    assert len(deduplicated.inter_feat) == GOOD_LINES.count("\n")


def test_file_checks_read_in_chunks_still_see_the_whole_file(write_inter, monkeypatch, caplog):
    monkeypatch.setattr(validation, "CHUNK_ROWS", 7)
    lines = GOOD_LINES.splitlines(keepends=True)
    data, _ = write_inter(HEADER + "".join(lines) + lines[0])  # repeats a line from the first chunk
    with caplog.at_level(logging.WARNING):
        load(data)
    assert any(message.startswith(f"tiny.inter, line {len(lines) + 2}: repeat an earlier")
               for message in caplog.messages)
    data, _ = write_inter(HEADER + "".join(lines) + "u1\t\t5\n")
    assert data_error(data).startswith(f"tiny.inter, line {len(lines) + 2}: item_id is empty.")


def test_user_with_one_interaction_trains_but_is_not_evaluated(write_inter):
    data, _ = write_inter(HEADER + GOOD_LINES + "solo\ti3\t0\n")
    config, dataset = load(data)
    train, valid, test = data_preparation(config, dataset)
    solo = dataset.field2token_id["user_id"]["solo"]
    assert solo in train.train_users.tolist()
    assert solo not in valid.dataset.inter_feat["user_id"].tolist() + test.dataset.inter_feat["user_id"].tolist()


def test_no_user_long_enough_for_validation(write_inter):
    data, _ = write_inter(HEADER + "u1\ti1\t0\nu1\ti2\t1\nu2\ti1\t0\n")
    assert data_error(data) == (
        "tiny.inter: no user has 3 or more interactions (the most is 2), so the leave-one-out split "
        "eval_args.split: {LS: valid_and_test} leaves the validation set empty. Fix: add interactions, or use "
        "LS: test_only (users need 2).")


def test_tokens_with_spaces_and_unicode_round_trip_to_inference(write_inter):
    odd_items = ["café au lait", "寿司", "item  with two spaces", "naïve"]
    sequences = {f"{user} {n}": odd_items[n % 2:] + [f"i{(n + k) % 12}" for k in range(4 + n % 3)]
                 for n in range(12) for user in ("Zoë Ångström", "μ user")}
    data, _ = write_inter(HEADER + inter_lines(sequences))
    result = run_recbole("BERT4Rec", "tiny", config_dict=tiny_config(data, epochs=1))
    recommender = Recommender.from_checkpoint(result["saved_model_file"])
    assert "Zoë Ångström 3" in recommender.user_ids and "item  with two spaces" in recommender.item_ids
    (rec,) = recommender.recommend_sequences([["café au lait", "寿司"]], k=3)
    assert rec.unknown_items == [] and len(rec.items) == 3 and not {"café au lait", "寿司"} & set(rec.items)
    (by_user,) = recommender.recommend_users(["Zoë Ångström 3"], k=50)
    assert set(by_user.items) == set(recommender.item_tokens[1:]) - set(sequences["Zoë Ångström 3"])


def test_topk_larger_than_the_catalogue(write_inter):
    data, _ = write_inter(HEADER + "".join(f"u{u}\ti{t % 4}\t{t}\n" for u in range(5) for t in range(6)))
    assert data_error(data) == (
        "topk [10] asks for more items than the 4 distinct item_ids in tiny.inter (RecBole's evaluation would "
        "fail with 'selected index k out of range'). Fix: set topk: [4] or lower.")


def test_sequence_longer_than_max_length_is_cut_to_the_newest_items(write_inter):
    long_user = {"long": [f"i{k % 30 + 1}" for k in range(100)]}
    data, _ = write_inter(HEADER + GOOD_LINES + inter_lines(long_user))
    _, _, _, (_, _, test) = prepare("BERT4Rec", "tiny", config_dict=tiny_config(data, MAX_ITEM_LIST_LENGTH=10))
    rows = test.dataset.inter_feat
    row = rows["user_id"].tolist().index(test.dataset.field2token_id["user_id"]["long"])
    assert rows["item_length"][row] == 10 and rows["full_history_length"][row] == 99


def test_unknown_dataset_names_the_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as error:
        run_recbole("BERT4Rec", "nope", config_dict=tiny_config(str(tmp_path)))
    folder = os.path.join(str(tmp_path), "nope")
    assert str(error.value) == (
        f"dataset 'nope': no interaction file at {folder}/nope.inter. Put the RecBole atomic files 'nope.inter' "
        f"(and optional .item/.user) in that folder, or set data_path to the folder that contains 'nope/' "
        f"(e.g. --data_path=/data/recbole).")


def test_cli_on_a_new_dataset_asks_for_load_col(write_inter, capsys):
    """RecBole loads only user_id and item_id of a dataset it has no yaml for."""
    data, _ = write_inter(HEADER + GOOD_LINES)
    assert cli.main(["--dataset=tiny", f"--data_path={data}", "--state=WARNING"]) == 2
    assert capsys.readouterr().err == (
        "error: load_col leaves 'timestamp' of tiny.inter unloaded (load_col: {inter: ['user_id', 'item_id']}; "
        "RecBole's default for a new dataset is [user_id, item_id]). Fix: set load_col: "
        "{inter: ['user_id', 'item_id', 'timestamp']}, or load_col: ~ to load every column.\n")


def test_cli_shows_data_errors_as_one_line_and_exit_2(write_inter, capsys):
    data, path = write_inter(HEADER)
    assert cli.main(["--dataset=tiny", f"--data_path={data}", "--state=WARNING", "--load_col=None"]) == 2
    assert capsys.readouterr().err == (
        f"error: tiny.inter has a header but no interactions ({path}). Fix: add one line per interaction under "
        f"the header, e.g. 'alice\titem42\t1700000000'.\n")


# ---- configuration --------------------------------------------------------------------------

def config_error(tmp_path, yaml_text):
    config_file = tmp_path / "bad.yaml"
    config_file.write_text(yaml_text)
    with pytest.raises(ConfigError) as error:
        Config("BERT4Rec", "tiny", config_file_list=[str(config_file)])
    return str(error.value)


def test_yaml_with_a_string_size(tmp_path):
    assert config_error(tmp_path, 'hidden_size: "abc"\n') == (
        "hidden_size must be an integer >= 1, got 'abc' (str); fix it in your yaml or with --hidden_size=<int>.")


def test_negative_size(tmp_path):
    assert config_error(tmp_path, "inner_size: -4\n") == (
        "inner_size must be >= 1, got -4; fix it in your yaml or with --inner_size=<int>.")


def test_heads_not_dividing_hidden_size(tmp_path):
    assert config_error(tmp_path, "hidden_size: 64\nn_heads: 3\n") == (
        "hidden_size (64) must be divisible by n_heads (3); e.g. hidden_size: 63.")


@pytest.mark.parametrize("yaml_text, message", [
    ("epochs: 0\n", "epochs must be >= 1, got 0; fix it in your yaml or with --epochs=<int>."),
    ("train_batch_size: 12.5\n", "train_batch_size must be an integer >= 1, got 12.5 (float); fix it in your "
                                 "yaml or with --train_batch_size=<int>."),
    ("learning_rate: -0.001\n", "learning_rate must be a positive number, got -0.001."),
])
def test_training_keys(tmp_path, yaml_text, message):
    assert config_error(tmp_path, yaml_text) == message


# ---- checkpoints ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad_checkpoints")
    from tests.tiny_data import write_sequences
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        data = write_sequences(str(folder / "data"), "tiny", pattern_sequences(n_users=20))
        return run_recbole("BERT4Rec", "tiny", config_dict=tiny_config(data, epochs=1))["saved_model_file"]


def checkpoint_error(path):
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(path)
    return str(error.value)


def assert_corrupt_message(message, path):
    # The part in parentheses is torch's own reason, which depends on where the file breaks off.
    assert message.startswith(f"checkpoint {str(path)!r} is truncated or corrupt (") and message.endswith(
        "); use an earlier checkpoint or retrain"), message


@pytest.mark.parametrize("keep", [0.5, 0.99])
def test_truncated_checkpoint(real_checkpoint, tmp_path, keep):
    path = tmp_path / "truncated.pth"
    data = open(real_checkpoint, "rb").read()
    path.write_bytes(data[: int(len(data) * keep)])
    assert_corrupt_message(checkpoint_error(path), path)


@pytest.mark.parametrize("content", [b"", b"this is not a checkpoint\n", bytes(range(256)) * 4])
def test_corrupt_checkpoint(tmp_path, content):
    path = tmp_path / "corrupt.pth"
    path.write_bytes(content)
    assert_corrupt_message(checkpoint_error(path), path)


def test_inference_cli_reports_a_corrupt_checkpoint_with_exit_2(tmp_path, capsys):
    from recbole_bert4rec.inference_cli import main
    path = tmp_path / "corrupt.pth"
    path.write_bytes(b"")
    assert main([str(path), "--user", "u1"]) == 2
    assert capsys.readouterr().err == (
        f"error: checkpoint {str(path)!r} is truncated or corrupt (EOFError: no detail); use an earlier "
        f"checkpoint or retrain\n")


def test_bare_state_dict_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "weights.pth"
    torch.save({"item_embedding.weight": torch.zeros(3, 2)}, path)
    assert checkpoint_error(path) == (
        f"{str(path)!r} is not a recbole_bert4rec checkpoint (no 'format_version'; e.g. a bare state_dict). "
        f"Use a file written by recbole_bert4rec's trainer (saved/<model>-<time>.pth)")


def test_checkpoint_from_a_newer_version(tmp_path):
    path = tmp_path / "future.pth"
    torch.save({"format_version": 99}, path)
    assert checkpoint_error(path) == (
        f"checkpoint {str(path)!r} has format version 99, newer than this recbole_bert4rec reads (2); "
        f"upgrade recbole_bert4rec")


def test_checkpoint_without_id_maps_cannot_serve_inference(real_checkpoint, tmp_path):
    state = load_checkpoint(real_checkpoint)
    del state["dataset"]
    state["format_version"] = 1
    path = tmp_path / "v1.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointError) as error:
        Recommender.from_checkpoint(path)
    assert str(error.value) == (
        f"checkpoint {str(path)!r} (format version 1) has no 'dataset'; it was written by an older "
        f"recbole_bert4rec. Retrain to get a checkpoint with them")
