"""The Airflow-facing half of tweetbot, imported only by the DAG files.

    placement     where a step runs: a process on the worker, or a Kubernetes pod
    step_pod      a step as a pod (KubernetesPodOperator), for the kubernetes placement
    pod_settings  the pods' image, resources, GPU, node selection and secrets
    approval      the optional promotion gate (Airflow's ApprovalOperator)
    upstream      what a task that runs whatever its upstream's outcome needs

The alerts live in the plugins folder (``tweetbot_alerts``): the triggerer, which
sends the deadline alert, has that folder on its path and not this one.

``training`` never imports this package: the trainer image has no Airflow. The
dag-processor skips it (``.airflowignore``); Airflow puts the DAG folder on
``sys.path``, so the DAG files import it by name.
"""

from airflow.sdk import Asset

# Published by tweetbot_prepare_splits; schedules tweetbot_training.
SPLITS_ASSET = Asset("tweetbot_splits")
