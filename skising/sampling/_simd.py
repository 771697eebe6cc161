r"""Explicit-SIMD sweep kernel for 8 or more chains, written as LLVM IR.

The compiled CPU path (:mod:`skising.sampling._kernels`) writes its kernels in
numba and lets LLVM's loop vectoriser find the SIMD code. For many chains that
left most of the speed on the table (this kernel is 1.7-5x faster): the
per-chain local fields lived in a scratch array that was loaded and stored for
every neighbour, with run-time alias checks against the spins, and a
compile-time chain count made LLVM unroll instead of vectorise. This module writes the row kernel directly in
LLVM IR with explicit vectors (``<16 x float>``, ``<8 x double>``), compiled
in-process by ``llvmlite`` (the LLVM binding numba is built on, a core
dependency like numba):

* the chains of a row are cut into blocks of 16 (float32) or 8 (float64) lanes,
  the last block narrower when the chain count is not a multiple; each block's
  local field stays in one register across the row's neighbours;
* when the chain count is not a multiple of the vector width, rows go in tiles
  of ``L / gcd(K, L)`` rows whose local fields are parked in a stack buffer, so
  the accept/reject runs on full vectors over the tile's contiguous spins;
* with 24 or more chains, the neighbour rows of the row 8 positions ahead are
  prefetched (the colour classes of a large graph visit their neighbours' spins
  in random order); below 24 chains the prefetch cost more than it saved;
* the update is the one of :func:`skising.sampling._kernels.sweeps_numba`,
  operation for operation (same hash, same exp polynomial, same order of
  additions, no fused multiply-add), so the samples are **bit-identical** to
  the numba and torch paths for the same seed (``tests/sampling/test_engine_simd.py``).
  Three rewrites keep the values exactly: ``v * x`` for a spin ``x = +-1`` is
  ``v`` with its sign bit flipped where ``x = -1`` (every non-NaN ``v``); the
  Metropolis flip negates the int8 spin instead of converting it; ``2^-n`` is
  built from its exponent bits, the value of the numba kernel's product of
  powers of two.

The sweep and colour loops are compiled too (:func:`_driver_ir`): one foreign
call per thread per sampling call (ctypes releases the GIL); thread ``t`` of
``T`` takes its share of the rows of each colour, and the threads meet at a
counter barrier after each colour. Used for 8 or more chains when the chain
count fits in 16 blocks and the random-number counters fit in 32 bits
(``n * n_chains <= 2**32``); otherwise the numba kernel runs.
"""

from __future__ import annotations

import ctypes
import math
import struct
import threading

import numpy as np

from ._arith import _M1, _M2, EXP2_COEF, INV24, LOG2E, T_MIN

__all__ = ["available", "usable", "sweeps_simd", "kernel_ir", "unpermute_simd", "unpermute_ir"]

LANES = {"float32": 16, "float64": 8}
SIGN = {"i32": -(2**31), "i64": -(2**63)}  # the sign bit, as a signed integer literal
MAX_BLOCKS = 16
# from this many chains per thread, the chains of one block are split into a block per thread
SPLIT_MIN_CHAINS = 64
PREFETCH_ROWS = 8
PREFETCH_MIN_CHAINS = 24
# nodes per tile of the output kernel: a group of 16 chains writes runs of this many floats per row
UNPERMUTE_TILE = 256
# below this many spin updates per sweep the threads cost more than they save
# (a thread-pool round trip per call)
THREAD_MIN_UPDATES = 200_000

_lock = threading.Lock()
_threaded_call = threading.RLock()  # re-entered by the output kernel of a threaded block
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
    return X.size <= 2**32 and col.dtype == np.int32 and H.shape[1] in (1, K) and available()


def chain_blocks(K, dtype):
    """Column blocks ``(c0, c1)`` of ``K`` chains that :func:`sweeps_simd` runs one after another
    (each on a contiguous copy):
    all chains at once up to ``MAX_BLOCKS`` vectors, else blocks of ``MAX_BLOCKS`` vectors
    (256 float32 or 128 float64 chains: the accumulators stay in registers and one block's
    spins stay in cache across the sweeps of a small graph)."""
    L = LANES[np.dtype(dtype).name]
    if len(_widths(K, L)) <= MAX_BLOCKS:
        return [(0, K)]
    B = L * MAX_BLOCKS
    return [(c0, min(K, c0 + B)) for c0 in range(0, K, B)]


