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
the index, so an index and its data files always change together. It also ties the
cache to skising's sources: numba invalidates a cached kernel only when the
file that defines it changes, not when a function, intrinsic or constant it
uses from another file does (and skising pins the identities of captured
kernels so that closures hit the cache across processes), so :func:`guard`
adds a hash of the package's sources to the index's freshness stamp; any
change to them recompiles once. Only skising's own dispatchers are guarded;
numba itself is not patched. Where
``fcntl`` is missing (Windows) or the lock file cannot be created (a
read-only cache directory, which numba then does not write either), the
cache works as numba ships it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pathlib

try:  # POSIX only
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["guard", "guard_all", "is_guarded", "source_hash"]

_MARK = "_skising_locked"
_SOURCE_HASH = []


def source_hash():
    """blake2b of every ``.py`` file of the installed skising package (paths and bytes), computed once."""
    if not _SOURCE_HASH:
        root = pathlib.Path(__file__).resolve().parent
        h = hashlib.blake2b(digest_size=8)
        for p in sorted(root.rglob("*.py")):
            h.update(p.relative_to(root).as_posix().encode())
            h.update(p.read_bytes())
        _SOURCE_HASH.append(h.hexdigest())
    return _SOURCE_HASH[0]


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
    """Serialise the on-disk cache reads and writes of a numba ``dispatcher`` and
    tie its freshness to skising's sources.

    Returns ``dispatcher``. A no-op for objects without an on-disk cache
    (``cache=False``, intrinsics, plain functions) and when already guarded.
    """
    cache_file = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)
    if cache_file is None or getattr(cache_file, _MARK, False):
        return dispatcher
    cache_file._source_stamp = (cache_file._source_stamp, source_hash())
    setattr(cache_file, _MARK, True)
    if fcntl is None:
        return dispatcher
    lock_path = cache_file._index_path + ".lock"
    cache_file.save = _locked(cache_file.save, lock_path, fcntl.LOCK_EX)
    cache_file.load = _locked(cache_file.load, lock_path, fcntl.LOCK_SH)
    return dispatcher


def guard_all(obj):
    """:func:`guard` every dispatcher in ``obj`` (a dispatcher, or a dict, tuple or list of them, nested);
    returns ``obj``."""
    if isinstance(obj, dict):
        for v in obj.values():
            guard_all(v)
    elif isinstance(obj, (tuple, list)):
        for v in obj:
            guard_all(v)
    else:
        guard(obj)
    return obj


def is_guarded(dispatcher):
    """Whether ``dispatcher``'s on-disk cache goes through :func:`guard`
    (``True`` also when it has no on-disk cache)."""
    cache_file = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)
    return cache_file is None or getattr(cache_file, _MARK, False)
