"""The R-peak detector's parameters (:class:`QRSConfig`), shared by :mod:`ecgdl.qrs` and
:mod:`ecgdl.qrs_select`; the resolved config goes into each score summary (``"qrs"``)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


__all__ = ["DEFAULT_CONFIG", "DEFAULT_QUALITY", "DEFAULT_VF", "NoiseConfig", "QRSConfig", "QualityConfig",
           "VFConfig"]


@dataclass(frozen=True)
class VFConfig:
    """VF/VFL recognition parameters; durations in seconds, frequencies in Hz."""

    analysis_fs: float = 50.0        # the lead is block-averaged down to about this rate
    band_hz: tuple[float, float] = (1.0, 15.0)
    window_s: float = 4.0
    step_s: float = 1.0
    f_lo: float = 2.0                # the dominant frequency is searched in [f_lo, f_hi]
    f_hi: float = 9.0
    peak_hz: float = 0.75            # concentration: power within +-peak_hz of the dominant frequency
    min_concentration: float = 0.40
    max_kurtosis: float = 3.0
    loose_concentration: float = 0.35   # a run of loose windows ...
    loose_kurtosis: float = 5.0
    min_core_windows: int = 3        # ... holding this many strict ones is a stretch
    min_rms_ratio: float = 0.5
    max_hf_ratio: float = 0.03       # smooth: 10-25 Hz power under this x the 1-8 Hz power on some lead
    edge_fraction: float = 0.45      # a stretch spans its windows less this fraction of a window at each end
    min_s: float = 4.0
    short_window_s: float = 2.0      # second pass (2-s windows every short_step_s) for short episodes whose
    short_step_s: float = 0.5        # 4-s windows hold QRS at their edges (207's 4.3-s flutter at 242 s);
    short_min_s: float = 2.5         # it only adds stretches the 4-s pass did not find (0: off)
    enabled: bool = True


DEFAULT_VF = VFConfig()


@dataclass(frozen=True)
class QualityConfig:
    """Quality and gap parameters; durations in seconds, frequencies in Hz."""

    segment_s: float = 10.0
    template_s: float = 0.08
    min_beats: int = 4
    min_tcorr: float = 0.5
    gap_s: float = 1.5               # RR gaps longer than this are checked for QRS activity
    t_wave_s: float = 0.4
    edge_s: float = 0.15
    activity_primary: float = 0.1
    activity_other: float = 0.5
    energy_band_hz: tuple[float, float] = (5.0, 20.0)
    integrate_s: float = 0.08


DEFAULT_QUALITY = QualityConfig()


@dataclass(frozen=True)
class NoiseConfig:
    """Noisy-stretch re-detection (:mod:`ecgdl.qrs_noise`); durations in seconds."""

    noisy_ratio: float = 0.04        # a 1-s block whose noise floor exceeds this x the QRS level is noisy
    clean_ratio: float = 0.02        # templates and the RR prior come from blocks under this
    dilate_s: float = 3.0            # noisy blocks grown by this on each side
    leads: int = 2                   # leads averaged in the matched filter
    template_s: float = 0.06         # template half-width
    min_template_beats: int = 20
    template_beats: int = 200        # templates from the clean beats nearest the noisy stretches
    fast_s: float = 0.02             # band-pass: centred boxcar of fast_s minus one of slow_s
    slow_s: float = 0.1
    candidate_min: float = 0.15      # filter peaks under this x a clean beat's are not candidates
    nms_s: float = 0.05
    beat_cost: float = 0.3           # a beat of filter height a is worth a - beat_cost ...
    rhythm_weight: float = 0.25      # ... and each RR interval costs this x -ln p(RR)
    rr_sigma: float = 0.08           # log-RR kernel of the RR distribution
    rr_floor: float = 0.01
    max_rr: float = 2.5              # no interval longer than this x the clean RR's 90th percentile
    organised_irr: float | None = 0.1    # a stretch whose energy beats are regular (irregularity < this) ...
    organised_corr: float = 0.85         # ... and alike (median QRS correlation of neighbours >= this) ...
    organised_beats: int = 4             # ... with at least this many keeps them (a fast VT run is not noise) ...
    organised_faster: float | None = 0.7    # ... when their median RR is under this x the clean context's (None: any)
    context_s: float = 60.0          # clean beats within this of a stretch give its RR distribution
    skip_cost: float | None = 3.4    # a stretch whose energy beats' RRs all cost <= this keeps them (None: off)
    enabled: bool = True


@dataclass(frozen=True)
class QRSConfig:
    """Detector parameters; all durations in seconds, frequencies in Hz."""

    band_hz: tuple[float, float] = (5.0, 20.0)
    integrate_s: float = 0.08
    derivative: bool = True          # square the derivative of the band-passed signal (else the signal)
    internal_fs: float = 400.0       # input at >= 2x this rate is block-averaged (integer factor) for detection
    refractory_s: float = 0.2
    twave_s: float = 0.36            # a candidate this soon after a beat is checked for being a T wave
    twave_ratio: float = 0.3         # ... and must reach this fraction of the previous beat's energy
    twave_rr: float = 1.5            # ... unless it splits an interval this much longer than the local RR
    extra_rr: float = 1.3            # a beat splitting an interval shorter than this x the local RR ...
    extra_ratio: float = 0.5         # ... and weaker than this x both neighbours is dropped (0: off; 0.35: round 15c, not kept)
    extra_twin: float | None = None  # ... unless its envelope correlates >= this with the previous beat's ...
    #                                  (None: off; round 18 chose 0.95 on DS1, not kept after DS2 run 26)
    extra_twin_s: float = 0.06       # ... over +-this ...
    extra_twin_floor: float = 0.25   # ... and it is >= this x the previous beat's height
    level_block_s: float = 1.0
    level_window_s: float = 8.0
    threshold: float = 0.07          # fraction of the local QRS level
    searchback_threshold: float = 0.03   # search-back floor, fraction of the local QRS level
    searchback_rr: float = 1.5          # issue 15: gaps > 1.5x the local RR are searched again
    noise_factor: float = 6.0        # every candidate must exceed this x the local noise floor
    searchback_beat_ratio: float = 0.03  # search-back: at least this x the neighbouring beats' energy
    flat_s: float = 1.0
    flat_tol_mv: float = 1e-6
    overlap_s: float = 10.0
    lead2_weak: float = 0.5          # a detection under this x its neighbours' energy is dropped ...
    lead2_veto: float = 0.05         # ... when lead 1 shows under this x its usual QRS energy there
    refine_radius_s: float = 0.05
    refine_smooth_s: float = 0.025
    refine_negative_ratio: float = 2.0   # take the minimum when |neg| > ratio * pos
    vf: VFConfig = field(default_factory=VFConfig)                  # VF/VFL stretches (ecgdl.vf)
    quality: QualityConfig = field(default_factory=QualityConfig)   # quality index, undetected gaps
    noise: NoiseConfig = field(default_factory=NoiseConfig)         # noisy stretches (ecgdl.qrs_noise)



    def to_dict(self) -> dict:
        """JSON-ready parameters (tuples as lists)."""
        return _listify(asdict(self))

    @classmethod
    def from_dict(cls, d: dict) -> QRSConfig:
        """The config of :meth:`to_dict` output; unknown keys are an error."""
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown QRSConfig keys: {sorted(unknown)}")
        nested = {"vf": VFConfig, "quality": QualityConfig, "noise": NoiseConfig}
        kw = {}
        for k, v in d.items():
            if k in nested:
                sub = nested[k]
                bad = set(v) - set(sub.__dataclass_fields__)
                if bad:
                    raise ValueError(f"unknown QRSConfig.{k} keys: {sorted(bad)}")
                v = sub(**{a: tuple(b) if isinstance(b, list) else b for a, b in v.items()})
            kw[k] = tuple(v) if isinstance(v, list) else v
        return cls(**kw)


def _listify(d: dict) -> dict:
    """Tuples as lists, nested dicts too (JSON-ready)."""
    return {k: _listify(v) if isinstance(v, dict) else list(v) if isinstance(v, tuple) else v
            for k, v in d.items()}


#: The tuned detector (docs/qrs.md).
DEFAULT_CONFIG = QRSConfig()
