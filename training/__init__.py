"""tweetbot's training library: data, model, fit loop, tracking and generation.

Everything here imports and runs without Airflow: it is what the trainer pod runs.
TensorFlow is imported only by the modules that train or sample (batches, model,
fit; generate and evaluate when they load a model), so the Airflow side can plan
searches and talk to MLflow without it; MLflow only by ``training.tracking``.
"""