def _hexf(x, F):
    """An LLVM IR floating-point literal, exact (LLVM writes floats as the double of the same value)."""
    if F == "float":
        x = struct.unpack("<f", struct.pack("<f", x))[0]
    return "0x%016X" % struct.unpack("<Q", struct.pack("<d", x))[0]


def kernel_ir(dtype, n_chains, heat, per_chain_field, prefetch=None, tiles=True, stride=None):
    """LLVM IR of ``void kern(r0, r1, rowptr, col, val, X, H, skey, key0, nb2, tb, coff)``: rows r0:r1 of one
    colour, all ``n_chains`` chains, updated in place (see :func:`sweeps_simd` for the arguments).

    ``stride`` (default ``n_chains``): the chain count of the whole array when ``X`` (and a
    per-chain ``H``) hold a copied block of its columns ``coff:coff + n_chains``: the counters
    are then ``i * stride + coff + k``, the random numbers of one pass over all the chains.

    ``prefetch``: rows ahead whose neighbour rows are prefetched (default: 8 from 24
    chains on, else none); ``tiles=False`` updates every row on its own blocks.
    When the chain count is not a multiple of the vector width ``L``, rows go in tiles
    of ``R = L / gcd(K, L)`` rows: each row's local fields are gathered in registers
    (blocks of ``L`` lanes and one narrower block) and parked in a stack buffer, then
    the tile's ``R K`` contiguous spins are updated in full vectors (their flat index
    is the random-number counter). Rows left over at the end of a range go one by one.
    """
    name = np.dtype(dtype).name
    F = "float" if name == "float32" else "double"
    L = LANES[name]
    K = int(n_chains)
    S = K if stride is None else int(stride)
    IW, bias, mant = ("i32", 127, 23) if F == "float" else ("i64", 1023, 52)
    coef = EXP2_COEF[name]
    deg = len(coef) - 1
    widths = _widths(K, L)
    # rows per tile; 1: every row fills whole vectors already (a block of a wider array: rows are
    # not contiguous, so no tiles)
    R = L // math.gcd(K, L) if tiles and S == K else 1
    if prefetch is None:  # measured: a gain from rows of 24 bytes on, a loss below
        prefetch = PREFETCH_ROWS if K >= PREFETCH_MIN_CHAINS else 0
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

    def row_fields(px, i, head):
        """Prefetch, gather and field of row ``i`` (an i64 value), from block ``head``; the row's
        local fields per block (``loc`` of block b covers chains off_b:off_b + w_b) end in block
        ``px.done``."""
        emit(f"  %{px}.rp = getelementptr inbounds i64, ptr %rowptr, i64 {i}")
        emit(f"  %{px}.p0 = load i64, ptr %{px}.rp")
        emit(f"  %{px}.rp1 = getelementptr inbounds i64, ptr %{px}.rp, i64 1")
        emit(f"  %{px}.p1 = load i64, ptr %{px}.rp1")
        if prefetch:  # the neighbour rows of row i + prefetch, into cache
            emit(f"  %{px}.ipf = add i64 {i}, {int(prefetch)}")
            emit(f"  %{px}.dopf = icmp slt i64 %{px}.ipf, %r1")
            emit(f"  br i1 %{px}.dopf, label %{px}.pfhead, label %{px}.gather")
            emit(f"{px}.pfhead:")
            emit(f"  %{px}.qp = getelementptr inbounds i64, ptr %rowptr, i64 %{px}.ipf")
            emit(f"  %{px}.q0 = load i64, ptr %{px}.qp")
            emit(f"  %{px}.qp1 = getelementptr inbounds i64, ptr %{px}.qp, i64 1")
            emit(f"  %{px}.q1 = load i64, ptr %{px}.qp1")
            emit(f"  %{px}.qne = icmp slt i64 %{px}.q0, %{px}.q1")
            emit(f"  br i1 %{px}.qne, label %{px}.pf, label %{px}.gather")
            emit(f"{px}.pf:")
            emit(f"  %{px}.q = phi i64 [%{px}.q0, %{px}.pfhead], [%{px}.qn, %{px}.pf]")
            emit(f"  %{px}.qc = getelementptr inbounds i32, ptr %col, i64 %{px}.q")
            emit(f"  %{px}.qj32 = load i32, ptr %{px}.qc")
            emit(f"  %{px}.qj = zext i32 %{px}.qj32 to i64")
            emit(f"  %{px}.qo = mul i64 %{px}.qj, {K}")
            emit(f"  %{px}.qx = getelementptr inbounds i8, ptr %X, i64 %{px}.qo")
            emit(f"  call void @llvm.prefetch.p0(ptr %{px}.qx, i32 0, i32 3, i32 1)")
            emit(f"  %{px}.qn = add i64 %{px}.q, 1")
            emit(f"  %{px}.qm = icmp slt i64 %{px}.qn, %{px}.q1")
            emit(f"  br i1 %{px}.qm, label %{px}.pf, label %{px}.gather")
            emit(f"{px}.gather:")
            head = f"%{px}.gather"
        # local fields: for each neighbour (CSR order), every block adds v * x_j (a register per block)
        emit(f"  %{px}.ne = icmp slt i64 %{px}.p0, %{px}.p1")
        emit(f"  br i1 %{px}.ne, label %{px}.nb, label %{px}.done")
        emit(f"{px}.nb:")
        emit(f"  %{px}.p = phi i64 [%{px}.p0, {head}], [%{px}.pn, %{px}.nb]")
        for b, w in enumerate(widths):
            emit(f"  %{px}.a{b} = phi {ty(w, F)} [zeroinitializer, {head}], [%{px}.an{b}, %{px}.nb]")
        emit(f"  %{px}.cp = getelementptr inbounds i32, ptr %col, i64 %{px}.p")
        emit(f"  %{px}.j32 = load i32, ptr %{px}.cp")
        emit(f"  %{px}.j = zext i32 %{px}.j32 to i64")
        emit(f"  %{px}.vp = getelementptr inbounds {F}, ptr %val, i64 %{px}.p")
        emit(f"  %{px}.v = load {F}, ptr %{px}.vp")
        emit(f"  %{px}.xo = mul i64 %{px}.j, {K}")
        emit(f"  %{px}.xrow = getelementptr inbounds i8, ptr %X, i64 %{px}.xo")
        emit(f"  %{px}.vbits = bitcast {F} %{px}.v to {IW}")
        vs = {w: splat(w, f"%{px}.vbits", IW) for w in set(widths)}
        off = 0
        for b, w in enumerate(widths):
            # v * x_j for x_j = +-1 is v with its sign bit flipped where x_j = -1: exact, and one
            # and-xor instead of a conversion and a multiply
            xp = op("xp", f"getelementptr inbounds i8, ptr %{px}.xrow, i64 {off}")
            xb = op("xb", f"load {ty(w, 'i8')}, ptr {xp}, align 1")
            xs = op("xs", f"sext {ty(w, 'i8')} {xb} to {ty(w, IW)}")
            sg = op("sg", f"and {ty(w, IW)} {xs}, {vconst(w, SIGN[IW], IW)}")
            tm = op("tm", f"bitcast {ty(w, IW)} {op('tm', f'xor {ty(w, IW)} {vs[w]}, {sg}')} to {ty(w, F)}")
            emit(f"  %{px}.an{b} = fadd {ty(w, F)} %{px}.a{b}, {tm}")
            off += w
        emit(f"  %{px}.pn = add i64 %{px}.p, 1")
        emit(f"  %{px}.more = icmp slt i64 %{px}.pn, %{px}.p1")
        emit(f"  br i1 %{px}.more, label %{px}.nb, label %{px}.done")
        emit(f"{px}.done:")
        for b, w in enumerate(widths):
            emit(f"  %{px}.acc{b} = phi {ty(w, F)} [zeroinitializer, {head}], [%{px}.an{b}, %{px}.nb]")
        emit(f"  %{px}.io = mul i64 {i}, {K}")
        if not per_chain_field:
            emit(f"  %{px}.hp = getelementptr inbounds {F}, ptr %H, i64 {i}")
            emit(f"  %{px}.hv = load {F}, ptr %{px}.hp")
            hs = {w: splat(w, f"%{px}.hv", F) for w in set(widths)}
        locs = []
        off = 0
        for b, w in enumerate(widths):
            if per_chain_field:
                hq = op("hp", f"getelementptr inbounds {F}, ptr %H, i64 %{px}.io")
                hp = op("hp", f"getelementptr inbounds {F}, ptr {hq}, i64 {off}")
                h = op("hb", f"load {ty(w, F)}, ptr {hp}, align 1")
            else:
                h = hs[w]
            locs.append(op("loc", f"fadd {ty(w, F)} %{px}.acc{b}, {h}"))
            off += w
        return locs, f"%{px}.io"

    def accept(w, loc, sp, base32):
        """Update the ``w`` spins at ``sp`` (int8) with local fields ``loc``, counters ``base32 + lane``."""
        V, VI, VB, VW, VM = ty(w, F), ty(w, "i32"), ty(w, "i8"), ty(w, IW), ty(w, "i1")
        sk, k0 = splat(w, "%skey", "i32"), splat(w, "%key0", "i32")
        nb2, tb = splat(w, "%nb2", F), splat(w, "%tb", F)
        sb = op("sb", f"load {VB}, ptr {sp}, align 1")
        # uniform: counter i * K + k, two rounds of lowbias32, top 23 bits
        lanes = "<" + ", ".join(f"i32 {q}" for q in range(w)) + ">"
        lo = op("lo", f"add {VI} {splat(w, base32, 'i32')}, {lanes}")
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
        nf = op("nf", f"call {V} @llvm.floor.v{w}f{32 if F == 'float' else 64}({V} {tt})")
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
            neg = op("q", f"sub {VB} zeroinitializer, {sb}")
            new = op("new", f"select {VM} {op('q', f'fcmp olt {V} {u}, {ex}')}, {VB} {neg}, {VB} {sb}")
        emit(f"  store {VB} {new}, ptr {sp}, align 1")

    for w in sorted(set(widths) | {L}):
        emit(f"declare {ty(w, F)} @llvm.floor.v{w}f{32 if F == 'float' else 64}({ty(w, F)})")
    emit("declare void @llvm.prefetch.p0(ptr, i32, i32, i32)")
    emit(f"define internal void @kern(i64 %r0, i64 %r1, ptr noalias readonly %rowptr, ptr noalias readonly %col, "
         f"ptr noalias readonly %val, ptr noalias %X, ptr noalias readonly %H, i32 %skey, i32 %key0, "
         f"{F} %nb2, {F} %tb, i32 %coff) nounwind {{")
    emit("entry:")
    if R > 1:
        emit(f"  %buf = alloca [{R * K} x {F}], align 64")
        emit("  br label %tiles")
        # tiles of R rows: fields of each row into buf, then full vectors over the tile's R K spins
        emit("tiles:")
        emit("  %t0 = phi i64 [%r0, %entry], [%t0n, %tacc]")
        emit(f"  %t0n = add i64 %t0, {R}")
        emit("  %tfits = icmp sle i64 %t0n, %r1")
        emit("  br i1 %tfits, label %trow, label %single.head")
        emit("trow:")
        emit("  %tr = phi i64 [0, %tiles], [%trn, %tr.done]")
        emit("  %ti = add i64 %t0, %tr")
        locs, _ = row_fields("tr", "%ti", "%trow")
        emit(f"  %tboff = mul i64 %tr, {K}")
        off = 0
        for b, w in enumerate(widths):
            bp = op("bp", f"getelementptr inbounds {F}, ptr %buf, i64 %tboff")
            bq = op("bp", f"getelementptr inbounds {F}, ptr {bp}, i64 {off}")
            emit(f"  store {ty(w, F)} {locs[b]}, ptr {bq}, align 4")
            off += w
        emit("  %trn = add i64 %tr, 1")
        emit(f"  %trm = icmp slt i64 %trn, {R}")
        emit("  br i1 %trm, label %trow, label %tacc.head")
        emit("tacc.head:")
        emit(f"  %tio = mul i64 %t0, {K}")
        emit("  %tio32 = trunc i64 %tio to i32")
        emit("  %txi = getelementptr inbounds i8, ptr %X, i64 %tio")
        emit("  br label %tacc")
        emit("tacc:")
        emit("  %tq = phi i64 [0, %tacc.head], [%tqn, %tacc]")
        lp = op("lp", f"getelementptr inbounds {F}, ptr %buf, i64 %tq")
        loc = op("loc", f"load {ty(L, F)}, ptr {lp}, align 4")
        sp = op("sp", "getelementptr inbounds i8, ptr %txi, i64 %tq")
        tq32 = op("tq", "trunc i64 %tq to i32")
        accept(L, loc, sp, op("base", f"add i32 %tio32, {tq32}"))
        emit(f"  %tqn = add i64 %tq, {L}")
        emit(f"  %tqm = icmp slt i64 %tqn, {R * K}")
        emit("  br i1 %tqm, label %tacc, label %tiles")
        single_from, single_start = "%tiles", "%t0"
    else:
        emit("  br label %single.head")
        single_from, single_start = "%entry", "%r0"
    # rows one at a time: blocks of L lanes and one narrower block
    emit("single.head:")
    emit(f"  %si0 = phi i64 [{single_start}, {single_from}]")
    emit("  %sgo = icmp slt i64 %si0, %r1")
    emit("  br i1 %sgo, label %row, label %exit")
    emit("row:")
    emit("  %i = phi i64 [%si0, %single.head], [%inext, %row.done]")
    locs, io = row_fields("row", "%i", "%row")
    if S != K:  # the counters of the block's columns in the whole array
        emit(f"  %ioc = mul i64 %i, {S}")
        emit("  %io32.r = trunc i64 %ioc to i32")
        emit("  %io32 = add i32 %io32.r, %coff")
    else:
        emit(f"  %io32 = trunc i64 {io} to i32")
    emit(f"  %xi = getelementptr inbounds i8, ptr %X, i64 {io}")
    off = 0
    for b, w in enumerate(widths):
        sp = op("sp", f"getelementptr inbounds i8, ptr %xi, i64 {off}")
        accept(w, locs[b], sp, op("base", f"add i32 %io32, {off}"))
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
    """IR of ``void sweeps(tid, T, bounds, n_colors, skeys, n_sweeps, rowptr, col, val, X, H, key0, nb2, tb, bar,
    coff)``.

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
      f"ptr %rowptr, ptr %col, ptr %val, ptr %X, ptr %H, i32 %key0, {F} %nb2, {F} %tb, ptr %bar, "
      "i32 %coff) nounwind {")
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
      f"{F} %nb2, {F} %tb, i32 %coff)")
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


def _kernel(dtype, n_chains, heat, per_chain_field, stride=None):
    """The compiled row kernel (a ctypes function; it releases the GIL), compiled once per process;
    ``None`` (with one warning) where LLVM cannot compile it for this machine."""
    stride = int(n_chains) if stride is None else int(stride)
    key = (np.dtype(dtype).name, int(n_chains), bool(heat), bool(per_chain_field), stride)
    with _lock:
        if key not in _compiled:
            try:
                _compiled[key] = _compile(key)
            except Exception as exc:  # an LLVM or platform failure: the numba kernel runs instead
                import warnings

                warnings.warn(f"skising: the explicit-SIMD sampling kernel did not compile ({exc!r}); "
                              "using the numba kernel (same samples, 1.7-5x slower)", RuntimeWarning,
                              stacklevel=3)
                _compiled[key] = None
        return None if _compiled[key] is None else _compiled[key][0]


def _compile(key):
    """The sweep kernel for ``key`` = (dtype name, chains, heat, per-chain field, row stride)."""
    ft = ctypes.c_float if key[0] == "float32" else ctypes.c_double
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    return _compile_ir(kernel_ir(*key[:4], stride=key[4]), "sweeps",
                       [i64, i64, ptr, i64, ptr, i64, ptr, ptr, ptr, ptr, ptr, ctypes.c_uint32, ft, ft, ptr,
                        ctypes.c_uint32])


def _compile_ir(ir, name, argtypes):
    """LLVM IR to machine code for this CPU, in-process (MCJIT): ``(function, engine, module, target)``."""
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    mod = llvm.parse_assembly(ir)
    mod.verify()
    tm = llvm.Target.from_default_triple().create_target_machine(
        cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(), opt=3)
    pb = llvm.create_pass_builder(tm, llvm.create_pipeline_tuning_options(speed_level=3))
    pb.getModulePassManager().run(mod, pb)
    engine = llvm.create_mcjit_compiler(mod, tm)
    engine.finalize_object()
    proto = ctypes.CFUNCTYPE(None, *argtypes)
    return proto(engine.get_function_address(name)), engine, mod, tm  # the engine owns the code


def _executor(n_workers):
    """A thread pool per worker count, made again in a forked child (its parent's threads are gone)."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    key = (os.getpid(), n_workers)
    with _lock:
        if key not in _pool:
            _pool[key] = ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="skising-sweep")
        return _pool[key]


