"""ClassRec VAD: tells speech from silence and noise with an LSTM that remembers across windows.

>>> import classrec
>>> classrec.detect(samples, sample_rate=44100)     # [Segment(start=…, end=…), …] in seconds
>>> classrec.probabilities(samples, sample_rate=44100)   # one per 32 ms window
>>> stream = classrec.Stream(input_rate=48000)      # live: push chunks, get events
"""

from classrec.errors import ClassRecError
from classrec.features import WINDOW_SAMPLES
from classrec.model import Detector, State
from classrec.pipeline import detect, probabilities
from classrec.segments import Segment, VadOptions
from classrec.stream import Stream

__all__ = [
    "ClassRecError",
    "Detector",
    "Segment",
    "State",
    "Stream",
    "VadOptions",
    "WINDOW_SAMPLES",
    "detect",
    "probabilities",
]
__version__ = "0.1.0"
