"""Inference from a checkpoint alone: known users, raw item sequences, unknown tokens, batching, CLI."""

import itertools
import json
import shutil

import pytest
import torch

from recbole_bert4rec import prepare, run_recbole
from recbole_bert4rec.checkpoint import load_checkpoint, save_checkpoint
from recbole_bert4rec.inference import Recommender
from recbole_bert4rec.inference_cli import main
from tests.tiny_data import pattern_sequences, tiny_config, write_sequences

SEQUENCES = pattern_sequences()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A checkpoint whose training data is deleted afterwards."""
    folder = tmp_path_factory.mktemp("inference")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        data = write_sequences(str(folder / "data"), "tiny", SEQUENCES)
        config = tiny_config(data, epochs=3, checkpoint_dir=str(folder / "saved"))
        result = run_recbole("BERT4Rec", "tiny", config_dict=config)
        _, model, _, (_, _, test_data) = prepare("BERT4Rec", "tiny", config_dict=config)
        test_batch = next(iter(test_data))[0]
    model.load_state_dict(torch.load(result["saved_model_file"], weights_only=True)["state_dict"])
    shutil.rmtree(folder / "data")
    return {"path": result["saved_model_file"], "model": model.eval(), "test_batch": test_batch}


@pytest.fixture(scope="module")
def recommender(trained):
    return Recommender.from_checkpoint(trained["path"])


def test_known_users_get_k_ranked_unseen_items_without_the_training_data(recommender):
    (rec,) = recommender.recommend_users(["u7"], k=5)
    assert rec.query == "u7" and rec.error is None and len(rec.items) == 5
    assert rec.scores == sorted(rec.scores, reverse=True)
    assert not set(rec.items) & set(SEQUENCES["u7"])


def test_known_user_is_scored_on_its_whole_stored_sequence(recommender):
    (by_user,) = recommender.recommend_users(["u12"], k=10)
    (by_sequence,) = recommender.recommend_sequences([SEQUENCES["u12"]], k=10)
    assert by_user.items == by_sequence.items and by_user.scores == by_sequence.scores


def test_sequence_scores_match_the_model_used_in_evaluation(trained, recommender):
    """The history before each user's test item, given as raw tokens, ranks as full-sort evaluation does."""
    batch, model = trained["test_batch"], trained["model"]
    expected = model.full_sort_predict(batch)
    expected[:, 0] = float("-inf")
    users = [recommender.user_tokens[u] for u in batch["user_id"].tolist()]
    histories = [SEQUENCES[user][:-1] for user in users]  # leave-one-out: the last item is the test target
    results = list(recommender.recommend_sequences(histories, k=10, batch_size=7))
    top_scores, _ = expected.topk(10, dim=1)
    for row, rec in enumerate(results):
        assert torch.allclose(torch.tensor(rec.scores), top_scores[row], atol=1e-5), users[row]


def test_keep_seen_leaves_history_items_in_the_ranking(recommender):
    history = SEQUENCES["u3"]
    scores = recommender.score([torch.tensor([recommender.item_ids[t] for t in history])], exclude_seen=False)
    (rec,) = recommender.recommend_users(["u3"], k=scores.size(1), exclude_seen=False)
    assert set(history) <= set(rec.items)
    assert len(rec.items) == len(recommender.item_tokens) - 1  # everything but padding


def test_k_above_the_catalogue_returns_every_unseen_item(recommender):
    (rec,) = recommender.recommend_users(["u3"], k=10_000)
    catalogue = set(recommender.item_tokens[1:])
    assert set(rec.items) == catalogue - set(SEQUENCES["u3"])


def test_unknown_user_ids_are_reported_in_order_and_the_rest_answered(recommender):
    results = list(recommender.recommend_users(["u1", "nobody", "u2"], k=3))
    assert [r.query for r in results] == ["u1", "nobody", "u2"]
    assert results[1].error == "unknown user id 'nobody' (not in the checkpoint's training data)"
    assert results[1].items == [] and len(results[0].items) == len(results[2].items) == 3


def test_unknown_item_tokens_are_skipped_and_reported(recommender):
    known = SEQUENCES["u5"][:4]
    (with_unknown,) = recommender.recommend_sequences([known[:2] + ["no-such-item"] + known[2:] + ["??"]], k=5)
    (clean,) = recommender.recommend_sequences([known], k=5)
    assert with_unknown.unknown_items == ["no-such-item", "??"]
    assert with_unknown.items == clean.items and with_unknown.scores == clean.scores


def test_sequence_without_known_items_gets_the_empty_history_answer(recommender):
    (rec,) = recommender.recommend_sequences([["nothing", "known"]], k=3)
    assert rec.unknown_items == ["nothing", "known"] and len(rec.items) == 3


