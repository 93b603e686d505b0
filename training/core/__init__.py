"""What every stage shares: typed configuration, the records steps hand each other,
the errors a user sees, the ``TWEETBOT_*`` settings and atomic file writes.

Imports nothing else of tweetbot, and nothing heavy (no MLflow, no TensorFlow).
"""
