"""R-peak (QRS) detection for one- or multi-lead ECG at any sampling rate (100-2000 Hz).

Design (offline, non-causal, vectorised numpy; no scipy, no torch):

1. The record is cut into chunks of ``chunk_s`` seconds with ``overlap_s`` seconds of context on
   each side, so time is linear in length and memory is bounded by the chunk, not the record.
2. Each lead is screened for unusable stretches (NaN/inf, or flat for ``flat_s`` or longer);
   those samples are interpolated over and no beat is placed inside them.
3. Detection feature: band-pass (Butterworth ``band_hz``, float32, started in steady state) ->
   derivative -> square -> moving sum over ``integrate_s``: a Pan-Tompkins energy envelope of the
   primary lead.  Where the primary lead is unusable, another lead's envelope (rescaled) stands in.
   (A plain sum of both leads' envelopes was measured worse on MIT-BIH: lead 1 is often V1.)
4. Candidates are local maxima of the envelope above ``threshold`` x a robust local QRS level
   (median of 1-s block maxima over ``level_window_s``) and ``noise_factor`` x a local noise floor
   (median height of all local maxima per block).  Candidates closer than the refractory period
   compete (largest wins); a small candidate soon after a beat is a T wave unless the interval it
   splits is long (a premature beat is followed by a pause); a weak detection splitting a normal RR
   interval is dropped; RR gaps longer than ``searchback_rr`` x the local RR are searched again.
5. A weak detection that the second lead does not show at all is dropped (``lead2_*``). Where the
   selection's noise index (noise floor over QRS level) says a 1-s block is noisy, the beats there
   are chosen again by a two-lead matched filter and a rhythm prior (:mod:`ecgdl.qrs_noise`).
6. Each detection is moved to the R peak on the primary lead by :func:`refine_peaks` (extremum
   of the lightly smoothed signal, positive unless the negative deflection dominates), the
   same rule used to align reference annotations.

Example:
    >>> res = detect_r_peaks(record.signal, record.fs)
    >>> rr_s = np.diff(res.peaks) / res.fs
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from ecgdl import iir

from ecgdl.qrs_config import DEFAULT_CONFIG, QRSConfig
from ecgdl.qrs_noise import redetect_noisy
from ecgdl.qrs_refine import refine_peaks
from ecgdl.qrs_select import block_level, second_lead_veto, select_beats, sorted_unique
from ecgdl.quality import SegmentQuality, concat_quality, segment_quality, undetected_gaps
from ecgdl.vf import vf_stretches

__all__ = ["QRSConfig", "QRSResult", "detect_r_peaks", "is_standard_lead", "refine_peaks"]

#: chunks (of chunk_s) in which the QRS contrast is computed, spread evenly over a long record
#: (every chunk of a record under 2 x PRESENCE_CHUNKS chunks, 110 min at 600-s chunks; 24 h: 6 x 10 min)
PRESENCE_CHUNKS = 6

_STANDARD_LEAD = re.compile(r"^(ML|LEAD ?)?(I{1,3}|AV[RLF]|V[1-6]|ML2)$")


def is_standard_lead(name: str) -> bool:
    """True for a standard lead name (MLII, II, V5, aVF, ...): a lead whose view is known.

    Leads of an unknown recorder (ECG1, ECG, lead1) are not: for those the caller passes
    ``choose_lead=True`` to :func:`detect_r_peaks`.

    >>> [is_standard_lead(n) for n in ("MLII", "V5", "ECG1", "lead1")]
    [True, True, False, False]
    """
    return bool(_STANDARD_LEAD.match(name.strip().upper()))


@dataclass(frozen=True)
class QRSResult:
    """Detected R peaks.

    Attributes:
        peaks: (n_beats,) int64 R-peak sample indices at ``fs``, sorted, unique.
        fs: sampling rate in Hz.
        unusable: [start, stop) sample ranges where every lead was flat, NaN or unreadable.
        vf: [start, stop) ranges of ventricular flutter/fibrillation (:mod:`ecgdl.vf`); no beat
            is placed inside them.
        undetected: (beat before, beat after) of each RR gap longer than ``quality.gap_s``
            where the signal shows QRS activity but no beat was found: not a pause.
        quality: per-segment quality index and unreadable stretches (:mod:`ecgdl.quality`).
    """

    peaks: np.ndarray
    fs: float
    unusable: tuple[tuple[int, int], ...]
    vf: tuple[tuple[int, int], ...] = ()
    undetected: tuple[tuple[int, int], ...] = ()
    quality: SegmentQuality | None = None


# ----------------------------------------------------------------------------- public API


def detect_r_peaks(signal: np.ndarray, fs: float, cfg: QRSConfig = DEFAULT_CONFIG, *,
                   chunk_s: float = 600.0, choose_lead: bool = False) -> QRSResult:
    """Detect R peaks in a raw ECG.

    Args:
        signal: (n_samples,) or (n_samples, n_leads) float, mV, raw (filtered here).
            Column 0 is the primary lead (MLII); peaks are placed on it.
        fs: sampling rate in Hz (100-2000).
        cfg: detector parameters (:class:`ecgdl.qrs_config.QRSConfig`; the defaults are the tuned ones).
        chunk_s: length of the chunks processed at a time, seconds (memory bound).
        choose_lead: for a recorder whose leads are not named (no MLII): per chunk, detect with
            each of the first two leads as primary and keep the one whose beats look most alike
            and most regular (:func:`_chunk_score`). Costs a second detection pass.

    Returns:
        QRSResult with sorted unique int64 peak indices and the unusable stretches.

    Example:
        >>> res = detect_r_peaks(np.zeros(3600), 360.0)
        >>> res.peaks.size, res.unusable
        (0, ((0, 3600),))
    """
    x = np.asarray(signal)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"signal must be (n,) or (n, n_leads), got shape {x.shape}")
    if not 50.0 <= fs <= 5000.0:
        raise ValueError(f"fs={fs} Hz is outside the supported range")
    n = x.shape[0]
    core = max(int(round(chunk_s * fs)), int(round(10 * cfg.overlap_s * fs)))
    pad = int(round(cfg.overlap_s * fs))
    peaks: list[np.ndarray] = []
    unusable: list[tuple[int, int]] = []
    vf: list[tuple[int, int]] = []
    quality: list[SegmentQuality] = []
    work: dict = {}                              # scratch buffers shared by the chunks
    judge = max(1, -(-n // core) // PRESENCE_CHUNKS)   # QRS contrast in every judge-th chunk only
    for k, a in enumerate(range(0, n, core)):
        b = min(a + core, n)
        a0, b0 = max(0, a - pad), min(n, b + pad)
        c = k % judge == 0
        p, bad, fib, q = _core(_detect_chunk(x[a0:b0], fs, cfg, work), a0, a, b, fs, cfg, c)
        if choose_lead and x.shape[1] > 1:
            order = [1, 0] + list(range(2, x.shape[1]))
            alt = _core(_detect_chunk(x[a0:b0, order], fs, cfg, work), a0, a, b, fs, cfg, c)
            if _chunk_score(alt[3], alt[0], fs) > _chunk_score(q, p, fs):
                p, bad, fib, q = alt
        peaks.append(p)
        unusable.extend(_clip_ranges(bad, a0, a, b))
        vf.extend(_clip_ranges(fib, a0, a, b))
        quality.append(q)
    out = np.concatenate(peaks) if peaks else np.zeros(0, np.int64)
    out = sorted_unique(out.astype(np.int64))
    if out.size > 1:
        out = out[np.concatenate(([True], np.diff(out) > cfg.refractory_s * fs / 2))]
    vf_r = _merge_ranges(vf)
    gaps = undetected_gaps(x, fs, out, cfg.quality)
    gaps = tuple(g for g in gaps if not any(g[0] < e and s < g[1] for s, e in vf_r))
    return QRSResult(peaks=out, fs=float(fs), unusable=_merge_ranges(unusable), vf=vf_r,
                     undetected=gaps, quality=concat_quality(quality))


def _core(found, a0: int, a: int, b: int, fs: float, cfg: QRSConfig, contrast: bool = True):
    """A chunk's result restricted to its core [a, b): peaks (absolute), ranges, VF, quality
    (with the QRS contrast and R-wave width of :mod:`ecgdl.ecg_presence` when ``contrast``)."""
    p, bad, lead0, fib, env = found
    p = p + a0
    p = p[(p >= a) & (p < b)]
    if env is not None and contrast:             # the detector's envelope, read at the core's samples
        f, off, q = env
        st = max(1, int(fs // 120))
        i = np.clip((a - a0 + np.arange(0, b - a, st)) // q - off, 0, f.size - 1)
        env = f[i]
    return p, bad, fib, segment_quality(lead0[a - a0: b - a0], fs, p - a, cfg.quality, offset=a,
                                        energy=env, contrast=contrast)


def _chunk_score(q: SegmentQuality, p: np.ndarray, fs: float) -> float:
    """Lead choice: mean template correlation of the segments, less half the share of irregular RR
    (> 25 % off the median). Symmetric in the leads; measured on MIT-BIH with the leads swapped."""
    ok = np.isfinite(q.index)
    if not ok.any() or p.size < 3:
        return -np.inf
    rr = np.diff(p)
    med = np.median(rr)
    return float(q.index[ok].mean() - 0.5 * np.mean(np.abs(rr - med) > 0.25 * med))


# ----------------------------------------------------------------------------- internals


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[start, stop) of the True runs of a 1-D bool array."""
    d = np.diff(np.concatenate(([0], mask.view(np.int8), [0])))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def _bad_mask(x: np.ndarray, fs: float, cfg: QRSConfig) -> np.ndarray | None:
    """(n,) bool, True where a lead is NaN/inf or flat for >= flat_s; None when all good."""
    blk = max(2, int(cfg.flat_s * fs / 2))          # any flat run >= flat_s covers a whole block
    nb = x.size // blk
    maybe_flat = False
    nonfinite = not np.isfinite(x[nb * blk:].sum())
    if nb:                                          # block extremes: NaN or inf show in them (no third pass)
        b = x[: nb * blk].reshape(nb, blk)
        hi, lo = b.max(axis=1), b.min(axis=1)
        nonfinite = nonfinite or not (np.isfinite(hi).all() and np.isfinite(lo).all())
        maybe_flat = bool(((hi - lo) <= cfg.flat_tol_mv).any())
    if not (nonfinite or maybe_flat):
        return None
    bad = ~np.isfinite(x)
    flat = np.abs(np.diff(x)) <= cfg.flat_tol_mv
    s, e = _runs(flat)
    long = (e - s) >= cfg.flat_s * fs - 1
    if long.any():
        d = np.zeros(x.size + 1, np.int32)
        np.add.at(d, s[long], 1)
        np.add.at(d, e[long] + 1, -1)
        bad |= np.cumsum(d[:-1]) > 0
    return bad if bad.any() else None


