"""The numba on-disk cache under concurrent first use (skising._numba_cache).

Two processes compile two variants (closures of one definition) at the same
time, forced to interleave at numba's index write; a third, fresh process
then loads both from the cache. Without the lock the index maps one variant
to the other's machine code; with it both load correctly.
"""

import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("numba")
pytest.importorskip("fcntl")

MODULE = """
import numba as nb

def make(c):
    @nb.njit(cache=True)
    def f(x):
        return x + c
    return f
"""

RACE = """
import multiprocessing as mp, sys, threading
sys.path.insert(0, {tmp!r})
GUARD = {guard!r}


def wait(sync, timeout=1.0 if GUARD else 30.0):  # under the lock the partner cannot arrive: do not wait long
    try:
        return sync.wait(timeout=timeout)
    except threading.BrokenBarrierError:
        return False


def child(c, barrier, index_20, index_10, data_10):
    # choreography of the unlocked race: both read the empty index and take
    # data number 1; variant 20 writes the index first, variant 10 overwrites it;
    # variant 10 writes its data, variant 20 overwrites it. Under the lock the
    # waits time out and the saves run one after the other.
    import numba.core.caching as caching
    import racemod
    save_index, save_data = caching.IndexDataCacheFile._save_index, caching.IndexDataCacheFile._save_data

    def patched_index(self, overloads):
        wait(barrier)
        if c == 10:
            wait(index_20)
        out = save_index(self, overloads)
        (index_20 if c == 20 else index_10).set()
        return out

    def patched_data(self, name, data):
        if c == 20:
            wait(index_10)
            wait(data_10)
        out = save_data(self, name, data)
        if c == 10:
            data_10.set()
        return out

    caching.IndexDataCacheFile._save_index = patched_index
    caching.IndexDataCacheFile._save_data = patched_data
    f = racemod.make(c)
    if GUARD:
        from skising._numba_cache import guard
        guard(f)
    assert f(1) == 1 + c


if __name__ == "__main__":
    import numba  # noqa: F401  (imported before the fork: the children only compile)
    if GUARD:
        import skising._numba_cache
    ctx = mp.get_context("fork")
    barrier, events = ctx.Barrier(2), [ctx.Event() for _ in range(3)]
    ps = [ctx.Process(target=child, args=(c, barrier, *events)) for c in (10, 20)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    sys.exit(max(p.exitcode for p in ps))
"""

LOAD = """
import sys
sys.path.insert(0, {tmp!r})
import racemod
from skising._numba_cache import guard
f10, f20 = racemod.make(10), racemod.make(20)
if {guard!r}:  # as written (the guard's stamp also differs from numba's own)
    f10, f20 = guard(f10), guard(f20)
print(f10(1), f20(1), len(f10.stats.cache_hits) + len(f20.stats.cache_hits))
"""


def _run(code, tmp):
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=180,
                         cwd=tmp)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


@pytest.mark.parametrize("guarded", [False, True])
def test_concurrent_first_compiles_of_two_variants(tmp_path, guarded):
    (tmp_path / "racemod.py").write_text(MODULE)
    _run(RACE.format(tmp=str(tmp_path), guard=guarded), tmp_path)
    a, b, hits = _run(LOAD.format(tmp=str(tmp_path), guard=guarded), tmp_path).split()
    if guarded:
        assert (int(a), int(b)) == (11, 21) and int(hits) == 2  # both variants served from the cache, correctly
    else:  # numba as shipped: the interleaving leaves one variant pointing at the other's code
        assert (int(a), int(b)) != (11, 21)


def test_skising_kernels_are_guarded():
    import gc

    import numpy as np
    import scipy.sparse as sp

    from skising._numba_cache import is_guarded
    from skising.sampling import color_graph, sample_ising

    A = sp.random(60, 60, density=0.1, random_state=0, format="csr")
    A = ((A + A.T) > 0).astype(np.float32)
    A.setdiag(0)
    A.eliminate_zeros()
    for k in (1, 8, 32):
        for update in ("metropolis", "heat_bath"):
            sample_ising(A, np.zeros(60, np.float32), n_chains=k, n_sweeps=2, update=update, random_state=0)
    color_graph(A)
    from numba.core.registry import CPUDispatcher

    from skising.mesh import _qem  # noqa: F401  (import-time kernels of the applications)
    from skising.precondition import _lstsq, _pattern  # noqa: F401

    ours = [o for o in gc.get_objects() if isinstance(o, CPUDispatcher)
            and getattr(o.py_func, "__module__", "").startswith("skising")]
    assert ours
    assert all(is_guarded(d) for d in ours), [d.py_func.__qualname__ for d in ours if not is_guarded(d)]


CALLER = """
import numba as nb
from callee import g

@nb.njit(cache=True)
def f(x):
    return g(x)
"""

RUN_CALLER = """
import sys
sys.path.insert(0, {tmp!r})
import skising._numba_cache as nc
nc._SOURCE_HASH[:] = [{stamp!r}]  # stands for the hash of skising's sources
import caller
if {guard!r}:
    nc.guard(caller.f)
print(caller.f(1))
"""


@pytest.mark.parametrize("guarded", [False, True])
def test_a_change_in_another_source_file_recompiles(tmp_path, guarded):
    # numba checks only the defining file's stamp: a changed callee elsewhere is served stale from the cache
    (tmp_path / "caller.py").write_text(CALLER)
    (tmp_path / "callee.py").write_text("import numba as nb\n\n@nb.njit\ndef g(x):\n    return x + 1\n")
    assert _run(RUN_CALLER.format(tmp=str(tmp_path), stamp="v1", guard=guarded), tmp_path).split() == ["2"]
    (tmp_path / "callee.py").write_text("import numba as nb\n\n@nb.njit\ndef g(x):\n    return x + 100\n")
    out = _run(RUN_CALLER.format(tmp=str(tmp_path), stamp="v2", guard=guarded), tmp_path).split()
    assert out == (["101"] if guarded else ["2"])
