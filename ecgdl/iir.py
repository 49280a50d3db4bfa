"""IIR filter design in numpy: Butterworth (as second-order sections), notch, steady-state zi, group delay.

The scoring path must not import ``scipy.signal`` (about 1 s of start-up: it pulls scipy.stats,
scipy.interpolate and scipy.optimize), so the few designs it uses are written here, step for step as
``scipy.signal`` computes them (analog prototype -> frequency transform -> bilinear transform ->
``zpk2sos`` with 'nearest' pairing), and equal to its coefficients to about 1e-13
(``tests/test_iir.py`` compares them at 128/250/360/500 Hz). The filtering itself is
:mod:`ecgdl.iir_filter`; both are re-exported here, so call sites read like scipy's:

>>> from ecgdl import iir
>>> sos = iir.butter(2, (0.5, 40.0), btype="bandpass", fs=360.0, output="sos")
>>> sos.shape
(2, 6)
"""

from __future__ import annotations

import math

import numpy as np

from ecgdl.iir_filter import filtfilt, lfilter_zi, sosfilt, sosfilt_zi, sosfiltfilt, sosfiltfilt_into

__all__ = ["butter", "filtfilt", "group_delay", "iirnotch", "lfilter_zi", "sos2tf", "sosfilt", "sosfilt_zi",
           "sosfiltfilt", "sosfiltfilt_into"]

_BTYPES = {"low": "lowpass", "lowpass": "lowpass", "high": "highpass", "highpass": "highpass",
           "band": "bandpass", "bandpass": "bandpass", "bp": "bandpass", "lp": "lowpass", "hp": "highpass"}


def butter(order: int, wn, btype: str = "low", *, fs: float | None = None, output: str = "sos") -> np.ndarray:
    """Digital Butterworth low/high/band-pass as ``(n_sections, 6)`` sos (scipy.signal.butter's values).

    wn: cut-off(s) in Hz when ``fs`` is given, else as a fraction of Nyquist; ``(lo, hi)`` for a band-pass.
    Only ``output="sos"`` (the form that stays accurate at low cut-offs).
    """
    if output != "sos":
        raise ValueError(f"ecgdl.iir.butter gives output='sos' only, not {output!r}")
    kind = _BTYPES.get(btype.lower())
    if kind is None:
        raise ValueError(f"unknown btype {btype!r}: low, high or bandpass")
    if int(order) != order or order < 1:
        raise ValueError(f"filter order must be a positive integer, got {order!r}")
    w = np.atleast_1d(np.asarray(wn, dtype=np.float64))
    if fs is not None:
        w = w / (fs / 2)
    if np.any(w <= 0) or np.any(w >= 1):
        raise ValueError(f"digital filter critical frequencies must be 0 < wn < fs/2 (wn={wn}, fs={fs})")
    if (kind == "bandpass") != (w.size == 2) or w.size > 2 or (w.size == 2 and not w[0] < w[1]):
        raise ValueError(f"{kind} needs {'(low, high) with low < high' if kind == 'bandpass' else 'one cut-off'}")
    m = np.arange(-order + 1, order, 2, dtype=np.float64)
    z, p, k = np.zeros(0, complex), -np.exp(1j * np.pi * m / (2 * order)), 1.0     # analog prototype
    warped = 4.0 * np.tan(np.pi * w / 2.0)                                          # pre-warp (fs = 2)
    if kind == "lowpass":
        z, p, k = warped[0] * z, warped[0] * p, k * warped[0] ** p.size
    elif kind == "highpass":
        z, p, k = _lp2hp(z, p, k, float(warped[0]))
    else:
        z, p, k = _lp2bp(z, p, k, float(np.sqrt(warped[0] * warped[1])), float(warped[1] - warped[0]))
    return zpk2sos(*_bilinear(z, p, k, 2.0))


def _lp2hp(z, p, k, wo: float):
    """Low-pass prototype -> high-pass at ``wo`` (rad/s)."""
    degree = p.size - z.size
    k = k * np.real(np.prod(-z) / np.prod(-p))
    return np.concatenate((wo / z, np.zeros(degree))), wo / p, k


def _lp2bp(z, p, k, wo: float, bw: float):
    """Low-pass prototype -> band-pass centred at ``wo`` with bandwidth ``bw`` (rad/s)."""
    degree = p.size - z.size
    z_lp, p_lp = (z * bw / 2).astype(complex), (p * bw / 2).astype(complex)
    z_bp = np.concatenate((z_lp + np.sqrt(z_lp**2 - wo**2), z_lp - np.sqrt(z_lp**2 - wo**2), np.zeros(degree)))
    p_bp = np.concatenate((p_lp + np.sqrt(p_lp**2 - wo**2), p_lp - np.sqrt(p_lp**2 - wo**2)))
    return z_bp, p_bp, k * bw**degree


def _bilinear(z, p, k, fs: float):
    """Analog zpk -> digital zpk by the bilinear transform at ``fs``."""
    degree = p.size - z.size
    fs2 = 2.0 * fs
    k = k * np.real(np.prod(fs2 - z) / np.prod(fs2 - p))
    return np.concatenate(((fs2 + z) / (fs2 - z), -np.ones(degree))), (fs2 + p) / (fs2 - p), k


def _poly(roots) -> np.ndarray:
    """Monic polynomial with these roots (real when they come in conjugate pairs), as scipy's ``poly``."""
    roots = np.atleast_1d(np.asarray(roots))
    if roots.size == 0:
        return np.ones(1)
    a = np.ones(1, dtype=roots.dtype)
    for r in roots:
        a = np.convolve(a, np.array([1, -r], dtype=roots.dtype))
    if np.iscomplexobj(a):
        im = np.imag(roots.astype(complex))
        if np.all(np.sort(im) == np.sort(-im)):
            a = np.real(a).copy()
    return a