def _fill(x: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """Linear interpolation across bad samples (zeros when nothing is good)."""
    good = np.flatnonzero(~bad)
    out = x.copy()
    if good.size == 0:
        out[:] = 0.0
        return out
    bi = np.flatnonzero(bad)
    out[bi] = np.interp(bi, good, x[good])
    return out


def _clip_ranges(bad: list[tuple[int, int]], off: int, a: int, b: int) -> list[tuple[int, int]]:
    """Shift chunk-relative ranges by off and clip them to the chunk core [a, b)."""
    out = []
    for s, e in bad:
        s, e = max(s + off, a), min(e + off, b)
        if e > s:
            out.append((s, e))
    return out


def _merge_ranges(r: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Sort and merge touching or overlapping [start, stop) ranges."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(r):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], int(max(out[-1][1], e)))
        else:
            out.append((int(s), int(e)))
    return tuple(out)


def _detect_chunk(x: np.ndarray, fs: float, cfg: QRSConfig, work: dict):
    """Peaks (chunk-relative, native fs), all-leads-unusable ranges, the (filled) primary lead, the
    VF/VFL ranges of one (m, n_leads) chunk and its energy envelope ``(f, off, q)`` (f[i] describes
    sample (i + off) x q; None when no lead is alive). No peak is placed inside a VF/VFL range.

    work: scratch buffers reused from chunk to chunk (fresh large arrays cost page faults).
    """
    leads, bads = [], []
    for j in range(x.shape[1]):                 # other leads matter only where lead 0 is unusable
        v = _scratch(work, ("x", j), x.shape[0], np.float32)
        v[:] = x[:, j]
        bad = _bad_mask(v, fs, cfg)
        leads.append(v if bad is None else _fill(v, bad))
        bads.append(bad)
        if bads[0] is None:
            break
    all_bad = None if any(b is None for b in bads) else np.logical_and.reduce(bads)
    ranges = [] if all_bad is None else list(zip(*map(list, _runs(all_bad))))
    q = max(1, int(fs // cfg.internal_fs))
    fd = fs / q
    feats = [_feature(v, bad, q, fd, cfg, work, j) for j, (v, bad) in enumerate(zip(leads, bads))]
    feat, off = _combine(feats, fd, cfg)
    if feat is None:
        return np.zeros(0, np.int64), ranges, leads[0], [], None
    pk, hk, ratio = select_beats(feat, fd, cfg)
    pk = (pk + off) * q + (q - 1) // 2
    if x.shape[1] > 1 and bads[0] is None:       # second-lead check (lead 0 fully usable here)
        keep = second_lead_veto(x[:, 1], fs, pk, hk, cfg)
        pk = pk[keep]
    pk = refine_peaks(leads[0], fs, pk, cfg.refine_radius_s, cfg=cfg)
    pk_energy = pk                               # VF suspicion reads the energy detector's beats
    if cfg.noise.enabled and ratio.size > 2 and ratio[1:-1].max() > cfg.noise.noisy_ratio:
        pk = _redetect_noisy(x, leads, bads, fs, pk, ratio, off, q, cfg, work)
    if bads[0] is not None and len(leads) > 1 and pk.size:
        lost = bads[0][pk]                       # placed from another lead: refine on that lead
        pk[lost] = refine_peaks(leads[1], fs, pk[lost], cfg.refine_radius_s, cfg=cfg)
    if all_bad is not None and pk.size:
        pk = pk[~all_bad[pk]]
        pk_energy = pk_energy[~all_bad[pk_energy]]
    fib = _vf_where_suspect(_vf_leads(leads, x), fs, pk_energy, cfg) if cfg.vf.enabled else []
    for s, e in fib:
        pk = pk[(pk < s) | (pk >= e)]
    return pk, ranges, leads[0], fib, (feat, off, q)


def _redetect_noisy(x: np.ndarray, leads: list, bads: list, fs: float, pk: np.ndarray, ratio: np.ndarray,
                    off: int, q: int, cfg: QRSConfig, work: dict) -> np.ndarray:
    """Beats in the chunk's noisy 1-s blocks chosen again by :func:`ecgdl.qrs_noise.redetect_noisy`
    (work: the chunk's scratch buffers; another lead is copied there, contiguous, as lead 0 is)."""
    nc = cfg.noise
    n = x.shape[0]
    bsz = max(1, int(round(cfg.level_block_s * fs / q)))
    grow = int(round(nc.dilate_s / cfg.level_block_s))
    noisy_b = ratio > nc.noisy_ratio
    noisy_b[[0, -1]] = False                     # a chunk's first and last block: filter start, partial block
    noisy_b = np.convolve(noisy_b, np.ones(2 * grow + 1), mode="same") > 0 if grow else noisy_b
    use = [leads[0]]
    for j in range(1, min(nc.leads, x.shape[1])):
        if j < len(leads):
            v = leads[j]
        else:
            v = _scratch(work, ("x", j), n, np.float32)
            v[:] = x[:, j]
        bad = bads[j] if j < len(bads) else _bad_mask(v, fs, cfg)
        use.append(v if bad is None else _fill(v, bad))
    found = redetect_noisy(use, fs, pk, _per_sample(noisy_b, n, bsz, off, q),
                           _per_sample(ratio < nc.clean_ratio, n, bsz, off, q), cfg.refractory_s, nc)
    if found is pk:
        return pk
    at = np.minimum(np.searchsorted(pk, found), max(pk.size - 1, 0))    # both sorted: np.isin by search
    new = ~(pk[at] == found) if pk.size else np.ones(found.size, bool)  # the energy detector's beats are refined already
    found[new] = refine_peaks(leads[0], fs, found[new], cfg.refine_radius_s, cfg=cfg)
    found = sorted_unique(found)
    return found[np.concatenate(([True], np.diff(found) > cfg.refractory_s * fs / 2))] if found.size else found


def _per_sample(flags: np.ndarray, n: int, bsz: int, off: int, q: int) -> np.ndarray:
    """(n,) bool: each native sample's block flag (block k covers envelope samples [k, k + 1) x bsz,
    envelope sample i describes native sample (i + off) x q); the end blocks extend to the edges."""
    per = np.repeat(flags, bsz * q)
    head = np.full(off * q, flags[0]) if off > 0 else np.zeros(0, bool)
    per = np.concatenate((head, per))[:n]
    return np.concatenate((per, np.full(n - per.size, flags[-1]))) if per.size < n else per


def _vf_where_suspect(leads: list[np.ndarray], fs: float, pk: np.ndarray, cfg: QRSConfig) -> list:
    """VF/VFL stretches, looked for only where the beats found are suspect (cost follows them).

    Suspect: a 10-s segment with an RR gap > 1.5 s or 25 beats or more (>= 150 bpm); each suspect
    run is analysed with 20 s of context on each side. (Irregular RR as a third trigger cost 15 % of
    the detector's time on 24 h, mostly in atrial fibrillation, and found no more VF on MIT-BIH.)
    """
    n = leads[0].size
    seg = int(10 * fs)
    ns = -(-n // seg)
    sus = np.zeros(ns, bool)
    if pk.size < 3:
        sus[:] = True
    else:
        rr = np.diff(pk)
        k = pk[1:] // seg
        sus[k[rr > 1.5 * fs]] = True
        sus[(pk[:-1] // seg)[rr > 1.5 * fs]] = True
        sus |= np.bincount(pk // seg, minlength=ns)[:ns] >= 25
        sus[: pk[0] // seg + 1] |= pk[0] > 1.5 * fs
        sus[pk[-1] // seg:] |= n - pk[-1] > 1.5 * fs
    out = []
    d = np.diff(np.concatenate(([0], sus.view(np.int8), [0])))
    spans = [(max(0, i * seg - 2 * seg), min(n, j * seg + 2 * seg))
             for i, j in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1))]
    for a, b in _merge_ranges(spans):
        out.extend((s + a, e + a) for s, e in vf_stretches([v[a:b] for v in leads], fs, cfg.vf))
    return out


def _vf_leads(leads: list[np.ndarray], x: np.ndarray) -> list[np.ndarray]:
    """Leads for VF analysis: the filled ones, then views of the other raw leads (NaN read as 0 there)."""
    return list(leads) + [x[:, j] for j in range(len(leads), x.shape[1])]


def _feature(v: np.ndarray, bad: np.ndarray | None, q: int, fd: float, cfg: QRSConfig,
             work: dict, lead: int):
    """Energy envelope of one lead at fd and its offset: f[i] describes sample (i + off) * q.

    Also returns the (dilated) unusable mask in f's coordinates, or None.
    Returns (None, 0, None) for a dead lead.
    """
    if bad is not None and bad.mean() > 0.99:
        return None, 0, None
    m = v.size // q
    if q > 1:
        v = v[: m * q].reshape(m, q).mean(axis=1)
    sos, zi, delay = _bandpass(fd, cfg.band_hz)
    w = max(1, int(round(cfg.integrate_s * fd)))
    if m <= w + 2:
        return None, 0, None
    bp, _ = iir.sosfilt(sos, v, zi=zi * v[0])   # float32, started in steady state: no transient
    if cfg.derivative:
        bp = np.subtract(bp[1:], bp[:-1], out=_scratch(work, ("d", lead), bp.size - 1, np.float32))
    np.multiply(bp, bp, out=bp)
    f = _window_sum(bp, w, _scratch(work, ("f", lead), bp.size - w))   # f[i] = sum of e[i+1 .. i+w]
    off = int(np.clip((w + 1) // 2 + (1 if cfg.derivative else 0) - delay, 0, w))
    if bad is not None:
        bd = bad[: m * q].reshape(m, q).any(axis=1) if q > 1 else bad[:m]
        bd = _dilate(bd, int(round(0.1 * fd)))
        bd = bd[off: off + f.size]
        f[bd] = 0.0
        return f, off, bd
    return f, off, None


def _window_sum(e: np.ndarray, w: int, out: np.ndarray) -> np.ndarray:
    """out[i] = sum of e[i + 1 .. i + w] (out: float64, e.size - w), by doubling: partial sums of
    1, 2, 4 ... samples (float32, all terms >= 0: no cancellation) added by w's binary digits; a few
    vector adds instead of a cumulative sum (numpy's is sequential: 0.75 ms a 10-min lead)."""
    n = e.size - w
    part, k, off, first = e[1:], 1, 0, True           # part[j] = sum of e[1 + j .. j + k]
    while True:
        if w & k:
            if first:
                out[:] = part[off: off + n]
                first = False
            else:
                out += part[off: off + n]
            off += k
        if 2 * k > w:
            return out
        part = part[:-k] + part[k:]
        k *= 2


def _scratch(work: dict, key: tuple, n: int, dtype=np.float64) -> np.ndarray:
    """A view of length n on a buffer kept in work (grown when too small)."""
    buf = work.get(key)
    if buf is None or buf.size < n:
        buf = work[key] = np.empty(n, dtype)
    return buf[:n]


def _dilate(mask: np.ndarray, grow: int) -> np.ndarray:
    """Grow the True runs of a 1-D bool array by ``grow`` samples on each side."""
    s, e = _runs(mask)
    d = np.zeros(mask.size + 1, np.int32)
    np.add.at(d, np.maximum(s - grow, 0), 1)
    np.add.at(d, np.minimum(e + grow, mask.size), -1)
    return np.cumsum(d[:-1]) > 0


_BP_CACHE: dict = {}


def _bandpass(fd: float, band: tuple[float, float]):
    """Butterworth band-pass at fd (float32 sos, steady-state zi) and its group delay in samples."""
    key = (round(fd, 6), band)
    if key not in _BP_CACHE:
        sos = iir.butter(2, band, btype="bandpass", fs=fd, output="sos")
        b, a = iir.sos2tf(sos)
        f0 = float(np.sqrt(band[0] * band[1]))
        _, gd = iir.group_delay((b, a), w=[f0], fs=fd)
        zi = iir.sosfilt_zi(sos).astype(np.float32)
        _BP_CACHE[key] = (sos.astype(np.float32), zi, int(round(float(gd[0]) + 0.5)))
    return _BP_CACHE[key]


def _combine(feats: list, fd: float, cfg: QRSConfig):
    """Primary-lead envelope, patched with another lead's (rescaled) where the primary is unusable.

    A plain sum of leads was measured worse on MIT-BIH (lead 1 is often V1, noisier), so the other
    leads serve as a fallback only.  Returns (feature, offset), or (None, 0) when no lead is alive.
    """
    alive = [k for k, (f, _, _) in enumerate(feats) if f is not None]
    if not alive:
        return None, 0
    f0, off, bad0 = feats[alive[0]]
    if bad0 is None or len(alive) < 2:
        return f0, off
    s0 = _level_scale(f0, bad0, fd, cfg)
    for k in alive[1:]:
        fk, _, badk = feats[k]
        patch = bad0 if badk is None else bad0 & ~badk
        sk = _level_scale(fk, badk, fd, cfg)
        if patch.any() and sk > 0:
            f0[patch] = fk[patch] * ((s0 if s0 > 0 else sk) / sk)
            bad0 = bad0 & ~patch
    return f0, off


def _level_scale(f: np.ndarray, bad: np.ndarray | None, fd: float, cfg: QRSConfig) -> float:
    """Median QRS level (1-s block maxima) of an envelope over its usable part."""
    lvl, bsz = block_level(f, fd, cfg)
    if bad is not None:
        nb = lvl.size
        okb = ~np.pad(bad, (0, nb * bsz - bad.size))[: nb * bsz].reshape(nb, bsz).any(axis=1)
        lvl = lvl[okb]
    return float(np.median(lvl)) if lvl.size else 0.0
