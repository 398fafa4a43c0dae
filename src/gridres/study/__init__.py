"""Study files: one TOML file that fixes a whole analysis, and the run that carries it
out.

``core`` holds the checked :class:`Study` and reads a file's sections (``schema``
declares and checks them); ``check`` reads and checks a file with every problem at once,
against its grid too (``semantic``); ``run`` runs a study (``evaluate``: the ensemble's
evaluator; ``plan``: the intervention plan; ``outputs``: the results directory) and
returns :class:`gridres.results.StudyResults`, which :mod:`gridres.report` renders.
"""

from gridres.study.check import analyse_study, check_study, load_study
from gridres.study.core import Problem, Study, StudyCheck, StudyError
from gridres.study.plan import run_plan
from gridres.study.run import run_study

__all__ = [
    "Problem",
    "Study",
    "StudyCheck",
    "StudyError",
    "analyse_study",
    "check_study",
    "load_study",
    "run_plan",
    "run_study",
]
