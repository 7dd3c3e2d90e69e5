"""Tests for the SASRec/BERT4Rec ``user item`` text -> RecBole converter."""

import re
import sys
from pathlib import Path

import pytest

from recbole_bert4rec.convert import ConversionStats, convert_user_item_txt, main

HEADER = "user_id:token\titem_id:token\ttimestamp:float"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _rows(stats: ConversionStats) -> list[list[str]]:
    lines = Path(stats.inter_path).read_text(encoding="utf-8").splitlines()
    assert lines[0] == HEADER
    return [line.split("\t") for line in lines[1:]]


def test_round_trip_keeps_file_order(tmp_path):
    src = _write(tmp_path / "d.txt", "1 10\n1 30\n1 20\n2 20\n2 10\n")
    stats = convert_user_item_txt(src, tmp_path / "out", "toy")

    assert stats == ConversionStats(
        users=2,
        items=3,
        interactions=5,
        inter_path=str(tmp_path / "out" / "toy" / "toy.inter"),
    )
    assert _rows(stats) == [
        ["1", "10", "0"],
        ["1", "30", "1"],
        ["1", "20", "2"],
        ["2", "20", "0"],
        ["2", "10", "1"],
    ]
    # Only the final file remains; the temp file was renamed into place.
    assert sorted(p.name for p in (tmp_path / "out" / "toy").iterdir()) == ["toy.inter"]


def test_non_contiguous_users_grouped_in_first_seen_order(tmp_path):
    src = _write(tmp_path / "d.txt", "b 1\na 2\nb 3\na 4\nb 1\n")
    stats = convert_user_item_txt(src, tmp_path, "nc")

    assert (stats.users, stats.items, stats.interactions) == (2, 4, 5)
    assert _rows(stats) == [
        ["b", "1", "0"],
        ["b", "3", "1"],
        ["b", "1", "2"],  # repeat interactions are kept, as in the source
        ["a", "2", "0"],
        ["a", "4", "1"],
    ]


def test_blank_lines_and_extra_whitespace_are_ignored(tmp_path):
    src = _write(tmp_path / "d.txt", "\n1 5\n\n   \n1\t6  \n2  5\n\n")
    stats = convert_user_item_txt(src, tmp_path, "bl")

    assert (stats.users, stats.items, stats.interactions) == (2, 2, 3)
    assert _rows(stats) == [["1", "5", "0"], ["1", "6", "1"], ["2", "5", "0"]]


