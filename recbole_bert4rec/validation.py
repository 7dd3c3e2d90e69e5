"""Early checks of a dataset's interaction file for BERT4Rec: before RecBole loads it, fail with a
message that names the file, line, column and the fix, or warn about what RecBole will silently do.

RecBole itself reports these cases late and vaguely (a pandas ``could not convert string to
float`` without a column, ``KeyError: 'timestamp'``, an empty split deep inside the trainer) or
not at all (empty time cells filled with the column mean).
"""

import difflib
import os
from logging import getLogger

import numpy as np
import pandas as pd

FEATURE_TYPES = ("token", "token_seq", "float", "float_seq")

# Interactions a user needs before the leave-one-out split gives it a row in the split that
# drives the run (validation picks the best epoch; test_only has only test rows).
MIN_INTERACTIONS_FOR_SPLIT = {"valid_and_test": (3, "validation"), "valid_only": (2, "validation"),
                              "test_only": (2, "test")}

ROLES = {"USER_ID_FIELD": "user id", "ITEM_ID_FIELD": "item id", "TIME_FIELD": "time"}

MAX_LISTED = 5

CHUNK_ROWS = 1_000_000  # lines read at once; bounds the check's memory on large files


class DataError(ValueError):
    """The dataset files cannot be used as they are; the message names the place and the fix."""


def interaction_file(config):
    return os.path.join(os.path.abspath(config["data_path"]), f"{config['dataset']}.inter")


def check_interaction_file(config):
    """Validate ``<data_path>/<dataset>.inter`` for our sequential model; raises DataError."""
    if config["benchmark_filename"]:
        return  # pre-split files: RecBole reads them as given
    path = interaction_file(config)
    name = os.path.basename(path)
    separator = config["field_separator"] or "\t"
    encoding = config["encoding"] or "utf-8"
    required = {  # config key: (column, type)
        "USER_ID_FIELD": (config["USER_ID_FIELD"], "token"),
        "ITEM_ID_FIELD": (config["ITEM_ID_FIELD"], "token"),
        "TIME_FIELD": (config["TIME_FIELD"], "float"),
    }
    header = _read_header(path, name, separator, encoding, required)
    columns = _parse_header(header, name, separator)
    _check_required_columns(columns, name, required)
    _check_load_col(config, name, required)

    user, item, time = (field for field, _ in required.values())
    summary = InteractionSummary(user, item)
    for chunk in _read_chunks(path, separator, encoding, required):
        _check_times(chunk, name, time)
        _check_missing_ids(chunk, name, (user, item))
        summary.add(chunk)
    if summary.rows == 0:
        raise DataError(f"{name} has a header but no interactions ({path}). Fix: add one line per interaction "
                        f"under the header, e.g. 'alice{separator}item42{separator}1700000000'.")
    _warn_duplicates(summary, name, (user, item, time))
    _check_split_has_rows(config, summary.user_counts, name)
    _check_topk_fits_catalogue(config, len(summary.items), name, item)


class InteractionSummary:
    """What the whole-file checks need, gathered chunk by chunk: memory ~ one chunk + users + items."""

    def __init__(self, user, item):
        self.user, self.item = user, item
        self.rows = 0
        self.row_hashes = []  # one uint64 per line, to find repeated lines across chunks
        self.user_counts = pd.Series(dtype="float64")
        self.items = set()

    def add(self, chunk):
        self.rows += len(chunk)
        self.row_hashes.append(pd.util.hash_pandas_object(chunk, index=False).to_numpy())
        self.user_counts = self.user_counts.add(chunk[self.user].value_counts(), fill_value=0)
        self.items.update(chunk[self.item].unique())

    def repeated_rows(self):
        """Row numbers of lines equal to an earlier line."""
        if not self.row_hashes:
            return np.array([], dtype=np.int64)
        hashes = np.concatenate(self.row_hashes)
        _, first = np.unique(hashes, return_index=True)
        repeated = np.ones(len(hashes), dtype=bool)
        repeated[first] = False
        return np.flatnonzero(repeated)


def _read_chunks(path, separator, encoding, required):
    usecols = [f"{field}:{ftype}" for field, ftype in required.values()]
    # Same NA rules as RecBole's read (pandas defaults), so "missing" means what RecBole will see.
    # The row index continues across chunks, so it still numbers the file's lines.
    reader = pd.read_csv(path, sep=separator, usecols=usecols, dtype=str, encoding=encoding,
                         engine="c" if len(separator) == 1 else "python", chunksize=CHUNK_ROWS)
    with reader:
        for chunk in reader:
            chunk.columns = [field for field, _ in required.values()]
            yield chunk


def _read_header(path, name, separator, encoding, required):
    example = separator.join(f"{field}:{ftype}" for field, ftype in required.values())
    with open(path, encoding=encoding, newline="") as f:
        header = f.readline()
    if not header.strip():
        raise DataError(f"{name} is empty ({path}). Fix: start it with a header line such as {example!r} "
                        f"and add one interaction per line.")
    if header.endswith("\r\n"):
        raise DataError(f"{name} has Windows line endings (\\r\\n), which RecBole reads into the last column's "
                        f"type. Fix: convert the file to \\n line endings (e.g. dos2unix {name}).")
    return header.rstrip("\n")


