"""PNG of every trial's validation curve; pruned trials dashed, the best trial drawn thick."""

import matplotlib

matplotlib.use("Agg")  # files only: trials and CI have no display

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from recbole_bert4rec.tune.outputs import PRUNED  # noqa: E402


def plot_validation_curves(curves, statuses, metric, best_trial, path, title="", labels=None):
    """``curves``: {trial: DataFrame with ``epoch`` and ``metric``}; ``statuses``: {trial: status};
    ``labels``: {trial: text after the trial id in the legend, e.g. its sampled values}."""
    labels = labels or {}
    fig, ax = plt.subplots(figsize=(10, 5))
    for number, (trial, curve) in enumerate(curves.items()):
        if not len(curve):
            continue
        is_best = trial == best_trial
        ax.plot(
            curve["epoch"], curve[metric],
            linestyle="--" if statuses.get(trial) == PRUNED else "-",
            linewidth=3 if is_best else 1.2,
            marker="o", markersize=3,
            color=f"C{number % 10}",
            label=f"{trial} {labels.get(trial, '')} ({statuses.get(trial)}{', best' if is_best else ''})",
        )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"validation {metric}")
    ax.set_title(title or f"validation {metric} per epoch")
    ax.grid(alpha=0.3)
    if ax.lines:  # below the axes: labels carry every sampled value and would hide the curves
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.12), frameon=False)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path

