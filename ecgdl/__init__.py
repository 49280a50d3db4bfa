"""ecgdl: ECG arrhythmia detection (MIT-BIH, inter-patient AAMI classes).

Where things happen:
    ecgdl.io      read a record (WFDB, EDF, CSV) -> Record, input validation
    ecgdl.signal  filters and resampling
    ecgdl.qrs     R-peak detection
    ecgdl.beats   beat windows + RR features
    ecgdl.infer   ONNX classifier and score_record(): the one scoring path (CLI and app)
"""

__version__ = "0.1.0"
