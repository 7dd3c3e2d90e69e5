"""Convert ``user item`` text files to RecBole atomic ``.inter`` files.

The SASRec paper (Kang & McAuley, ICDM 2018) and the BERT4Rec paper
(Sun et al., CIKM 2019) release their preprocessed data sets (e.g.
``ml-1m.txt``, ``Beauty.txt``, ``Steam.txt``) as plain text with one
interaction per line::

    <user> <item>

separated by whitespace. There is no timestamp column: the order of a
user's lines in the file *is* that user's chronological order.

RecBole orders each user's history by a time field, so this converter
writes the 0-based position of each interaction within its user as
``timestamp:float``. RecBole's ``TO`` ordering then reproduces the file
order exactly. User and item ids are kept as opaque tokens.

Usage::

    python -m recbole_bert4rec.convert ml-1m.txt --out dataset --name ml-1m

which writes ``dataset/ml-1m/ml-1m.inter``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

HEADER = "user_id:token\titem_id:token\ttimestamp:float\n"


@dataclass(frozen=True)
class ConversionStats:
    """Counts for one conversion, plus where the ``.inter`` file went."""

    users: int
    items: int
    interactions: int
    inter_path: str

    def as_dict(self) -> dict:
        return asdict(self)


def _read_histories(src: Path) -> dict[str, list[str]]:
    """Return ``{user: [item, ...]}`` in file order, users in first-seen order."""
    if not src.is_file():
        raise ValueError(
            f"{src}: input file not found; pass the path to the "
            "'user item' .txt file (e.g. ml-1m.txt)"
        )
    # dicts keep insertion order, which gives users in first-appearance
    # order even when a user's lines are not contiguous.
    histories: dict[str, list[str]] = {}
    lineno = 0
    with src.open("r", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            fields = line.split()
            if not fields:
                continue  # blank lines carry no interaction
            if len(fields) != 2:
                raise ValueError(
                    f"{src}:{lineno}: expected 2 whitespace-separated fields "
                    f"'user item', got {len(fields)}: {line.rstrip()!r}; "
                    "fix or delete this line"
                )
            user, item = fields
            histories.setdefault(user, []).append(item)
    if not histories:
        raise ValueError(
            f"{src}: no interactions in {lineno} line(s) (file is empty or "
            "blank); expected lines of the form 'user item', check the path"
        )
    return histories


def _write_atomic(path: Path, histories: dict[str, list[str]]) -> None:
    """Write the ``.inter`` file via a temp file so readers never see half of it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(HEADER)
            for user, items in histories.items():
                for pos, item in enumerate(items):
                    fh.write(f"{user}\t{item}\t{pos}\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def convert_user_item_txt(
    src_path: str | os.PathLike, out_dir: str | os.PathLike, dataset_name: str
) -> ConversionStats:
    """Convert ``src_path`` into ``<out_dir>/<dataset_name>/<dataset_name>.inter``.

    RecBole looks for atomic files at ``data_path/<dataset>/<dataset>.inter``,
    so ``out_dir`` is what to pass as RecBole's ``data_path``.
    """
    if not dataset_name or dataset_name in (".", "..") or any(
        sep in dataset_name for sep in ("/", "\\", os.sep)
    ):
        raise ValueError(
            f"invalid dataset name {dataset_name!r}; use a plain name such as 'ml-1m'"
        )
    histories = _read_histories(Path(src_path))

    target_dir = Path(out_dir) / dataset_name
    target_dir.mkdir(parents=True, exist_ok=True)
    inter_path = target_dir / f"{dataset_name}.inter"
    _write_atomic(inter_path, histories)

    return ConversionStats(
        users=len(histories),
        items=len({item for items in histories.values() for item in items}),
        interactions=sum(len(items) for items in histories.values()),
        inter_path=str(inter_path),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m recbole_bert4rec.convert",
        description="Convert a SASRec/BERT4Rec 'user item' .txt file to a RecBole .inter file.",
    )
    parser.add_argument("src", help="input text file, one 'user item' pair per line")
    parser.add_argument("--out", required=True, help="output root (RecBole data_path)")
    parser.add_argument("--name", required=True, help="dataset name (RecBole dataset)")
    args = parser.parse_args(argv)

    try:
        stats = convert_user_item_txt(args.src, args.out, args.name)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {stats.inter_path}")
    print(f"users: {stats.users}")
    print(f"items: {stats.items}")
    print(f"interactions: {stats.interactions}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
