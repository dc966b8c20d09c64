"""The lab side: what the project runs to judge detectors, never what a user's app runs.

Peer detectors (Silero, TEN, WebRTC), frame metrics, the labelled benchmark sets and the evaluation
report live here, beside the training recipe (`classrec.train`), so the runtime package (model,
stream, segments, pipeline, web) imports none of them and none of their extras.
"""
