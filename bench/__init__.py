"""ClassRec VAD benchmarks (`make bench` = `python -m bench`): speed and memory, always as ratios
against peer VADs measured in the same run on the same audio, written to BENCHMARKS.md.

Every number is measured on one core: the BLAS/OpenMP/onnxruntime thread pools are pinned to one
thread here, before numpy is imported, so the detectors compete on equal terms and a loaded
machine slows them all alike (timings are also interleaved between detectors for that reason).
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
