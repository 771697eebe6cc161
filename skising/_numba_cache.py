"""Process-safe on-disk cache for skising's numba kernels.

numba's cache (``cache=True``) keeps one index file per function definition
and numbers its data files. ``IndexDataCacheFile.save`` reads the index,
takes the first free number, rewrites the index and then writes the data,
without a lock. Two processes that compile *different* variants of one
definition at the same time (skising builds its kernels as closures, one
variant per update rule, degree bound or chain tile, all sharing one index)
can both take number 1; the index then maps one variant to the other's
machine code, and a later process runs the wrong kernel (wrong samples or a
crash; numba issue #4807). First use under ``torchrun`` or several pytest
workers is exactly that situation.

:func:`guard` wraps ``save`` (exclusive) and ``load`` (shared) of a
dispatcher's cache file in an advisory ``flock`` on ``<index>.lock`` beside
the index, so an index and its data files always change together. Only
skising's own dispatchers are guarded; numba itself is not patched. Where
``fcntl`` is missing (Windows) or the lock file cannot be created (a
read-only cache directory, which numba then does not write either), the
cache works as numba ships it.
"""

from __future__ import annotations

import functools
import os

try:  # POSIX only
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["guard", "is_guarded"]

_MARK = "_skising_locked"


def _locked(method, lock_path, mode):
    @functools.wraps(method)
    def call(*args, **kwargs):
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:
            return method(*args, **kwargs)
        try:
            fcntl.flock(fd, mode)
            return method(*args, **kwargs)
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    return call


def guard(dispatcher):
    """Serialise the on-disk cache reads and writes of a numba ``dispatcher``.

    Returns ``dispatcher``. A no-op for objects without an on-disk cache
    (``cache=False``, intrinsics, plain functions) and when already guarded.
    """
    cache_file = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)
    if cache_file is None or fcntl is None or getattr(cache_file, _MARK, False):
        return dispatcher
    lock_path = cache_file._index_path + ".lock"
    cache_file.save = _locked(cache_file.save, lock_path, fcntl.LOCK_EX)
    cache_file.load = _locked(cache_file.load, lock_path, fcntl.LOCK_SH)
    setattr(cache_file, _MARK, True)
    return dispatcher


def is_guarded(dispatcher):
    """Whether ``dispatcher``'s on-disk cache goes through :func:`guard`'s lock
    (``True`` also when it has no on-disk cache, or locks are unavailable)."""
    cache_file = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)
    return cache_file is None or fcntl is None or getattr(cache_file, _MARK, False)
