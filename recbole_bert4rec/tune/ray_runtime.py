"""Starting or joining Ray for a search, and checking that a trial fits in it."""

import os
import sys
from contextlib import contextmanager

import ray

LOCAL = "local"


def code_runtime_env():
    """Let workers import this package when it runs from a source checkout rather than an installed wheel.

    On a multi-node cluster the checkout must then sit at the same path on every node (or the package be
    installed there), as must the data.
    """
    package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if os.path.basename(package_parent) in ("site-packages", "dist-packages"):
        return None
    paths = [package_parent] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {"env_vars": {"PYTHONPATH": os.pathsep.join(paths)}}


def cluster_address(options):
    address = options.address or os.environ.get("RAY_ADDRESS")
    return None if address in (None, "", LOCAL) else address


@contextmanager
def ray_session(options):
    """Join ``options.address`` (or RAY_ADDRESS), else start a local Ray; shut down only what was started here.

    Trial output stays in each trial's folder (log_to_driver=False) so the console shows the progress table.
    """
    if ray.is_initialized():
        yield
        return
    address = cluster_address(options)
    if address:
        ray.init(address=address, runtime_env=code_runtime_env(), log_to_driver=False)
    else:
        ray.init(address=LOCAL, num_cpus=options.num_cpus, include_dashboard=False,
                 runtime_env=code_runtime_env(), log_to_driver=False)
    try:
        check_trial_fits(options, fixed_size=address is None)
        yield
    finally:
        ray.shutdown()


def check_trial_fits(options, fixed_size):
    """A trial asking for more than the cluster has would wait forever (RecBole's GPU-only trials on a CPU box)."""
    resources = ray.cluster_resources()
    for name, wanted in (("CPU", options.cpus_per_trial), ("GPU", options.gpus_per_trial)):
        have = resources.get(name, 0)
        if wanted > have:
            message = (f"each trial asks for {wanted:g} {name} but the Ray cluster has {have:g}; "
                       f"lower --{name.lower()}s-per-trial")
            if fixed_size:
                raise RuntimeError(message)
            print(f"warning: {message} (fine only if the cluster autoscales)", file=sys.stderr)
