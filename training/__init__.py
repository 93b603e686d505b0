"""tweetbot's training library: data, model, fit loop, tracking and generation.

Everything here imports and runs without Airflow: it is what the trainer pod runs.
TensorFlow is imported only by the modules that need it (model, fit, generate), so
the Airflow side can plan searches and talk to MLflow without it.
"""