def _section(z, p) -> np.ndarray:
    """One second-order section (gain 1) from up to two zeros and two poles."""
    sos = np.zeros(6)
    b, a = _poly(np.asarray(z, complex) if len(z) else np.zeros(0)), _poly(np.asarray(p, complex))
    sos[3 - b.size:3] = np.real(b)
    sos[6 - a.size:6] = np.real(a)
    return sos


def _cplxreal(z: np.ndarray, tol: float = 100 * np.finfo(float).eps):
    """(one of each conjugate pair, positive imaginary part, sorted), (the real ones, sorted)."""
    z = z[np.lexsort((abs(z.imag), z.real))]
    real = abs(z.imag) <= tol * abs(z)
    zr, zc = z[real].real, z[~real]
    if zc.size == 0:
        return np.zeros(0, complex), zr
    zp, zn = zc[zc.imag > 0], zc[zc.imag < 0]
    if zp.size != zn.size or np.any(abs(zp - zn.conj()) > tol * abs(zn)):
        raise ValueError("complex roots without matching conjugates")
    return (zp + zn.conj()) / 2, zr


def _nearest(fro: np.ndarray, to: complex, which: str) -> int:
    """Index in ``fro`` of the element nearest ``to``: any, or only a real / complex one."""
    order = np.argsort(np.abs(fro - to))
    if which == "any":
        return int(order[0])
    mask = np.isreal(fro[order])
    return int(order[np.nonzero(mask if which == "real" else ~mask)[0][0]])


def zpk2sos(z, p, k: float) -> np.ndarray:
    """Digital zpk -> sos, 'nearest' pairing, sections closest to the unit circle last (scipy's order)."""
    z, p = np.asarray(z, complex), np.asarray(p, complex)
    p = np.concatenate((p, np.zeros(max(z.size - p.size, 0))))
    z = np.concatenate((z, np.zeros(max(p.size - z.size, 0))))
    n_sections = (p.size + 1) // 2
    if p.size % 2 == 1:
        p, z = np.append(p, 0.0), np.append(z, 0.0)
    z, p = np.concatenate(_cplxreal(z)), np.concatenate(_cplxreal(p))
    sos = np.zeros((n_sections, 6))
    for si in range(n_sections - 1, -1, -1):
        i = int(np.argmin(np.abs(1 - np.abs(p))))
        p1, p = p[i], np.delete(p, i)
        if np.isreal(p1) and np.isreal(p).sum() == 0:          # the last real pole
            j = _nearest(z, p1, "real")
            sos[si], z = _section([z[j], 0], [p1, 0]), np.delete(z, j)
            continue
        if len(p) + 1 == len(z) and not np.isreal(p1) and np.isreal(p).sum() == 1 and np.isreal(z).sum() == 1:
            j = _nearest(z, p1, "complex")                       # must pair with a complex zero
            sos[si], z = _section([z[j], z[j].conj()], [p1, p1.conj()]), np.delete(z, j)
            continue
        if np.isreal(p1):
            real = np.flatnonzero(np.isreal(p))
            i2 = int(real[np.argmin(np.abs(1 - np.abs(p[real])))])
            p2, p = p[i2], np.delete(p, i2)
        else:
            p2 = p1.conj()
        sos[si], z = _pair_zeros(z, p1, p2)
    sos[0, :3] *= k
    return sos


def _pair_zeros(z: np.ndarray, p1: complex, p2: complex):
    """The section of poles (p1, p2) with the zero(s) nearest p1, and the zeros left."""
    if z.size == 0:
        return _section([], [p1, p2]), z
    j = _nearest(z, p1, "any")
    z1, z = z[j], np.delete(z, j)
    if not np.isreal(z1):
        return _section([z1, z1.conj()], [p1, p2]), z
    if z.size == 0:
        return _section([z1], [p1, p2]), z
    j = _nearest(z, p1, "real")
    z2, z = z[j], np.delete(z, j)
    return _section([z1, z2], [p1, p2]), z


def iirnotch(w0: float, quality: float, fs: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Second-order notch at ``w0`` (Hz at ``fs``) with quality factor ``quality``: ``(b, a)``."""
    w = 2 * float(w0) / fs
    if not 0.0 < w < 1.0:
        raise ValueError(f"notch frequency must be within (0, fs/2): w0={w0}, fs={fs}")
    beta = math.tan(w / float(quality) * math.pi / 2.0)
    gain = 1.0 / (1.0 + beta)
    b = gain * np.array([1.0, -2.0 * math.cos(w * math.pi), 1.0])
    return b, np.array([1.0, -2.0 * gain * math.cos(w * math.pi), 2.0 * gain - 1.0])


def sos2tf(sos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Second-order sections -> one transfer function ``(b, a)``."""
    b, a = np.ones(1), np.ones(1)
    for row in np.asarray(sos, np.float64):
        b, a = np.convolve(b, row[:3]), np.convolve(a, row[3:])
    return b, a


def group_delay(system: tuple, w, fs: float = 2 * np.pi) -> tuple[np.ndarray, np.ndarray]:
    """Group delay (samples) of ``system = (b, a)`` at frequencies ``w`` (Hz at ``fs``): ``(w, gd)``."""
    b, a = map(np.atleast_1d, system)
    w = np.atleast_1d(np.asarray(w, float))
    c = np.convolve(b, np.conjugate(a[::-1]))
    z = np.exp(-1j * 2 * np.pi * w / fs)
    gd = np.real(np.polyval((c * np.arange(c.size))[::-1], z) / np.polyval(c[::-1], z)) - a.size + 1
    return w, np.where(np.isfinite(gd), gd, 0.0)
