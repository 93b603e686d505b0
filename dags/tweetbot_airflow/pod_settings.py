"""Pod settings for steps placed on Kubernetes, read from the environment.

Read when the DAG file is parsed (so bad settings fail its import) and again
when a pod task starts on a worker, from the same deployment's environment.

Every trial, the base-model training and the evaluation run as one pod each,
all from the trainer image, with the same command a local process runs
(``python -m training.<step> ...``). Settings come from these variables.
Credentials (MLflow's user and password, S3 keys) reach the pod only through a
Kubernetes secret (``envFrom``), never inline; the run's MLflow address and
experiment come with the step, as they do to a local process, and win over the
secret's.

| variable | default |
| --- | --- |
| TWEETBOT_TRAINER_IMAGE | tweetbot-trainer:<this package's version> |
| TWEETBOT_K8S_NAMESPACE | tweetbot |
| TWEETBOT_K8S_GPUS | 1 (``nvidia.com/gpu`` limit; 0 for CPU-only pods) |
| TWEETBOT_K8S_CPU / TWEETBOT_K8S_MEMORY | 2 / 8Gi (requests; memory is also the limit) |
| TWEETBOT_K8S_NODE_SELECTOR | none; JSON object, e.g. {"gpu": "a100"} |
| TWEETBOT_K8S_TOLERATIONS | tolerate the nvidia.com/gpu taint; JSON list |
| TWEETBOT_K8S_ENV_SECRET | tweetbot-env (MLFLOW_TRACKING_USERNAME/PASSWORD, AWS_* ...) |
| TWEETBOT_K8S_MLFLOW_URI | the run's MLFLOW_TRACKING_URI (set where pods see another address) |
| TWEETBOT_K8S_CHECKPOINT_PVC | none; a ReadWriteMany PVC at /checkpoints where steps checkpoint |
| TWEETBOT_K8S_STARTUP_TIMEOUT | 900 s from scheduled to running (a multi-GB image pull) |
| TWEETBOT_K8S_SCHEDULE_TIMEOUT | 1800 s from created to scheduled (a GPU node from zero) |
| TWEETBOT_K8S_EXECUTION_TIMEOUT | 43200 s; a hung pod then fails instead of holding the run |

Only the steps that train (trials, the base model) get a GPU, the node selector
and the tolerations; the evaluation's pod runs on any node. The checkpoint volume
is mounted only in the pods that write checkpoints, and each step keeps its own
folder there (``<search id>/<step>``), so a retried pod resumes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from training.core.errors import InputError

GPU_RESOURCE = "nvidia.com/gpu"
DEFAULT_TOLERATIONS = [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}]
CHECKPOINT_MOUNT = "/checkpoints"
# The pod's own disk: TWEETBOT_HOME inside the trainer container.
SCRATCH_MOUNT = "/tmp"
POD_HOME = f"{SCRATCH_MOUNT}/tweetbot"
# The trainer image's user (docker/trainer/Dockerfile): pods run as it, never root,
# and the checkpoint volume's files belong to its group.
TRAINER_UID = 10001


def _default_image() -> str:
    return f"tweetbot-trainer:{metadata.version('tweetbot')}"


@dataclass(frozen=True)
class PodSettings:
    image: str = field(default_factory=_default_image)
    namespace: str = "tweetbot"
    gpus: int = 1
    cpu: str = "2"
    memory: str = "8Gi"
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[dict[str, Any]] = field(default_factory=lambda: list(DEFAULT_TOLERATIONS))
    env_secret: str = "tweetbot-env"
    checkpoint_pvc: str | None = None
    mlflow_uri: str | None = None
    startup_timeout: int = 900
    schedule_timeout: int = 1800
    execution_timeout: int = 43200

    @classmethod
    def from_env(cls, environ=os.environ) -> PodSettings:
        def text(name, default):
            return environ.get(name) or default

        def whole(name, default):
            try:
                value = int(text(name, str(default)))
            except ValueError:
                raise InputError(f"{name}: expected a whole number") from None
            if value < 0:
                raise InputError(f"{name}: {value} is negative")
            return value

        return cls(
            image=environ.get("TWEETBOT_TRAINER_IMAGE") or _default_image(),
            namespace=text("TWEETBOT_K8S_NAMESPACE", cls.namespace),
            gpus=whole("TWEETBOT_K8S_GPUS", cls.gpus), cpu=text("TWEETBOT_K8S_CPU", cls.cpu),
            memory=text("TWEETBOT_K8S_MEMORY", cls.memory),
            node_selector=_json(environ, "TWEETBOT_K8S_NODE_SELECTOR", {}, dict),
            tolerations=_json(environ, "TWEETBOT_K8S_TOLERATIONS", DEFAULT_TOLERATIONS, list),
            env_secret=text("TWEETBOT_K8S_ENV_SECRET", cls.env_secret),
            checkpoint_pvc=environ.get("TWEETBOT_K8S_CHECKPOINT_PVC") or None,
            mlflow_uri=environ.get("TWEETBOT_K8S_MLFLOW_URI") or None,
            startup_timeout=whole("TWEETBOT_K8S_STARTUP_TIMEOUT", cls.startup_timeout),
            schedule_timeout=whole("TWEETBOT_K8S_SCHEDULE_TIMEOUT", cls.schedule_timeout),
            execution_timeout=whole("TWEETBOT_K8S_EXECUTION_TIMEOUT", cls.execution_timeout))

    def accelerators(self, gpu: bool) -> int:
        """The GPUs a step's pod requests, and so holds."""
        return self.gpus if gpu else 0

    @property
    def checkpoint_root(self) -> str:
        """Where steps keep checkpoints: the shared volume, so a retried pod
        resumes; without one, the pod's own disk (a retry starts over)."""
        return CHECKPOINT_MOUNT if self.checkpoint_pvc else f"{POD_HOME}/runs"


