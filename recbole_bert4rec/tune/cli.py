"""Command line of ``run_tune.py``: search flags with dashes, RecBole's ``--key=value`` overrides as in run_recbole.py."""

import argparse
import sys

from recbole_bert4rec.tune.plan import SEARCH_ALGORITHMS, SearchOptions
from recbole_bert4rec.tune.search import resume_search, run_search
from recbole_bert4rec.tune.space import SearchSpaceError


def build_parser():
    parser = argparse.ArgumentParser(
        allow_abbrev=False,  # a RecBole key such as --num must never be read as --num-samples
        description="Ray Tune search over a RecBole model (ours first: BERT4Rec). Every trial reports validation "
                    "after each epoch, ASHA prunes weak trials, the best trial (on validation) is tested once. "
                    "Any other --key=value is a RecBole config value fixed for every trial, e.g. --epochs=20.",
    )
    run = parser.add_argument_group("what to search")
    run.add_argument("--model", "-m", default="BERT4Rec", help="model name (ours first, then RecBole's)")
    run.add_argument("--dataset", "-d", default="ml-100k", help="dataset name (atomic files under data_path)")
    run.add_argument("--config_files", default=None, help="space-separated yaml files, later ones win")
    run.add_argument("--space", default=None,
                     help="search space: our yaml (properties/tune/*.yaml) or RecBole's hyper file "
                          "('learning_rate loguniform -8,0'); default properties/tune/<model>.yaml")
    how = parser.add_argument_group("how to search")
    how.add_argument("--num-samples", type=int, default=1, help="configurations to sample (grids: repeats)")
    how.add_argument("--cpus-per-trial", type=float, default=1)
    how.add_argument("--gpus-per-trial", type=float, default=0, help="fractions share a GPU, e.g. 0.5")
    how.add_argument("--max-concurrent", type=int, default=None, help="trials running at once (default: as "
                                                                          "many as resources allow)")
    how.add_argument("--time-budget-s", type=float, default=None, help="stop the whole search after this long")
    how.add_argument("--scheduler", choices=("asha", "fifo"), default="asha", help="fifo = no pruning")
    how.add_argument("--grace-period", type=int, default=1, help="ASHA: validations before a trial can be pruned")
    how.add_argument("--reduction-factor", type=float, default=2, help="ASHA: keep the best 1/N at each rung")
    how.add_argument("--search-alg", choices=tuple(SEARCH_ALGORITHMS), default=None,
                     help="Bayesian search through Ray's wrapper, if its package is installed (default random/grid)")
    how.add_argument("--search-seed", type=int, default=None, help="seed of configuration sampling")
    where = parser.add_argument_group("where it runs and writes")
    where.add_argument("--storage-path", default="ray_results", help="folder of experiments (default ./ray_results)")
    where.add_argument("--name", default=None, help="experiment folder name (default <model>-<dataset>-<time>)")
    where.add_argument("--address", default=None,
                       help="Ray cluster to join, e.g. 10.0.0.5:6379 (default: RAY_ADDRESS, else a local Ray)")
    where.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray (default: all)")
    where.add_argument("--resume", default=None, metavar="EXPERIMENT_DIR",
                       help="continue an interrupted search from its folder (its saved settings are used)")
    where.add_argument("--retry-errored", action="store_true", help="with --resume: rerun trials that errored")
    return parser


def options_from(args):
    return SearchOptions(
        num_samples=args.num_samples, cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial,
        max_concurrent=args.max_concurrent, time_budget_s=args.time_budget_s, scheduler=args.scheduler,
        grace_period=args.grace_period, reduction_factor=args.reduction_factor, search_alg=args.search_alg,
        search_seed=args.search_seed, storage_path=args.storage_path, name=args.name, address=args.address,
        num_cpus=args.num_cpus,
    )


def main(argv=None):
    args, overrides = build_parser().parse_known_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.resume:
            if overrides:
                raise ValueError(f"--resume uses the search's saved settings; drop {' '.join(overrides)}")
            resume_search(args.resume, address=args.address, num_cpus=args.num_cpus,
                          retry_errored=args.retry_errored)
        else:
            config_files = args.config_files.strip().split() if args.config_files else None
            run_search(args.space, args.model, args.dataset, config_files, cmd_args=overrides,
                       options=options_from(args))
    except (ValueError, FileNotFoundError, FileExistsError, SearchSpaceError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
