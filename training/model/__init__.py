"""The network and how it is trained and used: the Keras model, the fit loop,
checkpoints and resuming, the learning curve, scoring a text, generating tweets,
and the tutorial's Keras 2 HDF5 format.

No MLflow here; Keras (and its backend, ``KERAS_BACKEND``: TensorFlow or JAX) is
imported by the modules that build or load a model, and only when they do.
"""
