"""Command line of ``run_recbole.py``: RecBole's flags, with our models resolved first."""

import argparse
import sys

from recbole_bert4rec.checkpoint import CheckpointError
from recbole_bert4rec.quick_start import run_recbole


def build_parser():
    parser = argparse.ArgumentParser(
        description="Train and evaluate a RecBole model; --model=BERT4Rec is recbole_bert4rec's. "
                    "Any other --key=value overrides a config key, as in RecBole.",
    )
    parser.add_argument("--model", "-m", default="BERT4Rec", help="model name (ours first, then RecBole's)")
    parser.add_argument("--dataset", "-d", default="ml-100k", help="dataset name (atomic files under data_path)")
    parser.add_argument("--config_files", default=None, help="space-separated yaml files, later ones win")
    parser.add_argument("--resume", nargs="?", const="latest", default=None, metavar="CHECKPOINT",
                        help="continue a killed run from CHECKPOINT; --resume alone takes the newest "
                             "*-last.pth in checkpoint_dir")
    return parser


def main(argv=None):
    args, overrides = build_parser().parse_known_args(sys.argv[1:] if argv is None else argv)
    config_files = args.config_files.strip().split() if args.config_files else None
    try:
        run_recbole(args.model, args.dataset, config_files, cmd_args=overrides, resume_from=args.resume)
    except (ValueError, FileNotFoundError, CheckpointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
