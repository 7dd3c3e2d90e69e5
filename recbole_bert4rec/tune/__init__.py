"""Ray Tune hyper-parameter search for recbole_bert4rec (and any RecBole model): ``run_search``, ``resume_search``."""

from recbole_bert4rec.tune.outcome import SearchOutcome
from recbole_bert4rec.tune.plan import SearchOptions
from recbole_bert4rec.tune.search import resume_search, run_search
from recbole_bert4rec.tune.space import SearchSpaceError, read_space_file

__all__ = ["SearchOptions", "SearchOutcome", "SearchSpaceError", "read_space_file", "resume_search", "run_search"]
