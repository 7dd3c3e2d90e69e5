"""Command line of ``recommend.py`` / ``python -m recbole_bert4rec.inference``: top-K from a checkpoint.

Exit status: 0 all queries answered, 1 some user ids were unknown (reported on stderr, the rest
answered), 2 unusable arguments or checkpoint.
"""

import argparse
import json
import sys

from recbole_bert4rec.checkpoint import CheckpointError
from recbole_bert4rec.inference import Recommender


def build_parser():
    parser = argparse.ArgumentParser(
        description="Top-K items from a recbole_bert4rec checkpoint, for known user ids or raw item sequences. "
                    "Needs no training data: the checkpoint holds the id maps and user histories.",
    )
    parser.add_argument("checkpoint", help="a .pth written by recbole_bert4rec (best model or *-last.pth)")
    query = parser.add_mutually_exclusive_group(required=True)
    query.add_argument("--user", nargs="+", metavar="USER_ID", help="raw user ids from the training data")
    query.add_argument("--users-file", metavar="FILE", help="one raw user id per line ('-' = stdin)")
    query.add_argument("--sequence", nargs="+", metavar="ITEM_ID", help="raw item ids, oldest first")
    query.add_argument("--sequences-file", metavar="FILE",
                       help="one sequence per line, items oldest first, split by --item-sep ('-' = stdin)")
    parser.add_argument("-k", "--topk", type=int, default=10, help="items per query (default 10)")
    parser.add_argument("--keep-seen", action="store_true",
                        help="keep items of the user's history / the sequence in the ranking (default: removed)")
    parser.add_argument("--item-sep", default=None,
                        help="item separator in --sequences-file (default: any whitespace; '\\t' for tabs, "
                             "needed when item ids contain spaces)")
    parser.add_argument("--batch-size", type=int, default=256, help="queries scored at once (bounds memory)")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="text lines or JSON lines")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cuda:0")
    return parser


def _lines(path):
    stream = sys.stdin if path == "-" else open(path, encoding="utf-8")
    try:
        for line in stream:
            line = line.rstrip("\r\n")
            if line.strip():
                yield line
    finally:
        if stream is not sys.stdin:
            stream.close()


def _queries(args):
    if args.user:
        return "user", args.user
    if args.users_file:
        return "user", _lines(args.users_file)
    if args.sequence:
        return "sequence", [args.sequence]
    separator = args.item_sep.replace("\\t", "\t") if args.item_sep else None
    return "sequence", (line.split(separator) for line in _lines(args.sequences_file))


def format_text(kind, rec):
    query = rec.query if kind == "user" else " ".join(rec.query)
    ranked = "  ".join(f"{item} ({score:.3f})" for item, score in zip(rec.items, rec.scores))
    return f"{kind} {query}: {ranked}"


def format_json(kind, rec):
    return json.dumps({kind: rec.query, "items": rec.items, "scores": [round(s, 6) for s in rec.scores],
                       "unknown_items": rec.unknown_items, "error": rec.error}, ensure_ascii=False)


def main(argv=None):
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.topk < 1 or args.batch_size < 1:
        print("error: -k/--topk and --batch-size must be >= 1", file=sys.stderr)
        return 2
    try:
        recommender = Recommender.from_checkpoint(args.checkpoint, device=args.device)
        kind, queries = _queries(args)
        recommend = recommender.recommend_users if kind == "user" else recommender.recommend_sequences
        unanswered = 0
        for rec in recommend(queries, k=args.topk, exclude_seen=not args.keep_seen, batch_size=args.batch_size):
            if rec.error:
                unanswered += 1
                print(f"warning: {rec.error}; skipped", file=sys.stderr)
            if rec.unknown_items:
                print(f"warning: unknown item ids {rec.unknown_items} (not in the checkpoint) were left out of "
                      f"the sequence", file=sys.stderr)
            if not rec.error or args.format == "json":
                print(format_json(kind, rec) if args.format == "json" else format_text(kind, rec), flush=True)
    except (CheckpointError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 1 if unanswered else 0
