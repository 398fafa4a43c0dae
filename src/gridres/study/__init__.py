"""Study files: one TOML file that fixes a whole analysis, and the run that carries it
out. See :mod:`gridres.study.core` for the file format."""

from gridres.study.core import (
    Problem,
    Study,
    StudyCheck,
    StudyError,
    analyse_study,
    check_study,
    load_study,
)

__all__ = [
    "Problem",
    "Study",
    "StudyCheck",
    "StudyError",
    "analyse_study",
    "check_study",
    "load_study",
]