def sweeps_simd(rowptr, col, val, X, H, bounds, skeys, k0, beta, heat, n_threads=1, out=None, position=None):
    """Run ``len(skeys)`` sweeps in place on ``X`` ((n, K) int8 of +-1, colour-permuted, K >= 8).

    Same contract and same samples as :func:`skising.sampling._kernels.sweeps_numba`
    (CSR ``rowptr`` int64 / ``col`` int32 / ``val``, field ``H`` of shape (n, 1)
    or (n, K) in ``val``'s dtype, colour offsets ``bounds``, per-sweep keys
    ``skeys``, call key ``k0``); check :func:`usable` first. Returns False, with
    ``X`` untouched, where the kernel did not compile on this machine.

    With ``out`` ((K, n) float, C-contiguous) and ``position``, the spins end in ``out`` in
    node order (``X[position].T``), each block of chains written as soon as its sweeps end,
    and ``X`` is consumed (no copy back of the blocks).
    """
    n, K = X.shape
    dt = val.dtype
    for a, name, want in ((rowptr, "rowptr", np.int64), (col, "col", np.int32), (X, "X", np.int8), (H, "H", dt)):
        if a.dtype != want or not a.flags.c_contiguous:
            raise TypeError(f"sweeps_simd: {name} must be C-contiguous {np.dtype(want).name}, got {a.dtype}")
    if not val.flags.c_contiguous or rowptr.shape[0] != n + 1 or H.shape[0] != n:
        raise ValueError("sweeps_simd: rowptr, X and H disagree on the number of rows")
    per_chain = H.shape[1] > 1
    blocks = chain_blocks(K, dt)
    T = max(1, int(n_threads))
    if T > 1 and n * (blocks[0][1] - blocks[0][0]) < THREAD_MIN_UPDATES:
        T = 1
    if 1 < len(blocks) < T or (len(blocks) == 1 and T > 1 and K >= SPLIT_MIN_CHAINS * T):
        # fewer blocks than threads: one block per thread (a multiple of 16 chains each), so that no
        # thread waits at a barrier per colour (1.3x for 256 chains on a million nodes, two threads)
        w = -(-K // T)  # ceil(K / T), then up to a multiple of 16 (full vectors, the register transpose)
        w = (w + 15) // 16 * 16 if K >= 16 * T else w
        blocks = [(c0, min(K, c0 + w)) for c0 in range(0, K, w)]
    fns = {}
    for c0, c1 in blocks:
        key = (c1 - c0, K if len(blocks) > 1 else None)
        if key not in fns:
            fns[key] = _kernel(dt, key[0], heat, per_chain, stride=key[1])
            if fns[key] is None:
                return False
    nb2, tb, key0 = -2.0 * float(beta), 2.0 * float(beta), int(k0) & 0xFFFFFFFF
    bounds = np.ascontiguousarray(bounds, dtype=np.int64)
    skeys = np.ascontiguousarray(np.asarray(skeys, dtype=np.int64) & 0xFFFFFFFF, dtype=np.uint32)
    n_colors = max(0, bounds.shape[0] - 1)
    # blocks of chains, each through all the sweeps on a contiguous copy (a strided block maps its
    # rows to few cache sets); the counters are those of the whole array, so the samples are the same
    def run_block(c0, c1, threads):
        fn = fns[(c1 - c0, K if len(blocks) > 1 else None)]
        Xb = X if len(blocks) == 1 else np.ascontiguousarray(X[:, c0:c1])
        Hb = np.ascontiguousarray(H[:, c0:c1]) if per_chain and len(blocks) > 1 else H
        ptrs = (rowptr.ctypes.data, col.ctypes.data, val.ctypes.data, Xb.ctypes.data, Hb.ctypes.data)
        bar = np.zeros(1, dtype=np.int64)
        args = (bounds.ctypes.data, n_colors, skeys.ctypes.data, skeys.shape[0], *ptrs, key0, nb2, tb,
                bar.ctypes.data, c0)
        if threads == 1:
            fn(0, 1, *args)
        else:
            # one call per thread; the threads meet at a barrier after each colour
            futures = [_executor(threads - 1).submit(fn, q, threads, *args) for q in range(1, threads)]
            fn(0, threads, *args)
            for fut in futures:
                fut.result()
        if out is not None:
            from ._kernels import unpermute_numba

            unpermute_numba(Xb, position, out.dtype, n_threads=threads, out=out[c0:c1])
        elif Xb is not X:
            X[:, c0:c1] = Xb

    if T == 1:
        for c0, c1 in blocks:
            run_block(c0, c1, 1)
        return True
    # One threaded call at a time: two calls sharing the pool could leave a thread spinning for a
    # worker the other holds
    with _threaded_call:
        if len(blocks) < T:  # the threads share each block's rows
            for c0, c1 in blocks:
                run_block(c0, c1, T)
        else:  # whole blocks per thread, taken in turn: no barrier, no rows shared between threads
            import queue

            todo = queue.SimpleQueue()
            for blk in blocks:
                todo.put(blk)

            def worker():
                while True:
                    try:
                        c0, c1 = todo.get_nowait()
                    except queue.Empty:
                        return
                    run_block(c0, c1, 1)

            futures = [_executor(T - 1).submit(worker) for _ in range(1, T)]
            worker()
            for fut in futures:
                fut.result()
    return True


# ----------------------------------------------------------------------------- output in node order
def unpermute_ir(dtype, n_chains, tile=UNPERMUTE_TILE):
    """LLVM IR of ``void unperm(v0, v1, X, pos, out, n)``: ``out[k, v] = X[pos[v], k]`` for nodes v0:v1.

    Nodes go in tiles of ``tile`` (a multiple of 16); inside a tile, chains go in groups of 16
    and nodes in blocks of 16: the block's 16 spin rows are loaded as vectors (16 bytes each),
    transposed in registers and written as full vectors of 16 consecutive nodes per chain. A
    group's 16 output rows thus get runs of ``tile`` consecutive nodes (the tile's spin rows
    stay in cache across the groups): with many chains, one group per block would write to
    as many output rows, ``n`` floats apart, as there are chains, and those streams evict each
    other. Leftover nodes (fewer than 16 at the end of the range) go one by one. ``n_chains``
    is a multiple of 16.
    """
    F = "float" if np.dtype(dtype).name == "float32" else "double"
    K = int(n_chains)
    TN = int(tile)
    e = []
    e.append("define void @unperm(i64 %v0, i64 %v1, ptr noalias readonly %X, ptr noalias readonly %pos, "
             "ptr noalias %out, i64 %n) nounwind {")
    e.append("entry:")
    e.append("  %span = sub i64 %v1, %v0")
    e.append("  %nfull = and i64 %span, -16")
    e.append("  %vf = add i64 %v0, %nfull")  # end of the whole 16-node blocks
    e.append("  br label %tile")
    e.append("tile:")
    e.append("  %t = phi i64 [%v0, %entry], [%tend, %grpend]")
    e.append("  %tgo0 = icmp slt i64 %t, %vf")
    e.append("  br i1 %tgo0, label %tset, label %tailstart")
    e.append("tset:")
    e.append(f"  %tn = add i64 %t, {TN}")
    e.append("  %tlt = icmp slt i64 %tn, %vf")
    e.append("  %tend = select i1 %tlt, i64 %tn, i64 %vf")
    e.append("  br label %grp")
    e.append("grp:")
    e.append("  %c = phi i64 [0, %tset], [%cn, %blkend]")
    e.append("  %coff = mul i64 %c, 16")
    e.append("  br label %blk")
    e.append("blk:")
    e.append("  %v = phi i64 [%t, %grp], [%vn, %blk]")
    e.append("  %pv = getelementptr inbounds i64, ptr %pos, i64 %v")
    level = []
    for q in range(16):
        e.append(f"  %pq{q} = getelementptr inbounds i64, ptr %pv, i64 {q}")
        e.append(f"  %p{q} = load i64, ptr %pq{q}")
        e.append(f"  %ro{q} = mul i64 %p{q}, {K}")
        e.append(f"  %rc{q} = add i64 %ro{q}, %coff")
        e.append(f"  %a{q} = getelementptr inbounds i8, ptr %X, i64 %rc{q}")
        e.append(f"  %r{q} = load <16 x i8>, ptr %a{q}, align 1")
        level.append(f"%r{q}")
    w, lv = 16, 0
    while len(level) > 1:  # the 16 rows as one <256 x i8>, row after row
        mask = ", ".join(f"i32 {j}" for j in range(2 * w))
        nxt = []
        for i in range(0, len(level), 2):
            nm = f"%cat.{lv}.{i}"
            e.append(f"  {nm} = shufflevector <{w} x i8> {level[i]}, <{w} x i8> {level[i + 1]}, "
                     f"<{2 * w} x i32> <{mask}>")
            nxt.append(nm)
        level, w, lv = nxt, 2 * w, lv + 1
    for k in range(16):  # chain coff + k of the 16 nodes: a column of the 16 x 16 block
        mask = ", ".join(f"i32 {q * 16 + k}" for q in range(16))
        e.append(f"  %t{k} = shufflevector <256 x i8> {level[0]}, <256 x i8> poison, <16 x i32> <{mask}>")
        e.append(f"  %f{k} = sitofp <16 x i8> %t{k} to <16 x {F}>")
        e.append(f"  %ck{k} = add i64 %coff, {k}")
        e.append(f"  %oo{k} = mul i64 %n, %ck{k}")
        e.append(f"  %ob{k} = add i64 %oo{k}, %v")
        e.append(f"  %op{k} = getelementptr inbounds {F}, ptr %out, i64 %ob{k}")
        e.append(f"  store <16 x {F}> %f{k}, ptr %op{k}, align 1")
    e.append("  %vn = add i64 %v, 16")
    e.append("  %vm = icmp slt i64 %vn, %tend")
    e.append("  br i1 %vm, label %blk, label %blkend")
    e.append("blkend:")
    e.append("  %cn = add i64 %c, 1")
    e.append(f"  %cm = icmp slt i64 %cn, {K // 16}")
    e.append("  br i1 %cm, label %grp, label %grpend")
    e.append("grpend:")
    e.append("  br label %tile")
    e.append("tailstart:")
    e.append("  br label %tail")
    e.append("tail:")  # nodes vf .. v1 - 1, one chain at a time
    e.append("  %tgo = icmp slt i64 %vf, %v1")
    e.append("  br i1 %tgo, label %tnode, label %exit")
    e.append("tnode:")
    e.append("  %u = phi i64 [%vf, %tail], [%un, %tchain]")
    e.append("  %tpp = getelementptr inbounds i64, ptr %pos, i64 %u")
    e.append("  %tp = load i64, ptr %tpp")
    e.append(f"  %tro = mul i64 %tp, {K}")
    e.append("  br label %tk")
    e.append("tk:")
    e.append("  %k = phi i64 [0, %tnode], [%kn, %tk]")
    e.append("  %tx = add i64 %tro, %k")
    e.append("  %txp = getelementptr inbounds i8, ptr %X, i64 %tx")
    e.append("  %txb = load i8, ptr %txp")
    e.append(f"  %txf = sitofp i8 %txb to {F}")
    e.append("  %tko = mul i64 %k, %n")
    e.append("  %tkv = add i64 %tko, %u")
    e.append(f"  %tout = getelementptr inbounds {F}, ptr %out, i64 %tkv")
    e.append(f"  store {F} %txf, ptr %tout")
    e.append("  %kn = add i64 %k, 1")
    e.append(f"  %km = icmp slt i64 %kn, {K}")
    e.append("  br i1 %km, label %tk, label %tchain")
    e.append("tchain:")
    e.append("  %un = add i64 %u, 1")
    e.append("  %um = icmp slt i64 %un, %v1")
    e.append("  br i1 %um, label %tnode, label %exit")
    e.append("exit:")
    e.append("  ret void")
    e.append("}")
    return "\n".join(e) + "\n"


def unpermute_simd(X, position, dtype, n_threads=1, out=None):
    """``X[position].T`` as a C-contiguous ``dtype`` (float32/float64) array (``out``, (K, n) and
    C-contiguous, when given), or None where this kernel does not apply (chain count not a
    multiple of 16, or no compiled kernel)."""
    n, K = X.shape
    dt = np.dtype(dtype)
    if (K % 16 or K // 16 > MAX_BLOCKS or dt.name not in LANES or X.dtype != np.int8 or not X.flags.c_contiguous
            or not available()):
        return None
    key = ("unpermute", dt.name, K)
    with _lock:
        if key not in _compiled:
            try:
                _compiled[key] = _compile_ir(unpermute_ir(dt, K), "unperm", [ctypes.c_int64, ctypes.c_int64]
                                             + [ctypes.c_void_p] * 3 + [ctypes.c_int64])
            except Exception:  # the numba pass runs instead (the sweeps kernel warns once already)
                _compiled[key] = None
        fn = None if _compiled[key] is None else _compiled[key][0]
    if fn is None:
        return None
    position = np.ascontiguousarray(position, dtype=np.int64)
    if out is None:
        out = np.empty((K, n), dtype=dt)
    elif out.shape != (K, n) or out.dtype != dt or not out.flags.c_contiguous:
        raise ValueError(f"unpermute_simd: out must be a C-contiguous ({K}, {n}) {dt} array")
    args = (X.ctypes.data, position.ctypes.data, out.ctypes.data, n)
    T = max(1, int(n_threads)) if X.size >= THREAD_MIN_UPDATES else 1
    if T == 1:
        fn(0, n, *args)
        return out
    cuts = [(n * q // T) // 16 * 16 for q in range(T)] + [n]  # block-aligned shares
    with _threaded_call:
        futures = [_executor(T - 1).submit(fn, cuts[q], cuts[q + 1], *args) for q in range(1, T)]
        fn(cuts[0], cuts[1], *args)
        for fut in futures:
            fut.result()
    return out
