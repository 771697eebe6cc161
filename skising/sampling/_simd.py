r"""Explicit-SIMD sweep kernel for 8 or more chains, written as LLVM IR.

The compiled CPU path (:mod:`skising.sampling._kernels`) writes its kernels in
numba and lets LLVM's loop vectoriser find the SIMD code. For many chains
that left about half the speed on the table: the per-chain local fields lived
in a scratch array that was loaded and stored for every neighbour, with
run-time alias checks against the spins, and a compile-time chain count made
LLVM unroll instead of vectorise. This module writes the row kernel directly in
LLVM IR with explicit vectors (``<16 x float>``, ``<8 x double>``), compiled
in-process by ``llvmlite`` (the LLVM binding numba is built on, so installed by
``pip install skising[fast]`` with it):

* the chains of a row are cut into blocks of 16 (float32) or 8 (float64) lanes,
  the last block narrower when the chain count is not a multiple; each block's
  local field stays in one register across the row's neighbours;
* the neighbour rows of the row 8 positions ahead are prefetched (the colour
  classes of a large graph visit their neighbours' spins in random order);
* the update is the one of :func:`skising.sampling._kernels.sweeps_numba`,
  operation for operation (same hash, same exp polynomial, same order of
  additions, no fused multiply-add), so the samples are **bit-identical** to
  the numba and torch paths for the same seed (``tests/test_engine_fast.py``).
  ``2^-n`` is built from its exponent bits, which gives the same value as the
  product of powers of two the numba kernel uses.

The colours of a sweep are run in order; within a colour the rows are split
between threads (Python threads around the compiled function, which releases
the GIL). Used for 8 or more chains when the chain count fits in 16 blocks and
the random-number counters fit in 32 bits (``n * n_chains <= 2**32``);
otherwise the numba kernel runs.
"""

from __future__ import annotations

import ctypes
import struct
import threading

import numpy as np

from ._kernels import _M1, _M2, EXP2_COEF, INV24, LOG2E, T_MIN

__all__ = ["available", "usable", "sweeps_simd", "kernel_ir"]

LANES = {"float32": 16, "float64": 8}
SIGN = {"i32": -(2**31), "i64": -(2**63)}  # the sign bit, as a signed integer literal
MAX_BLOCKS = 16
PREFETCH_ROWS = 8
# below this many spin updates per sweep the threads cost more than they save
# (a thread-pool round trip per call, 0.1-0.2 ms on this 2-core VM)
THREAD_MIN_UPDATES = 200_000

_lock = threading.Lock()
_threaded_call = threading.Lock()
_compiled = {}
_pool = {}


def available():
    """Whether ``llvmlite`` can be imported (it comes with numba)."""
    try:
        import llvmlite.binding  # noqa: F401
    except ImportError:  # pragma: no cover - numba and llvmlite are installed together
        return False
    return True