def _parse_header(header, name, separator):
    columns = {}
    for column in header.split(separator):
        field, colon, ftype = column.partition(":")
        if not colon:
            raise DataError(f"{name}: column {column!r} in the header has no type. Fix: write it as "
                            f"'{column}:token' (types: {', '.join(FEATURE_TYPES)}).")
        if ftype not in FEATURE_TYPES:
            raise DataError(f"{name}: column {field!r} has unknown type {ftype!r}. Fix: use one of "
                            f"{', '.join(FEATURE_TYPES)}, e.g. '{field}:token'.")
        columns[field] = ftype
    return columns


def _check_required_columns(columns, name, required):
    found = ", ".join(f"{field}:{ftype}" for field, ftype in columns.items())
    for key, (field, ftype) in required.items():
        if field not in columns:
            close = difflib.get_close_matches(field, list(columns), n=1)
            hint = (f"rename the header to '{field}:{ftype}' or set {key}: {close[0]}" if close
                    else f"add a '{field}:{ftype}' column or set {key} to the column that holds it")
            guess = f" Did you mean {close[0]!r}?" if close else ""
            raise DataError(f"{name} has no {ROLES[key]} field {field!r} ({key}); its columns are {found}.{guess} "
                            f"Fix: {hint}.")
        if columns[field] != ftype:
            raise DataError(f"{name}: column {field!r} ({key}) is declared {field}:{columns[field]} but must be "
                            f"{field}:{ftype}. Fix: change its header to '{field}:{ftype}'.")


def _check_load_col(config, name, required):
    load_col = config["load_col"]
    wanted = (load_col or {}).get("inter") if isinstance(load_col, dict) else None
    if wanted is None:
        return
    left_out = [field for field, _ in required.values() if field not in wanted]
    if left_out:
        fixed = list(wanted) + left_out
        raise DataError(f"load_col leaves {', '.join(repr(f) for f in left_out)} of {name} unloaded "
                        f"(load_col: {{inter: {list(wanted)}}}; RecBole's default for a new dataset is "
                        f"[user_id, item_id]). Fix: set load_col: {{inter: {fixed}}}, or load_col: ~ to load "
                        f"every column.")


def _lines(index):
    # pandas row 0 is line 2 of the file (line 1 is the header).
    shown = [str(i + 2) for i in index[:MAX_LISTED]]
    more = f" and {len(index) - MAX_LISTED} more" if len(index) > MAX_LISTED else ""
    return f"line{'s' if len(index) > 1 else ''} {', '.join(shown)}{more}"


def _check_times(frame, name, time):
    raw = frame[time]
    empty = raw.isna()
    if empty.any():
        raise DataError(f"{name}, {_lines(frame.index[empty])}: {time} is empty. BERT4Rec orders each user's "
                        f"interactions by {time} (RecBole would fill in the column mean). Fix: give every "
                        f"line a {time} or remove those lines.")
    numeric = pd.to_numeric(raw, errors="coerce")
    bad = numeric.isna()
    if bad.any():
        first = frame.index[bad][0]
        raise DataError(f"{name}, {_lines(frame.index[bad])}: {time} {raw[first]!r} is not a number "
                        f"({time}:float). Fix: write times as numbers, e.g. Unix seconds "
                        f"(pandas: pd.to_datetime(col).astype('int64') // 10**9).")


def _check_missing_ids(frame, name, id_fields):
    # RecBole 1.2.1 would drop such lines by position instead of by label: the wrong interactions
    # vanish, or loading crashes with an IndexError.
    for field in id_fields:
        missing = frame.index[frame[field].isna()]
        if len(missing):
            raise DataError(f"{name}, {_lines(missing)}: {field} is empty. Fix: fill in the {field} or remove "
                            f"those lines (RecBole 1.2.1 would remove other lines in their place).")


def _warn_duplicates(summary, name, key_fields):
    repeated = summary.repeated_rows()
    if len(repeated):
        getLogger().warning(f"{name}, {_lines(repeated)}: repeat an earlier ({', '.join(key_fields)}); they are "
                            f"kept as repeated interactions. Set rm_dup_inter: first to drop repeated "
                            f"(user, item) pairs.")


def _check_split_has_rows(config, counts, name):
    split = ((config["eval_args"] or {}).get("split") or {}).get("LS")
    if split not in MIN_INTERACTIONS_FOR_SPLIT:
        return  # dataset.build reports unsupported splits
    needed, evaluated = MIN_INTERACTIONS_FOR_SPLIT[split]
    if not (counts >= needed).any():
        raise DataError(f"{name}: no user has {needed} or more interactions (the most is {int(counts.max())}), so "
                        f"the leave-one-out split eval_args.split: {{LS: {split}}} leaves the {evaluated} set "
                        f"empty. Fix: add interactions, or use LS: test_only (users need 2).")
    single = int((counts == 1).sum())
    if single:
        getLogger().info(f"{name}: {single} user(s) with a single interaction are used for training only.")


def _check_topk_fits_catalogue(config, n_items, name, item):
    topk = config["topk"]
    largest = max(topk) if isinstance(topk, (list, tuple)) and topk else topk
    if isinstance(largest, int) and largest > n_items:
        raise DataError(f"topk {topk} asks for more items than the {n_items} distinct {item}s in {name} "
                        f"(RecBole's evaluation would fail with 'selected index k out of range'). "
                        f"Fix: set topk: [{n_items}] or lower.")