def test_sequence_longer_than_max_length_uses_its_newest_items_and_excludes_all(recommender):
    catalogue = recommender.item_tokens[1:]
    long = [catalogue[i % len(catalogue)] for i in range(len(catalogue) + 2 * recommender.max_length)]
    (rec,) = recommender.recommend_sequences([long], k=5, exclude_seen=False)
    (newest,) = recommender.recommend_sequences([long[-recommender.max_length:]], k=5, exclude_seen=False)
    assert rec.items == newest.items and rec.scores == newest.scores
    (excluded,) = recommender.recommend_sequences([long], k=5)
    assert excluded.items == []  # the long sequence covers the whole catalogue


def test_batch_size_changes_memory_not_results(recommender, monkeypatch):
    users = [f"u{n}" for n in range(1, 61)]
    one_batch = list(recommender.recommend_users(users, k=5, batch_size=64))
    scored_rows = []
    score = recommender.score
    monkeypatch.setattr(recommender, "score", lambda seqs, exclude: scored_rows.append(len(seqs)) or score(
        seqs, exclude))
    small_batches = list(recommender.recommend_users(users, k=5, batch_size=7))
    assert max(scored_rows) == 7 and sum(scored_rows) == 60
    for a, b in zip(one_batch, small_batches):
        assert a.items == b.items and torch.allclose(torch.tensor(a.scores), torch.tensor(b.scores), atol=1e-5)


def test_queries_are_streamed(recommender):
    endless_users = (f"u{n % 60 + 1}" for n in itertools.count())
    first = list(itertools.islice(recommender.recommend_users(endless_users, k=2, batch_size=4), 5))
    assert [r.query for r in first] == ["u1", "u2", "u3", "u4", "u5"]


def test_checkpoint_from_before_a_config_key_existed_loads_with_its_default(trained, tmp_path):
    state = load_checkpoint(trained["path"])
    del state["config"]["layer_norm_position"], state["config"]["train_window"]
    save_checkpoint(state, tmp_path / "older.pth")
    older = Recommender.from_checkpoint(tmp_path / "older.pth")
    assert older.model.pre_norm is False  # properties/model/BERT4Rec.yaml: layer_norm_position: post
    (rec,) = older.recommend_users(["u1"], k=3)
    assert len(rec.items) == 3


def test_cli_prints_one_line_per_user_and_exits_1_on_unknown_ids(trained, recommender, capsys):
    assert main([trained["path"], "--user", "u1", "ghost", "u2", "-k", "3"]) == 1
    out, err = capsys.readouterr()
    (u1,) = recommender.recommend_users(["u1"], k=3)
    lines = out.splitlines()
    assert len(lines) == 2 and lines[0] == "user u1: " + "  ".join(
        f"{item} ({score:.3f})" for item, score in zip(u1.items, u1.scores))
    assert err == "warning: unknown user id 'ghost' (not in the checkpoint's training data); skipped\n"


def test_cli_reads_sequences_from_a_file_and_writes_json(trained, recommender, tmp_path, capsys):
    sequences = tmp_path / "sessions.tsv"
    sequences.write_text("i3\ti4\ti5\ni10\tunknown item\n", encoding="utf-8")
    assert main([trained["path"], "--sequences-file", str(sequences), "--item-sep", "\\t", "--format", "json",
                 "-k", "4", "--batch-size", "1"]) == 0
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines()]
    assert [row["sequence"] for row in rows] == [["i3", "i4", "i5"], ["i10", "unknown item"]]
    assert rows[1]["unknown_items"] == ["unknown item"] and rows[1]["error"] is None
    (expected,) = recommender.recommend_sequences([["i3", "i4", "i5"]], k=4)
    assert rows[0]["items"] == expected.items
    assert err == ("warning: unknown item ids ['unknown item'] (not in the checkpoint) were left out of the "
                   "sequence\n")


def test_cli_users_file_and_inline_sequence(trained, tmp_path, capsys):
    users = tmp_path / "users.txt"
    users.write_text("u4\nu9\n")
    assert main([trained["path"], "--users-file", str(users), "-k", "2"]) == 0
    assert [line.split(":")[0] for line in capsys.readouterr().out.splitlines()] == ["user u4", "user u9"]
    assert main([trained["path"], "--sequence", "i1", "i2", "--keep-seen", "-k", "2"]) == 0
    assert capsys.readouterr().out.startswith("sequence i1 i2: ")


def test_cli_reports_an_unreadable_checkpoint_with_exit_2(tmp_path, capsys):
    missing = str(tmp_path / "missing.pth")
    assert main([missing, "--user", "u1"]) == 2
    assert capsys.readouterr().err == f"error: checkpoint {missing!r} does not exist\n"
