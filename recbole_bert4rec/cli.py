"""Command line of ``run_recbole.py``: RecBole's flags, with our models resolved first."""

import argparse
import sys

from recbole_bert4rec.checkpoint import CheckpointError
from recbole_bert4rec.quick_start import run


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
    # RecBole's run_recbole.py multi-process flags (torchrun launches need none of them).
    parser.add_argument("--nproc", type=int, default=1, help="data-parallel processes on this machine")
    parser.add_argument("--ip", default="localhost", help="address of the machine running global rank 0")
    parser.add_argument("--port", default="5678", help="free TCP port on that machine")
    parser.add_argument("--world_size", type=int, default=-1, help="processes over all machines (default: nproc)")
    parser.add_argument("--group_offset", type=int, default=0, help="global rank of this machine's first process")
    return parser


def main(argv=None):
    args, overrides = build_parser().parse_known_args(sys.argv[1:] if argv is None else argv)
    config_files = args.config_files.strip().split() if args.config_files else None
    try:
        run(args.model, args.dataset, config_files, cmd_args=overrides, resume_from=args.resume, nproc=args.nproc,
            world_size=args.world_size, ip=args.ip, port=args.port, group_offset=args.group_offset)
    except (ValueError, FileNotFoundError, CheckpointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
