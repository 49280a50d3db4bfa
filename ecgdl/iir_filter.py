"""Causal and zero-phase IIR filtering in numpy: ``sosfilt``, ``sosfiltfilt``, ``filtfilt`` (scipy's API).

Causal (``sosfilt``): the cascade is written as one state-space system whose state is the sections'
transposed direct form II states (scipy's ``zi``), and run on blocks of 32 samples: a block's output
is one matrix product of [its inputs | its start state], and the start states of all blocks come from
a doubling scan over the blocks (``log2`` of their number of products with ``A**(32 d)``, stopped
where that power is nil). So ``zi`` and the final state ``zf`` are exact, and the work is a few BLAS
products instead of a Python-level recursion (faster than scipy's C recursion on long inputs).
The result equals scipy.signal's recursion to float64 rounding, amplified by slow poles' transient
(about 2e-11 of the output's scale for a 0.5-Hz high-pass at 500 Hz over 400,000 samples; float32
input: scipy's own float32 recursion rounds more; the coefficients are rounded to the input's
precision first, as scipy does).

Zero-phase: a stable IIR filter is the convolution with its impulse response, which decays
geometrically (as ``r**n``, ``r`` the largest pole radius); away from the ends the forward-backward
result is the convolution with the response's autocorrelation, applied by FFT (the response kept for
1.5 times the samples ``r**n`` takes to fall under 1e-17), the ends by the causal filter.
``tests/test_iir.py`` checks all of them against scipy.

Filters with a pole on or outside the unit circle are refused (``ValueError``): their response
does not decay.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np

__all__ = ["filtfilt", "lfilter_zi", "sosfilt", "sosfilt_zi", "sosfiltfilt", "sosfiltfilt_into"]

_DIRECT = 1 << 18           # n * L at or under which np.convolve is used instead of FFT overlap-add
_BATCH = 1 << 22            # samples per overlap-add batch (bounds the FFT's working memory)
_BLOCK = 32                 # samples per block of the causal filter's state-space form
_ONE_THREAD = 1 << 18       # m * n * k of a product under which OpenBLAS keeps to one thread (its threads
                            # cost up to 20x the product itself on a loaded machine)


def sosfilt(sos, x, axis: int = -1, zi=None):
    """Causal filtering of ``x`` along ``axis`` by second-order sections; with ``zi``: ``(y, zf)``.

    sos: ``(n_sections, 6)`` rows ``b0 b1 b2 1 a1 a2``; zi: ``(n_sections, ..., 2, ...)`` (``x``'s
    shape with ``axis`` of length 2), the transposed direct form II state of each section.

    >>> y = sosfilt(np.array([[0.5, 0.5, 0.0, 1.0, 0.0, 0.0]]), np.arange(4.0))
    >>> y.tolist()
    [0.0, 0.5, 1.5, 2.5]
    """
    x = np.asarray(x)
    sos = np.atleast_2d(np.asarray(sos))
    if sos.ndim != 2 or sos.shape[1] != 6 or not np.all(sos[:, 3] == 1):
        raise ValueError("sos must be (n_sections, 6) with sos[:, 3] == 1")
    dtype = np.result_type(sos, x, *(() if zi is None else (np.asarray(zi),)))
    if dtype.char not in "fd":
        raise NotImplementedError(f"ecgdl.iir.sosfilt: input type {dtype} not supported (float32/float64)")
    axis = axis % x.ndim
    n = x.shape[axis]
    xm = _moveaxis(x, axis, -1)
    lead_shape = xm.shape[:-1]
    x2 = np.asarray(xm.reshape(math.prod(lead_shape), n), dtype)   # read only: a view when already float32/64
    s = sos.shape[0]
    model = _block_model(sos.astype(dtype).astype(np.float64).tobytes(), s)
    y = np.empty(x2.shape, dtype)
    if zi is None:
        _block_filter(x2, np.zeros((x2.shape[0], 2 * s)), model, y)
        return _moveaxis(y.reshape(lead_shape + (n,)), -1, axis)
    want = (s,) + x.shape[:axis] + (2,) + x.shape[axis + 1:]
    zi = np.asarray(zi, dtype=dtype)
    if zi.shape != want:
        raise ValueError(f"zi must have shape {want} for x of shape {x.shape} and axis {axis}, got {zi.shape}")
    z = _moveaxis(zi, axis + 1, -1).reshape(s, x2.shape[0], 2).astype(np.float64)   # (S, C, 2)
    zf = _block_filter(x2, z.transpose(1, 0, 2).reshape(-1, 2 * s), model, y)     # states (C, 2 S)
    y = _moveaxis(y.reshape(lead_shape + (n,)), -1, axis)
    zf = zf.reshape(x2.shape[0], s, 2).transpose(1, 0, 2)                           # (S, C, 2)
    zf = _moveaxis(zf.astype(dtype).reshape((s,) + lead_shape + (2,)), -1, axis + 1)
    return y, zf



def _moveaxis(a: np.ndarray, src: int, dst: int) -> np.ndarray:
    """``np.moveaxis(a, src, dst)``, skipped when the axis stays put (its per-call cost is a third of
    a short filter call's: VF and the gap check filter hundreds of short stretches)."""
    if src % a.ndim == dst % a.ndim:
        return a
    return np.moveaxis(a, src, dst)


def sosfiltfilt(sos, x, axis: int = -1, padtype: str = "odd", padlen: int | None = None) -> np.ndarray:
    """Zero-phase forward-backward ``sosfilt`` with scipy's odd extension and steady-state start."""
    sos = np.atleast_2d(np.asarray(sos))
    ntaps = 2 * sos.shape[0] + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    return _forward_backward(sos, sosfilt_zi(sos), np.asarray(x), axis, padtype, 3 * ntaps if padlen is None else padlen)


def filtfilt(b, a, x, axis: int = -1, padtype: str = "odd", padlen: int | None = None) -> np.ndarray:
    """Zero-phase forward-backward filtering by ``(b, a)`` of order <= 2 (scipy's 'pad' method)."""
    b, a = np.atleast_1d(np.asarray(b, float)), np.atleast_1d(np.asarray(a, float))
    if max(b.size, a.size) > 3:
        raise NotImplementedError("ecgdl.iir.filtfilt: order <= 2 only (use sosfiltfilt)")
    sos = np.zeros((1, 6))
    sos[0, :b.size], sos[0, 3:3 + a.size] = b / a[0], a / a[0]
    zi = lfilter_zi(b, a)
    zi = np.pad(zi, (0, 2 - zi.size))[None]
    return _forward_backward(sos, zi, np.asarray(x), axis, padtype, 3 * max(b.size, a.size) if padlen is None else padlen)


def lfilter_zi(b, a) -> np.ndarray:
    """Steady-state initial state of ``lfilter(b, a)`` for a unit step input (scipy's ``lfilter_zi``)."""
    b, a = np.atleast_1d(np.asarray(b, float)), np.atleast_1d(np.asarray(a, float))
    while a.size > 1 and a[0] == 0.0:
        a = a[1:]
    b, a = b / a[0], a / a[0]
    n = max(a.size, b.size)
    a, b = np.pad(a, (0, n - a.size)), np.pad(b, (0, n - b.size))
    companion = np.zeros((n - 1, n - 1))
    companion[0] = -a[1:]
    companion[np.arange(1, n - 1), np.arange(n - 2)] = 1.0
    return np.linalg.solve(np.eye(n - 1) - companion.T, b[1:] - a[1:] * b[0])


def sosfilt_zi(sos: np.ndarray) -> np.ndarray:
    """``(n_sections, 2)`` initial state of :func:`sosfilt` for a unit step (scipy's ``sosfilt_zi``)."""
    sos = np.asarray(sos)
    zi = np.empty((sos.shape[0], 2), dtype=sos.dtype if sos.dtype.kind == "f" else np.float64)
    scale = 1.0
    for s, (b, a) in enumerate(zip(sos[:, :3], sos[:, 3:])):
        zi[s] = scale * lfilter_zi(b, a)
        scale *= b.sum() / a.sum()
    return zi


def _forward_backward(sos, zi, x, axis, padtype, edge) -> np.ndarray:
    """scipy's filtfilt recipe: odd extension, forward from ``zi * x[0]``, backward from ``zi * y[-1]``."""
    if padtype not in ("odd", None):
        raise ValueError(f"padtype {padtype!r} not supported: 'odd' or None")
    axis = axis % x.ndim
    edge = 0 if padtype is None else edge
    n = x.shape[axis]
    if n <= edge:
        raise ValueError(f"The length of the input vector x must be greater than padlen, which is {edge}.")
    dtype = np.result_type(sos, x, zi)
    xm = np.moveaxis(x, axis, -1)
    lead_shape = xm.shape[:-1]
    x2 = xm.reshape(-1, n)
    ext = np.concatenate((2 * x2[:, :1] - x2[:, edge:0:-1], x2, 2 * x2[:, -1:] - x2[:, -2:-edge - 2:-1]), axis=1) \
        if edge > 0 else x2                                         # in x's own precision, as scipy
    ext = ext.astype(np.float64)
    sos64 = sos.astype(dtype).astype(np.float64)
    y = _zero_phase(sos64, np.asarray(zi, np.float64), ext)[:, edge: edge + n]
    return np.moveaxis(y.astype(dtype, copy=False).reshape(lead_shape + (n,)), -1, axis)


def _zero_phase(sos: np.ndarray, zi: np.ndarray, ext: np.ndarray) -> np.ndarray:
    """Forward-backward filtering of ``ext`` ``(C, N)`` (float64), forward from ``zi * ext[:, 0]``.

    Long inputs: away from the ends (more than 2 L samples, L the response length) the result is the
    convolution with the response's autocorrelation: one FFT pass instead of two; the ends are
    filtered forward and backward on pieces of 3 L samples, exactly as the two passes would.
    """
    L = _responses(sos.tobytes(), sos.shape[0]).h.size
    n = ext.shape[1]
    start = zi[:, None, :] * ext[None, :, :1]                     # (S, C, 2)
    if n < 8 * L:
        y, _ = sosfilt(sos, ext, -1, zi=start)
        y = y[:, ::-1]
        y, _ = sosfilt(sos, y, -1, zi=zi[:, None, :] * y[None, :, :1])
        return y[:, ::-1]
    out = np.empty_like(ext)
    out[:, 2 * L: n - 2 * L] = _causal_conv(ext, _autocorrelation(sos.tobytes(), sos.shape[0]))[:, 3 * L - 1: n - L - 1]
    c, _ = sosfilt(sos, ext[:, : 3 * L + 1], -1, zi=start)        # left end: exact forward from the start
    out[:, : 2 * L] = sosfilt(sos, c[:, ::-1])[:, ::-1][:, : 2 * L]
    c = sosfilt(sos, ext[:, n - 3 * L:])[:, L:][:, ::-1]           # right end: forward is settled after L
    c, _ = sosfilt(sos, c, -1, zi=zi[:, None, :] * c[None, :, :1])
    out[:, n - 2 * L:] = c[:, ::-1]
    return out


def sosfiltfilt_into(sos, x: np.ndarray, out: np.ndarray, *, padlen: int | None = None,
                     piece: int = 1 << 21) -> np.ndarray:
    """``out[:] = sosfiltfilt(sos, x, axis=0)`` for a long ``x`` ``(n, C)``, in pieces (memory: a few pieces).

    Equal to the whole-record :func:`sosfiltfilt` (to float64 rounding, then ``out``'s precision): the
    ends as in :func:`_zero_phase`, the rest by the autocorrelation kernel over ``piece`` samples at a time.
    """
    sos = np.atleast_2d(np.asarray(sos, np.float64))
    ntaps = 2 * sos.shape[0] + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    edge = 3 * ntaps if padlen is None else padlen
    L = _responses(sos.tobytes(), sos.shape[0]).h.size
    n = x.shape[0]
    if n < 8 * L:
        out[:] = sosfiltfilt(sos, x, axis=0, padlen=edge)
        return out
    zi = sosfilt_zi(sos)[:, None, :]
    head = np.concatenate((2 * x[:1] - x[edge:0:-1], x[: 3 * L + 1 - edge]), axis=0).T.astype(np.float64)
    c, _ = sosfilt(sos, head, -1, zi=zi * head[None, :, :1])
    out[: 2 * L - edge] = sosfilt(sos, c[:, ::-1])[:, ::-1][:, edge: 2 * L].T
    tail = np.concatenate((x[n - (3 * L - edge):], 2 * x[-1:] - x[-2:-edge - 2:-1]), axis=0).T.astype(np.float64)
    c = sosfilt(sos, tail)[:, L:][:, ::-1]
    c, _ = sosfilt(sos, c, -1, zi=zi * c[None, :, :1])
    out[n + edge - 2 * L:] = c[:, ::-1][:, : 2 * L - edge].T
    q = _autocorrelation(sos.tobytes(), sos.shape[0])
    leads = range(x.shape[1])
    one = lambda j: _symmetric_into(x[:, j], q, out[:, j], 2 * L - edge, n + edge - 2 * L, piece)  # noqa: E731
    if n < 4 * piece or x.shape[1] < 2:
        for j in leads:
            one(j)
        return out
    # A long record: one thread per lead (numpy's FFT and array ufuncs release the GIL); each lead's values
    # are computed exactly as in the loop above, into its own column.
    with ThreadPoolExecutor(max_workers=min(x.shape[1], os.cpu_count() or 1)) as pool:
        list(pool.map(one, leads))
    return out


def _symmetric_into(x: np.ndarray, q: np.ndarray, out: np.ndarray, lo: int, hi: int, piece: int) -> None:
    """``out[i] = sum_d q[h + d] x[i + d]`` (``h = len(q) // 2``) for ``lo <= i < hi`` by FFT overlap-save.

    x, out: ``(n,)`` (views of one lead); needs ``lo >= h`` and ``hi <= n - h``. Works ``piece`` samples
    at a time in float64; blocks of ``nfft`` inputs give ``nfft - len(q) + 1`` outputs each.
    """
    k = q.size
    h = k // 2
    nfft = 1 << max(14, (4 * k - 1).bit_length())        # 4 x the kernel: 3/4 of each block is output
    m = nfft - k + 1
    qf = np.fft.rfft(q, nfft)
    piece = max(m, piece // m * m)
    buf = np.empty(piece + k - 1)
    for a in range(lo, hi, piece):
        b = min(hi, a + piece)
        nb = -(-(b - a) // m)
        buf[: b - a + k - 1] = x[a - h: b + h]
        buf[b - a + k - 1:] = 0.0
        segs = np.lib.stride_tricks.as_strided(buf, (nb, nfft), (m * buf.itemsize, buf.itemsize), writeable=False)
        spec = np.fft.rfft(segs, axis=1)
        spec *= qf
        y = np.fft.irfft(spec, nfft, axis=1)
        full = (b - a) // m
        out[a: a + full * m].reshape(full, m)[:] = y[:full, k - 1:]
        if full < nb:
            out[a + full * m: b] = y[full, k - 1: k - 1 + b - a - full * m]


@lru_cache(maxsize=16)
def _autocorrelation(sos_bytes: bytes, n_sections: int) -> np.ndarray:
    """``(2 L - 1,)`` autocorrelation of the cascade's impulse response (the zero-phase kernel), lag -(L-1) first."""
    h = _responses(sos_bytes, n_sections).h
    L = h.size
    nfft = 1 << (2 * L).bit_length()
    r = np.fft.irfft(np.abs(np.fft.rfft(h, nfft)) ** 2, nfft)
    return np.concatenate((r[nfft - L + 1:], r[:L]))


def _pole_radius(sos: np.ndarray) -> float:
    """Largest pole radius of the cascade; ``ValueError`` when on or outside the unit circle."""
    radius = max(float(np.max(np.abs(np.roots(row[3:])), initial=0.0)) for row in sos)
    if not radius < 1.0 - 1e-9:
        raise ValueError(f"IIR filter with a pole at radius {radius:.12g}: not stable, its response does not decay")
    return radius


class _Responses:
    """The cascade's impulse response ``h`` (truncated, length ``L``): the zero-phase paths' kernel."""

    def __init__(self, h: np.ndarray):
        self.h = h


@lru_cache(maxsize=64)
def _responses(sos_bytes: bytes, n_sections: int) -> _Responses:
    """The response of the float64 ``sos`` given as bytes (cached: the pipeline's filters are few).

    Its length: 1.5 times the samples it takes ``r**n`` (``r`` the largest pole radius) to fall under
    1e-17, plus 32 (room for the polynomial factor of repeated poles).
    """
    sos = np.frombuffer(sos_bytes, np.float64).reshape(n_sections, 6)
    radius = _pole_radius(sos)
    decay = 1 if radius < 1e-3 else math.ceil(math.log(1e-17) / math.log(radius))
    length = math.ceil(1.5 * decay) + 32
    nfft = 1 << (2 * length).bit_length()                 # aliasing: r ** (2 L) < 1e-45 of the response
    spec = np.prod(np.fft.rfft(sos[:, :3], nfft, axis=1) / np.fft.rfft(sos[:, 3:], nfft, axis=1), axis=0)
    return _Responses(np.fft.irfft(spec, nfft)[:length])


class _BlockModel:
    """The cascade as one state-space system ``s' = A s + b x``, ``y = c . s + d x`` (``s``: the ``2 S``
    transposed direct form II states, section by section, as ``zi``), tabulated for blocks of ``B`` samples.

    step: ``(B + 2 S, B)``: rows ``j < B`` the zero-state response to a block's sample ``j``
    (``h[i - j]``), the last rows ``c A**i`` (the response to the block's initial state).
    into: ``(B, 2 S)``: row ``j`` is ``A**(B - 1 - j) b`` (a block's inputs -> its final state).
    power: ``(B + 1, 2 S, 2 S)``: ``A**r``. scan: ``(A**(B d))^T`` for ``d = 1, 2, 4, ...`` while not nil.
    """

    def __init__(self, step: np.ndarray, into: np.ndarray, power: np.ndarray, scan: list):
        self.step, self.into, self.power, self.scan = step, into, power, scan
        self.step32 = step.astype(np.float32)          # float32 outputs: the output product in float32


@lru_cache(maxsize=64)
def _block_model(sos_bytes: bytes, n_sections: int) -> _BlockModel:
    """The block tables of the float64 ``sos`` given as bytes (cached). Powers of ``A`` are built one
    step at a time, as the recursion itself propagates a state (repeated squaring loses ~1e-10)."""
    sos = np.frombuffer(sos_bytes, np.float64).reshape(n_sections, 6)
    _pole_radius(sos)
    k, B = 2 * n_sections, _BLOCK
    a, b = np.zeros((k, k)), np.zeros(k)
    du, cu = 1.0, np.zeros(k)                          # a section's input: du * x + cu . s
    for t, (b0, b1, b2, _, a1, a2) in enumerate(sos):
        dy, cy = b0 * du, b0 * cu
        cy[2 * t] += 1.0                               # y = b0 u + z0
        a[2 * t], b[2 * t] = b1 * cu - a1 * cy, b1 * du - a1 * dy       # z0' = b1 u - a1 y + z1
        a[2 * t, 2 * t + 1] += 1.0
        a[2 * t + 1], b[2 * t + 1] = b2 * cu - a2 * cy, b2 * du - a2 * dy   # z1' = b2 u - a2 y
        du, cu = dy, cy
    power = [np.eye(k)]
    for _ in range(B):
        power.append(a @ power[-1])
    power = np.array(power)
    gain = np.einsum("j,ijk->ki", cu, power[:B])     # (k, B): c A**i
    step = np.zeros((B + k, B))
    h = np.r_[du, b @ gain[:, : B - 1]]                # h[0] = d, h[m] = c A**(m - 1) b
    for j in range(B):
        step[j, j:] = h[: B - j]
    step[B:] = gain
    scan, p, e, d = [], power[B], B, 1
    peak = max(1.0, float(np.abs(power).max()))
    while np.abs(p).max() > 1e-18 * peak:
        scan.append(p.T.copy())
        d *= 2
        while e < B * d:
            p, e = a @ p, e + 1
            peak = max(peak, float(np.abs(p).max()))
    return _BlockModel(step, (power[:B] @ b)[::-1].copy(), power, scan)


def _block_filter(x2: np.ndarray, z0: np.ndarray, m: _BlockModel, out: np.ndarray) -> np.ndarray:
    """Causal filtering of ``x2`` ``(C, n)`` into ``out`` (same shape, float32 or float64) from the
    states ``z0`` ``(C, 2 S)``; returns the final states ``(C, 2 S)``. The states are float64 throughout;
    the output product is float32 for a float32 ``out`` (an error of float32 rounding, ~1e-6 relative).

    The samples are cut into blocks of ``B``; each block's final state from its inputs alone is one
    product, the states at every block start follow by a doubling scan (``log2`` of the blocks steps,
    stopped where ``A**(B d)`` is nil), and each block's output is one product of [inputs | start state],
    taken a cache-sized slice of blocks at a time (no full-length float64 copy of the input or output).
    """
    c, n = x2.shape
    B, k = m.step.shape[1], z0.shape[1]
    nb, r = divmod(n, B)
    zf = np.empty((c, k))
    rows_e, rows_y = max(1, _ONE_THREAD // (B * k)), max(1, _ONE_THREAD // ((B + k) * B))
    single = out.dtype == np.float32                   # the states stay float64; only the output product is not
    work = np.empty((min(nb, rows_y), B + k), np.float32 if single else np.float64)
    step = m.step32 if single else m.step
    for ch in range(c):
        xb = x2[ch, : nb * B].reshape(nb, B)
        start = np.empty((nb + 1, k))
        start[0] = z0[ch]
        for i in range(0, nb, rows_e):
            j = min(nb, i + rows_e)
            np.matmul(np.asarray(xb[i:j], np.float64), m.into, out=start[1 + i: 1 + j])
        d = 1
        for p in m.scan:                               # start[i] = sum_j A**(B (i - j)) start[j]
            if d > nb:
                break
            start[d:] += start[:-d] @ p
            d *= 2
        ob = out[ch, : nb * B].reshape(nb, B)
        for i in range(0, nb, rows_y):
            j = min(nb, i + rows_y)
            w = work[: j - i]
            w[:, :B], w[:, B:] = xb[i:j], start[i:j]
            np.matmul(w, step, out=ob[i:j])
        s, tail = start[nb], np.asarray(x2[ch, nb * B:], np.float64)
        out[ch, nb * B:] = s @ m.step[B:, :r] + tail @ m.step[:r, :r]
        zf[ch] = s @ m.power[r].T + tail @ m.into[B - r:]
    return zf


def _causal_conv(x2: np.ndarray, h: np.ndarray) -> np.ndarray:
    """``y[:, i] = sum_k h[k] x2[:, i - k]`` for ``i < n`` (x2: ``(C, n)`` float64), FFT overlap-add."""
    c, n = x2.shape
    h = h[:n]                                          # y[:, i] uses h[: i + 1] only
    L = h.size
    if n * L <= _DIRECT or c == 0:
        return np.stack([np.convolve(row, h)[:n] for row in x2]) if c else np.zeros((0, n))
    nfft = min(1 << max(14, (4 * L - 1).bit_length()), 1 << (n + L - 1).bit_length())
    m = nfft - L + 1                                   # new samples per block
    hf = np.fft.rfft(h, nfft)
    nfull, rest = divmod(n, m)
    y = np.empty((c, n))
    per = max(1, _BATCH // nfft)
    carry = np.zeros((c, L - 1))
    b0 = 0
    while b0 < nfull + (rest > 0):
        b1 = min(nfull, b0 + per)
        if b1 > b0:
            blocks = x2[:, b0 * m: b1 * m].reshape(c, b1 - b0, m)
        else:                                          # the last, partial block
            b1 = b0 + 1
            blocks = np.zeros((c, 1, m))
            blocks[:, 0, :rest] = x2[:, b0 * m:]
        spec = np.fft.rfft(blocks, nfft, axis=2)
        spec *= hf
        out = np.fft.irfft(spec, nfft, axis=2)         # (c, blocks, nfft)
        out[:, 1:, : L - 1] += out[:, :-1, m:]
        out[:, 0, : L - 1] += carry
        carry = out[:, -1, m:]
        if b1 * m <= n:
            y[:, b0 * m: b1 * m].reshape(c, b1 - b0, m)[:] = out[:, :, :m]
        else:
            y[:, b0 * m:] = out[:, 0, : n - b0 * m]
        b0 = b1
    return y


