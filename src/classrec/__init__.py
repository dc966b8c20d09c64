"""ClassRec VAD: tells speech from silence and noise with an LSTM that remembers across windows."""

from classrec.errors import ClassRecError
from classrec.features import WINDOW_SAMPLES
from classrec.model import Detector, State

__all__ = ["ClassRecError", "Detector", "State", "WINDOW_SAMPLES"]
__version__ = "0.1.0"
