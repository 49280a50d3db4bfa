"""The R-peak detector's parameters (:class:`QRSConfig`), shared by :mod:`ecgdl.qrs` and
:mod:`ecgdl.qrs_select`; the resolved config goes into each score summary (``"qrs"``)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ecgdl.quality import QualityConfig
from ecgdl.vf import VFConfig

__all__ = ["DEFAULT_CONFIG", "QRSConfig"]


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
    extra_ratio: float = 0.5         # ... and weaker than this x both neighbours is dropped (0: off)
    level_block_s: float = 1.0
    level_window_s: float = 8.0
    threshold: float = 0.07          # fraction of the local QRS level
    searchback_threshold: float = 0.03   # search-back floor, fraction of the local QRS level
    searchback_rr: float = 1.66
    noise_factor: float = 6.0        # every candidate must exceed this x the local noise floor
    searchback_beat_ratio: float = 0.05  # search-back: at least this x the neighbouring beats' energy
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



    def to_dict(self) -> dict:
        """JSON-ready parameters (tuples as lists)."""
        return _listify(asdict(self))

    @classmethod
    def from_dict(cls, d: dict) -> QRSConfig:
        """The config of :meth:`to_dict` output; unknown keys are an error."""
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown QRSConfig keys: {sorted(unknown)}")
        nested = {"vf": VFConfig, "quality": QualityConfig}
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