def _widths(K, L):
    return [L] * (K // L) + ([K % L] if K % L else [])


def usable(X, H, val, col):
    """Whether :func:`sweeps_simd` takes these arrays (else the numba kernel runs)."""
    if X.ndim != 2 or X.shape[1] < 8 or val.dtype not in (np.float32, np.float64):
        return False
    K = X.shape[1]
    return (len(_widths(K, LANES[val.dtype.name])) <= MAX_BLOCKS and X.size <= 2**32 and col.dtype == np.int32
            and H.shape[1] in (1, K) and available())


def _hexf(x, F):
    """An LLVM IR floating-point literal, exact (LLVM writes floats as the double of the same value)."""
    if F == "float":
        x = struct.unpack("<f", struct.pack("<f", x))[0]
    return "0x%016X" % struct.unpack("<Q", struct.pack("<d", x))[0]


def kernel_ir(dtype, n_chains, heat, per_chain_field, prefetch=PREFETCH_ROWS):
    """LLVM IR of ``void kern(r0, r1, rowptr, col, val, X, H, skey, key0, nb2, tb)``: rows r0:r1 of one
    colour, all ``n_chains`` chains, updated in place (see :func:`sweeps_simd` for the arguments)."""
    name = np.dtype(dtype).name
    F = "float" if name == "float32" else "double"
    L = LANES[name]
    K = int(n_chains)
    IW, bias, mant = ("i32", 127, 23) if F == "float" else ("i64", 1023, 52)
    coef = EXP2_COEF[name]
    deg = len(coef) - 1
    widths = _widths(K, L)
    lines = []
    emit = lines.append
    counter = [0]

    def tmp(prefix):
        counter[0] += 1
        return f"%{prefix}.{counter[0]}"

    def op(prefix, text):
        r = tmp(prefix)
        emit(f"  {r} = {text}")
        return r

    def ty(w, t):
        return f"<{w} x {t}>"

    def vconst(w, x, t=None):
        t = t or F
        lit = _hexf(x, F) if t == F else str(x)
        return "<" + ", ".join([f"{t} {lit}"] * w) + ">"

    def splat(w, val, t):
        a = op("ins", f"insertelement {ty(w, t)} poison, {t} {val}, i32 0")
        return op("splat", f"shufflevector {ty(w, t)} {a}, {ty(w, t)} poison, {ty(w, 'i32')} zeroinitializer")

    def lowbias32(w, z):
        VI = ty(w, "i32")
        for shift, mult in ((16, _M1), (15, _M2), (16, None)):
            s = op("h", f"lshr {VI} {z}, {vconst(w, shift, 'i32')}")
            z = op("h", f"xor {VI} {z}, {s}")
            if mult is not None:
                z = op("h", f"mul {VI} {z}, {vconst(w, mult - 2**32 if mult >= 2**31 else mult, 'i32')}")
        return z

    floor = {w: f"@llvm.floor.v{w}f{32 if F == 'float' else 64}" for w in set(widths)}
    for w in set(widths):
        emit(f"declare {ty(w, F)} {floor[w]}({ty(w, F)})")
    emit("declare void @llvm.prefetch.p0(ptr, i32, i32, i32)")
    emit(f"define internal void @kern(i64 %r0, i64 %r1, ptr noalias readonly %rowptr, ptr noalias readonly %col, "
         f"ptr noalias readonly %val, ptr noalias %X, ptr noalias readonly %H, i32 %skey, i32 %key0, "
         f"{F} %nb2, {F} %tb) nounwind {{")
    emit("entry:")
    emit("  %go = icmp slt i64 %r0, %r1")
    emit("  br i1 %go, label %row, label %exit")
    emit("row:")
    emit("  %i = phi i64 [%r0, %entry], [%inext, %accept]")
    emit("  %rp = getelementptr inbounds i64, ptr %rowptr, i64 %i")
    emit("  %p0 = load i64, ptr %rp")
    emit("  %rp1 = getelementptr inbounds i64, ptr %rp, i64 1")
    emit("  %p1 = load i64, ptr %rp1")
    head = "%row"
    if prefetch:  # the neighbour rows of row i + prefetch, into cache
        emit(f"  %ipf = add i64 %i, {int(prefetch)}")
        emit("  %dopf = icmp slt i64 %ipf, %r1")
        emit("  br i1 %dopf, label %pfhead, label %gather")
        emit("pfhead:")
        emit("  %qp = getelementptr inbounds i64, ptr %rowptr, i64 %ipf")
        emit("  %q0 = load i64, ptr %qp")
        emit("  %qp1 = getelementptr inbounds i64, ptr %qp, i64 1")
        emit("  %q1 = load i64, ptr %qp1")
        emit("  %qne = icmp slt i64 %q0, %q1")
        emit("  br i1 %qne, label %pf, label %gather")
        emit("pf:")
        emit("  %q = phi i64 [%q0, %pfhead], [%qn, %pf]")
        emit("  %qc = getelementptr inbounds i32, ptr %col, i64 %q")
        emit("  %qj32 = load i32, ptr %qc")
        emit("  %qj = zext i32 %qj32 to i64")
        emit(f"  %qo = mul i64 %qj, {K}")
        emit("  %qx = getelementptr inbounds i8, ptr %X, i64 %qo")
        emit("  call void @llvm.prefetch.p0(ptr %qx, i32 0, i32 3, i32 1)")
        emit("  %qn = add i64 %q, 1")
        emit("  %qm = icmp slt i64 %qn, %q1")
        emit("  br i1 %qm, label %pf, label %gather")
        emit("gather:")
        head = "%gather"
    # local fields: for each neighbour (CSR order), every block adds v * x_j (a register per block)
    emit("  %ne = icmp slt i64 %p0, %p1")
    emit("  br i1 %ne, label %nb, label %field")
    emit("nb:")
    emit(f"  %p = phi i64 [%p0, {head}], [%pn, %nb]")
    for b, w in enumerate(widths):
        emit(f"  %a{b} = phi {ty(w, F)} [zeroinitializer, {head}], [%an{b}, %nb]")
    emit("  %cp = getelementptr inbounds i32, ptr %col, i64 %p")
    emit("  %j32 = load i32, ptr %cp")
    emit("  %j = zext i32 %j32 to i64")
    emit(f"  %vp = getelementptr inbounds {F}, ptr %val, i64 %p")
    emit(f"  %v = load {F}, ptr %vp")
    emit(f"  %xo = mul i64 %j, {K}")
    emit("  %xrow = getelementptr inbounds i8, ptr %X, i64 %xo")
    emit(f"  %vbits = bitcast {F} %v to {IW}")
    vs = {w: splat(w, "%vbits", IW) for w in set(widths)}
    off = 0
    for b, w in enumerate(widths):
        # v * x_j for x_j = +-1 is v with its sign bit flipped where x_j = -1: exact, and one
        # and-xor instead of a conversion and a multiply
        xp = op("xp", f"getelementptr inbounds i8, ptr %xrow, i64 {off}")
        xb = op("xb", f"load {ty(w, 'i8')}, ptr {xp}, align 1")
        xs = op("xs", f"sext {ty(w, 'i8')} {xb} to {ty(w, IW)}")
        sg = op("sg", f"and {ty(w, IW)} {xs}, {vconst(w, SIGN[IW], IW)}")
        tm = op("tm", f"bitcast {ty(w, IW)} {op('tm', f'xor {ty(w, IW)} {vs[w]}, {sg}')} to {ty(w, F)}")
        emit(f"  %an{b} = fadd {ty(w, F)} %a{b}, {tm}")
        off += w
    emit("  %pn = add i64 %p, 1")
    emit("  %more = icmp slt i64 %pn, %p1")
    emit("  br i1 %more, label %nb, label %field")
    emit("field:")
    for b, w in enumerate(widths):
        emit(f"  %acc{b} = phi {ty(w, F)} [zeroinitializer, {head}], [%an{b}, %nb]")
    emit(f"  %io = mul i64 %i, {K}")
    emit("  %io32 = trunc i64 %io to i32")
    emit("  %xi = getelementptr inbounds i8, ptr %X, i64 %io")
    if per_chain_field:
        emit(f"  %hrow = getelementptr inbounds {F}, ptr %H, i64 %io")
    else:
        emit(f"  %hp = getelementptr inbounds {F}, ptr %H, i64 %i")
        emit(f"  %hv = load {F}, ptr %hp")
        hs = {w: splat(w, "%hv", F) for w in set(widths)}
    emit("  br label %accept")
    emit("accept:")
    consts = {}
    off = 0
    for b, w in enumerate(widths):
        V, VI, VB, VW, VM = ty(w, F), ty(w, "i32"), ty(w, "i8"), ty(w, IW), ty(w, "i1")
        if w not in consts:
            consts[w] = (splat(w, "%skey", "i32"), splat(w, "%key0", "i32"), splat(w, "%nb2", F), splat(w, "%tb", F))
        sk, k0, nb2, tb = consts[w]
        if per_chain_field:
            hp = op("hp", f"getelementptr inbounds {F}, ptr %hrow, i64 {off}")
            h = op("hb", f"load {V}, ptr {hp}, align 1")
        else:
            h = hs[w]
        loc = op("loc", f"fadd {V} %acc{b}, {h}")
        sp = op("sp", f"getelementptr inbounds i8, ptr %xi, i64 {off}")
        sb = op("sb", f"load {VB}, ptr {sp}, align 1")
        # uniform: counter i * K + k, two rounds of lowbias32, top 23 bits
        base = op("base", f"add i32 %io32, {off}")
        lanes = "<" + ", ".join(f"i32 {q}" for q in range(w)) + ">"
        lo = op("lo", f"add {VI} {splat(w, base, 'i32')}, {lanes}")
        hh = lowbias32(w, op("h", f"xor {VI} {lo}, {k0}"))
        hh = lowbias32(w, op("h", f"xor {VI} {hh}, {sk}"))
        m = op("m", f"lshr {VI} {hh}, {vconst(w, 9, 'i32')}")
        m = op("m", f"shl {VI} {m}, {vconst(w, 1, 'i32')}")
        m = op("m", f"or {VI} {m}, {vconst(w, 1, 'i32')}")
        u = op("u", f"fmul {V} {op('u', f'sitofp {VI} {m} to {V}')}, {vconst(w, INV24)}")
        if heat:  # y = -|2 beta loc| (z >= 0: -z)
            z = op("z", f"fmul {V} {loc}, {tb}")
            zge = op("zge", f"fcmp oge {V} {z}, zeroinitializer")
            y = op("y", f"select {VM} {zge}, {V} {op('z', f'fneg {V} {z}')}, {V} {z}")
        else:  # y = min(-2 beta x loc, 0), as numba's min: (0 < a) ? 0 : a
            # x loc for x = +-1: loc with its sign bit flipped where x = -1 (exact, as in the gather)
            xs = op("xs", f"and {VW} {op('xs', f'sext {VB} {sb} to {VW}')}, {vconst(w, SIGN[IW], IW)}")
            lb = op("xl", f"bitcast {V} {loc} to {VW}")
            xl = op("xl", f"bitcast {VW} {op('xl', f'xor {VW} {lb}, {xs}')} to {V}")
            t2 = op("y", f"fmul {V} {xl}, {nb2}")
            y = op("y", f"select {VM} {op('y', f'fcmp olt {V} zeroinitializer, {t2}')}, {V} zeroinitializer, {V} {t2}")
        # exp(y): t = max(y log2 e, T_MIN) as numba's max, 2^floor(t) * P(t - floor(t))
        a = op("t", f"fmul {V} {y}, {vconst(w, LOG2E)}")
        tmin = vconst(w, T_MIN)
        tt = op("t", f"select {VM} {op('t', f'fcmp ogt {V} {tmin}, {a}')}, {V} {tmin}, {V} {a}")
        nf = op("nf", f"call {V} {floor[w]}({V} {tt})")
        f = op("f", f"fsub {V} {tt}, {nf}")
        p = vconst(w, coef[deg])
        for q in range(deg - 1, -1, -1):  # Horner, multiply then add (no FMA: same bits as numba and torch)
            p = op("p", f"fadd {V} {op('p', f'fmul {V} {p}, {f}')}, {vconst(w, coef[q])}")
        n = op("n", f"fptosi {V} {op('n', f'fneg {V} {nf}')} to {VI}")
        if IW == "i64":
            n = op("n", f"sext {VI} {n} to {VW}")
        e2 = op("e", f"shl {VW} {op('e', f'sub {VW} {vconst(w, bias, IW)}, {n}')}, {vconst(w, mant, IW)}")
        ex = op("ex", f"fmul {V} {p}, {op('e', f'bitcast {VW} {e2} to {V}')}")
        one = vconst(w, 1.0)
        if heat:  # +1 with probability sigma(z) = (1 if z >= 0 else e) / (1 + e)
            num = op("q", f"select {VM} {zge}, {V} {one}, {V} {ex}")
            prob = op("q", f"fdiv {V} {num}, {op('q', f'fadd {V} {one}, {ex}')}")
            new = op("new", f"select {VM} {op('q', f'fcmp olt {V} {u}, {prob}')}, {VB} {vconst(w, 1, 'i8')}, "
                            f"{VB} {vconst(w, -1, 'i8')}")
        else:  # flip with probability exp(y): the int8 spin negated
            new = op("new", f"select {VM} {op('q', f'fcmp olt {V} {u}, {ex}')}, {VB} {op('q', f'sub {VB} zeroinitializer, {sb}')}, "
                            f"{VB} {sb}")
        emit(f"  store {VB} {new}, ptr {sp}, align 1")
        off += w
    emit("  %inext = add i64 %i, 1")
    emit("  %rmore = icmp slt i64 %inext, %r1")
    emit("  br i1 %rmore, label %row, label %exit")
    emit("exit:")
    emit("  ret void")
    emit("}")
    lines.extend(_driver_ir(F))
    return "\n".join(lines) + "\n"


def _driver_ir(F):
    """IR of ``void sweeps(tid, T, bounds, n_colors, skeys, n_sweeps, rowptr, col, val, X, H, key0, nb2, tb, bar)``.

    Thread ``tid`` of ``T`` runs its share of every colour of every sweep (rows
    ``s + (e - s) tid / T`` to ``s + (e - s) (tid + 1) / T``) and then waits at a
    barrier: a counter that every thread increments once per colour, phase ``p``
    ending when it reaches ``T (p + 1)`` (spinning, with ``sched_yield`` after a
    while on POSIX systems). One foreign call per thread per sampling call.
    """
    import sys

    yield_ = sys.platform != "win32"
    out = []
    e = out.append
    if yield_:
        e("declare i32 @sched_yield()")
    e(f"define void @sweeps(i64 %tid, i64 %T, ptr readonly %bounds, i64 %ncol, ptr readonly %skeys, i64 %nsw, "
      f"ptr %rowptr, ptr %col, ptr %val, ptr %X, ptr %H, i32 %key0, {F} %nb2, {F} %tb, ptr %bar) nounwind {{")
    e("entry:")
    e("  %any = icmp sgt i64 %nsw, 0")
    e("  %anyc = icmp sgt i64 %ncol, 0")
    e("  %go = and i1 %any, %anyc")
    e("  br i1 %go, label %sweep, label %done")
    e("sweep:")
    e("  %t = phi i64 [0, %entry], [%tn, %sweepend]")
    e("  %ph0 = phi i64 [0, %entry], [%phn, %sweepend]")
    e("  %skp = getelementptr inbounds i32, ptr %skeys, i64 %t")
    e("  %skey = load i32, ptr %skp")
    e("  br label %colour")
    e("colour:")
    e("  %c = phi i64 [0, %sweep], [%cn, %waited]")
    e("  %ph = phi i64 [%ph0, %sweep], [%phn, %waited]")
    e("  %bp = getelementptr inbounds i64, ptr %bounds, i64 %c")
    e("  %s = load i64, ptr %bp")
    e("  %bp1 = getelementptr inbounds i64, ptr %bp, i64 1")
    e("  %e = load i64, ptr %bp1")
    e("  %len = sub i64 %e, %s")
    e("  %m0 = mul i64 %len, %tid")
    e("  %d0 = sdiv i64 %m0, %T")
    e("  %r0 = add i64 %s, %d0")
    e("  %tid1 = add i64 %tid, 1")
    e("  %m1 = mul i64 %len, %tid1")
    e("  %d1 = sdiv i64 %m1, %T")
    e("  %r1 = add i64 %s, %d1")
    e(f"  call void @kern(i64 %r0, i64 %r1, ptr %rowptr, ptr %col, ptr %val, ptr %X, ptr %H, i32 %skey, i32 %key0, "
      f"{F} %nb2, {F} %tb)")
    e("  %phn = add i64 %ph, 1")
    e("  %multi = icmp sgt i64 %T, 1")
    e("  br i1 %multi, label %arrive, label %waited")
    e("arrive:")
    e("  %old = atomicrmw add ptr %bar, i64 1 seq_cst")
    e("  %target = mul i64 %phn, %T")
    e("  br label %spin")
    e("spin:")
    e("  %k = phi i64 [0, %arrive], [%kn, %spin2]")
    e("  %now = load atomic i64, ptr %bar acquire, align 8")
    e("  %ready = icmp sge i64 %now, %target")
    e("  br i1 %ready, label %waited, label %spin1")
    e("spin1:")
    e("  %kn = add i64 %k, 1")
    if yield_:
        e("  %long = icmp sgt i64 %kn, 4000")
        e("  br i1 %long, label %yield, label %spin2")
        e("yield:")
        e("  %yr = call i32 @sched_yield()")
        e("  br label %spin2")
    else:
        e("  br label %spin2")
    e("spin2:")
    e("  br label %spin")
    e("waited:")
    e("  %cn = add i64 %c, 1")
    e("  %cm = icmp slt i64 %cn, %ncol")
    e("  br i1 %cm, label %colour, label %sweepend")
    e("sweepend:")
    e("  %tn = add i64 %t, 1")
    e("  %tm = icmp slt i64 %tn, %nsw")
    e("  br i1 %tm, label %sweep, label %done")
    e("done:")
    e("  ret void")
    e("}")
    return out


def _kernel(dtype, n_chains, heat, per_chain_field):
    """The compiled row kernel (a ctypes function; it releases the GIL), compiled once per process;
    ``None`` (with one warning) where LLVM cannot compile it for this machine."""
    key = (np.dtype(dtype).name, int(n_chains), bool(heat), bool(per_chain_field))
    with _lock:
        if key not in _compiled:
            try:
                _compiled[key] = _compile(key)
            except Exception as exc:  # an LLVM or platform failure: the numba kernel runs instead
                import warnings

                warnings.warn(f"skising: the explicit-SIMD sampling kernel did not compile ({exc!r}); "
                              "using the numba kernel (same samples, about half the speed)", RuntimeWarning,
                              stacklevel=3)
                _compiled[key] = None
        return None if _compiled[key] is None else _compiled[key][0]


def _compile(key):
    """LLVM IR to machine code for this CPU, in-process (MCJIT): ``(function, engine, module, target)``."""
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    mod = llvm.parse_assembly(kernel_ir(*key))
    mod.verify()
    tm = llvm.Target.from_default_triple().create_target_machine(
        cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(), opt=3)
    pb = llvm.create_pass_builder(tm, llvm.create_pipeline_tuning_options(speed_level=3))
    pb.getModulePassManager().run(mod, pb)
    engine = llvm.create_mcjit_compiler(mod, tm)
    engine.finalize_object()
    ft = ctypes.c_float if key[0] == "float32" else ctypes.c_double
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    proto = ctypes.CFUNCTYPE(None, i64, i64, ptr, i64, ptr, i64, ptr, ptr, ptr, ptr, ptr, ctypes.c_uint32, ft, ft,
                             ptr)
    return proto(engine.get_function_address("sweeps")), engine, mod, tm  # the engine owns the code


def _executor(n_workers):
    """A thread pool per worker count, made again in a forked child (its parent's threads are gone)."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    key = (os.getpid(), n_workers)
    with _lock:
        if key not in _pool:
            _pool[key] = ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="skising-sweep")
        return _pool[key]


def sweeps_simd(rowptr, col, val, X, H, bounds, skeys, k0, beta, heat, n_threads=1):
    """Run ``len(skeys)`` sweeps in place on ``X`` ((n, K) int8 of +-1, colour-permuted, K >= 8).

    Same contract and same samples as :func:`skising.sampling._kernels.sweeps_numba`
    (CSR ``rowptr`` int64 / ``col`` int32 / ``val``, field ``H`` of shape (n, 1)
    or (n, K) in ``val``'s dtype, colour offsets ``bounds``, per-sweep keys
    ``skeys``, call key ``k0``); check :func:`usable` first. Returns False, with
    ``X`` untouched, where the kernel did not compile on this machine.
    """
    n, K = X.shape
    dt = val.dtype
    for a, name, want in ((rowptr, "rowptr", np.int64), (col, "col", np.int32), (X, "X", np.int8), (H, "H", dt)):
        if a.dtype != want or not a.flags.c_contiguous:
            raise TypeError(f"sweeps_simd: {name} must be C-contiguous {np.dtype(want).name}, got {a.dtype}")
    if not val.flags.c_contiguous or rowptr.shape[0] != n + 1 or H.shape[0] != n:
        raise ValueError("sweeps_simd: rowptr, X and H disagree on the number of rows")
    fn = _kernel(dt, K, heat, H.shape[1] > 1)
    if fn is None:
        return False
    ptrs = (rowptr.ctypes.data, col.ctypes.data, val.ctypes.data, X.ctypes.data, H.ctypes.data)
    nb2, tb, key0 = -2.0 * float(beta), 2.0 * float(beta), int(k0) & 0xFFFFFFFF
    bounds = np.ascontiguousarray(bounds, dtype=np.int64)
    skeys = np.ascontiguousarray(np.asarray(skeys, dtype=np.int64) & 0xFFFFFFFF, dtype=np.uint32)
    n_colors = max(0, bounds.shape[0] - 1)
    T = max(1, int(n_threads))
    if T > 1 and X.size < THREAD_MIN_UPDATES:
        T = 1
    bar = np.zeros(1, dtype=np.int64)
    args = (bounds.ctypes.data, n_colors, skeys.ctypes.data, skeys.shape[0], *ptrs, key0, nb2, tb, bar.ctypes.data)
    if T == 1:
        fn(0, 1, *args)
        return True
    # one call per thread; the threads meet at a barrier after each colour. One threaded call at
    # a time: two calls sharing the pool could leave a thread spinning for a worker the other holds
    with _threaded_call:
        futures = [_executor(T - 1).submit(fn, q, T, *args) for q in range(1, T)]
        fn(0, T, *args)
        for fut in futures:
            fut.result()
    return True
