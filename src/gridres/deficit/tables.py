"""The small input tables of a schedule (profiles, capacity per hour, groups): CSV or
Parquet, read once in one way."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gridres.errors import GridError, InputNotFound, UsageError

__all__ = ["read_table", "ROW_OFFSET"]

#: Add to a row's position to get its line as a spreadsheet numbers it (header is 1).
ROW_OFFSET = 2


def read_table(path: str | Path, what: str) -> pd.DataFrame:
    """Read a CSV or Parquet table with every value as text (blank cells as ``""``) and
    column names stripped and lower-cased.

    Parameters
    ----------
    path : str or Path
    what : str
        What the file is for (``"profile"``, ``"capacity"``, ``"groups"``), in messages.

    Raises
    ------
    InputNotFound
        If the file does not exist.
    UsageError
        If its suffix is neither ``.csv`` nor ``.parquet``.
    GridError
        If it cannot be read as a table.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = p.write_text(" Hour ,MW\\n0, 5\\n")
    >>> read_table(p, "capacity").to_dict("records")
    [{'hour': '0', 'mw': '5'}]
    """
    path = Path(path)
    if not path.is_file():
        raise InputNotFound(f"{path}: no such {what} file (CSV or Parquet)")
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise UsageError(f"{path}: unknown {what} file type {suffix or '(none)'!r}; use .csv "
                         "or .parquet")
    try:
        if suffix == ".parquet":
            df = pd.read_parquet(path)
            df = df.astype(object).where(df.notna(), "").astype(str)
        else:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError,
            ValueError) as exc:
        raise GridError(f"{path}: not a readable {what} file ({exc})") from None
    df.columns = [str(c).strip().lower() for c in df.columns]
    return df
