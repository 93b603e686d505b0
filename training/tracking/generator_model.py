"""The registered model's code, as MLflow keeps it beside the model ("models from
code"): loading a version runs this file, which names the class, instead of
unpickling a stored object. Nothing a model store holds is ever unpickled.
"""

import mlflow

from training.tracking.pyfunc import TweetGeneratorModel

mlflow.models.set_model(TweetGeneratorModel())
