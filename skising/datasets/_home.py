"""Where the real datasets live (see CONVENTIONS.md)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["get_data_home", "data_path"]

_BUNDLED = Path(__file__).resolve().parent / "data"


def get_data_home(data_home=None):
    """Resolve the data folder.

    Order: the ``data_home`` argument, else ``$SKISING_DATA``, else
    ``../shared/data`` next to the repository when it exists, else
    ``~/skising_data``.

    Parameters
    ----------
    data_home : str, os.PathLike or None, default None
        Explicit data folder (``~`` is expanded); ``None`` falls back to the
        order above.

    Returns
    -------
    pathlib.Path
        The data folder; it is not created and need not exist.

    Raises
    ------
    TypeError
        If ``data_home`` is neither None nor a path.

    Examples
    --------
    >>> from skising.datasets import get_data_home
    >>> get_data_home("/tmp").as_posix()
    '/tmp'
    """
    if data_home is not None:
        if not isinstance(data_home, (str, os.PathLike)):
            raise TypeError(f"data_home: expected a folder path, got {type(data_home).__name__}")
        return Path(data_home).expanduser()
    env = os.environ.get("SKISING_DATA")
    if env:
        return Path(env).expanduser()
    repo = Path(__file__).resolve().parents[2]
    shared = repo.parent / "shared" / "data"
    if shared.is_dir():
        return shared
    return Path("~/skising_data").expanduser()


def data_path(*parts, data_home=None):
    """Path of a file/folder under the data home; ``FileNotFoundError`` naming it if missing.

    Parameters
    ----------
    *parts : str or os.PathLike
        Path components below the data home, joined in order.
    data_home : str, os.PathLike or None, default None
        Data folder, resolved by :func:`get_data_home`.

    Returns
    -------
    pathlib.Path
        The existing file or folder ``data_home / parts[0] / parts[1] / ...``.

    Raises
    ------
    FileNotFoundError
        If that path does not exist.
    TypeError
        If ``data_home`` or one of ``parts`` is not a path.

    Examples
    --------
    >>> from skising.datasets import data_path
    >>> try:
    ...     data_path("no-such-dataset", data_home="/tmp")
    ... except FileNotFoundError as exc:
    ...     print(str(exc).split(" not found")[0])
    /tmp/no-such-dataset
    """
    home = get_data_home(data_home)
    bad = [x for x in parts if not isinstance(x, (str, os.PathLike))]
    if bad:
        raise TypeError(f"parts: expected path components (str), got {type(bad[0]).__name__} {bad[0]!r}")
    p = home.joinpath(*parts)
    if not p.exists():
        raise FileNotFoundError(
            f"{p} not found. Set data_home=... or the SKISING_DATA environment variable to the folder "
            "holding skising's datasets (the repository's ../shared/data)."
        )
    return p


def bundled_path(name):
    """Path of a small real sample shipped inside the package."""
    return _BUNDLED / name
