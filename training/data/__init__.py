"""The text a model learns from: the vocabulary, the splits and their checks,
where splits are stored (a folder or S3), and the batches a stateful model reads.

Only ``batches`` imports TensorFlow.
"""
