"""Where models registered before ``training.tracking`` existed find their class.

A pyfunc model is pickled with its class's import path, and earlier versions
logged ``training.mlflow_model.TweetGeneratorModel``; a process that has
``training`` imported already loads such a champion through this name. New
models are logged from ``training.tracking.pyfunc``.
"""

from training.tracking.pyfunc import TweetGeneratorModel

__all__ = ["TweetGeneratorModel"]