def _json(environ, name: str, default, kind):
    raw = environ.get(name)
    if not raw:
        return default
    try:
        value = json.loads(raw)
    except ValueError as error:
        raise InputError(f"{name}: not valid JSON ({error})") from None
    if not isinstance(value, kind):
        raise InputError(f"{name}: expected a JSON {kind.__name__}")
    return value


def pod_operator_kwargs(settings: PodSettings) -> dict[str, Any]:
    """Keyword arguments for a ``KubernetesPodOperator`` running a trainer pod
    (the command, its arguments, resources and volumes come from the step)."""
    from datetime import timedelta

    from kubernetes.client import models as k8s

    return {
        "image": settings.image,
        "image_pull_policy": "IfNotPresent",  # the tag is a version: pull it once per node
        "namespace": settings.namespace,
        "env_from": [k8s.V1EnvFromSource(
            secret_ref=k8s.V1SecretEnvSource(name=settings.env_secret))],
        # HOME too: Keras and matplotlib keep their caches there, and the image's
        # root filesystem is read-only in the pod.
        "env_vars": {"TWEETBOT_HOME": POD_HOME, "HOME": POD_HOME, "TF_CPP_MIN_LOG_LEVEL": "2"},
        "labels": {"app.kubernetes.io/name": "tweetbot"},
        "security_context": k8s.V1PodSecurityContext(
            run_as_non_root=True, run_as_user=TRAINER_UID, fs_group=TRAINER_UID),
        "container_security_context": k8s.V1SecurityContext(
            allow_privilege_escalation=False, capabilities=k8s.V1Capabilities(drop=["ALL"]),
            read_only_root_filesystem=True),  # writes go to /tmp (an emptyDir), volumes
        "startup_timeout_seconds": settings.startup_timeout,
        "schedule_timeout_seconds": settings.schedule_timeout,
        "execution_timeout": timedelta(seconds=settings.execution_timeout),
        "do_xcom_push": True,          # the result JSON comes back through the sidecar
        "deferrable": True,            # no worker slot held while a pod trains
        "durable": True,               # reattach to a running pod after a restart
        "on_finish_action": "delete_pod",
        "get_logs": True,
        "logging_interval": 60,        # the task log follows a deferred pod's output
        "log_events_on_failure": True,  # an OOMKilled or FailedScheduling reason stays
    }


def step_pod_kwargs(settings: PodSettings, *, gpus: int, checkpoint: bool) -> dict[str, Any]:
    """What differs between a step's pods: ``gpus`` (the placement's to decide:
    only the steps that train get any) and the nodes that have them, the
    checkpoint volume only where checkpoints are written (a volume mounted in
    every parallel pod would need every node to attach it)."""
    from kubernetes.client import models as k8s

    limits = {"memory": settings.memory, **({GPU_RESOURCE: str(gpus)} if gpus else {})}
    # The root filesystem is read-only: /tmp (TWEETBOT_HOME, HOME, downloaded
    # splits, the pod-disk checkpoints) is the pod's own scratch disk.
    volumes = [k8s.V1Volume(name="scratch", empty_dir=k8s.V1EmptyDirVolumeSource())]
    mounts = [k8s.V1VolumeMount(name="scratch", mount_path=SCRATCH_MOUNT)]
    if checkpoint and settings.checkpoint_pvc:
        volumes.append(k8s.V1Volume(name="checkpoints", persistent_volume_claim=(
            k8s.V1PersistentVolumeClaimVolumeSource(claim_name=settings.checkpoint_pvc))))
        mounts.append(k8s.V1VolumeMount(name="checkpoints", mount_path=CHECKPOINT_MOUNT))
    return {
        "container_resources": k8s.V1ResourceRequirements(
            requests={"cpu": settings.cpu, "memory": settings.memory}, limits=limits),
        "node_selector": (settings.node_selector or None) if gpus else None,
        "tolerations": [k8s.V1Toleration(**t) for t in settings.tolerations] if gpus else [],
        "volumes": volumes, "volume_mounts": mounts,
    }