@pytest.mark.parametrize(
    "bad_line, nfields", [("1 2 3", 3), ("7", 1)], ids=["three", "one"]
)
def test_bad_line_names_file_line_and_fix(tmp_path, bad_line, nfields):
    src = _write(tmp_path / "d.txt", f"1 2\n\n{bad_line}\n1 3\n")
    expected = (
        f"{src}:3: expected 2 whitespace-separated fields 'user item', "
        f"got {nfields}: {bad_line!r}; fix or delete this line"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        convert_user_item_txt(src, tmp_path / "out", "bad")
    # Nothing is written when the input is rejected.
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("text, nlines", [("", 0), ("\n  \n\n", 3)], ids=["empty", "blank"])
def test_empty_file(tmp_path, text, nlines):
    src = _write(tmp_path / "d.txt", text)
    expected = (
        f"{src}: no interactions in {nlines} line(s) (file is empty or blank); "
        "expected lines of the form 'user item', check the path"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        convert_user_item_txt(src, tmp_path, "empty")


def test_missing_file(tmp_path):
    src = tmp_path / "nope.txt"
    with pytest.raises(ValueError, match=re.escape(f"{src}: input file not found")):
        convert_user_item_txt(src, tmp_path, "missing")


@pytest.mark.parametrize("name", ["", "a/b", ".."])
def test_bad_dataset_name(tmp_path, name):
    src = _write(tmp_path / "d.txt", "1 2\n")
    with pytest.raises(ValueError, match="invalid dataset name"):
        convert_user_item_txt(src, tmp_path, name)


def test_overwrites_existing_output(tmp_path):
    convert_user_item_txt(_write(tmp_path / "a.txt", "1 2\n1 3\n"), tmp_path, "ow")
    stats = convert_user_item_txt(_write(tmp_path / "b.txt", "9 8\n"), tmp_path, "ow")
    assert _rows(stats) == [["9", "8", "0"]]


def test_cli_prints_counts(tmp_path, capsys):
    src = _write(tmp_path / "d.txt", "1 10\n1 11\n2 10\n")
    assert main([str(src), "--out", str(tmp_path / "o"), "--name", "cli"]) == 0
    out = capsys.readouterr().out
    assert "users: 2" in out and "items: 2" in out and "interactions: 3" in out
    assert (tmp_path / "o" / "cli" / "cli.inter").is_file()


def test_cli_reports_error(tmp_path, capsys):
    src = _write(tmp_path / "d.txt", "1 2 3\n")
    assert main([str(src), "--out", str(tmp_path), "--name", "x"]) == 1
    assert f"{src}:1:" in capsys.readouterr().err


def test_recbole_loads_converted_data(tmp_path, monkeypatch):
    from recbole.config import Config
    from recbole.data import create_dataset

    # Interleaved users; item tokens chosen so that sorting them by value
    # would differ from the file order.
    histories = {
        "u1": ["50", "3", "41", "7", "12"],
        "u2": ["3", "99", "50", "8"],
        "u3": ["12", "7", "41", "3", "99", "60", "77"],  # longer than the cap
    }
    lines = []
    for step in range(max(map(len, histories.values()))):
        for user, items in histories.items():
            if step < len(items):
                lines.append(f"{user} {items[step]}")
    src = _write(tmp_path / "d.txt", "\n".join(lines) + "\n")
    out_dir = tmp_path / "data"
    stats = convert_user_item_txt(src, out_dir, "toyrec")

    # RecBole's Config parses `--key=value` from sys.argv; keep pytest's out.
    monkeypatch.setattr(sys, "argv", ["x"])
    monkeypatch.chdir(tmp_path)  # keep any RecBole side files out of the repo
    config = Config(
        model="SASRec",
        dataset="toyrec",
        config_dict={
            "data_path": str(out_dir),
            "load_col": None,
            "train_neg_sample_args": None,
            "loss_type": "CE",
            "MAX_ITEM_LIST_LENGTH": 5,
            "show_progress": False,
            "eval_args": {
                "split": {"LS": "valid_and_test"},
                "order": "TO",
                "mode": "full",
            },
        },
    )
    dataset = create_dataset(config)

    # RecBole reserves id 0 for padding in both user and item vocabularies.
    assert dataset.user_num == stats.users + 1 == 4
    assert dataset.item_num == stats.items + 1 == 10
    assert dataset.inter_num == stats.interactions == 16

    # build() runs RecBole's own (user, time) sort and leave-one-out split.
    train, valid, test = dataset.build()
    uid, iid = dataset.uid_field, dataset.iid_field

    def histories_of(feat):
        users = dataset.id2token(uid, feat[uid].numpy())
        items = dataset.id2token(iid, feat[iid].numpy())
        seqs: dict[str, list[str]] = {}
        for user, item in zip(users, items):
            seqs.setdefault(str(user), []).append(str(item))
        return seqs

    # The augmented rows are one per target, i.e. every interaction but the
    # user's first (it has no history), in file order ...
    assert histories_of(dataset.inter_feat) == {u: s[1:] for u, s in histories.items()}
    # ... so the held-out test target is the last item in the file per user,
    # and its input sequence is what precedes it (capped at MAX_ITEM_LIST_LENGTH).
    assert histories_of(test.inter_feat) == {u: s[-1:] for u, s in histories.items()}
    test_inputs = {
        str(dataset.id2token(uid, u)): [
            str(t) for t in dataset.id2token(iid, seq[:n].numpy())
        ]
        for u, seq, n in zip(
            test.inter_feat[uid],
            test.inter_feat[iid + config["LIST_SUFFIX"]],
            test.inter_feat[config["ITEM_LIST_LENGTH_FIELD"]],
        )
    }
    assert test_inputs == {u: s[:-1][-5:] for u, s in histories.items()}
