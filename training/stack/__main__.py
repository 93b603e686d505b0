"""``python -m training.stack``: bring the stack up and down on this machine.

    python -m training.stack up [--airflow-port 8080 --mlflow-port 5000 --s3-port 9000]
    python -m training.stack up --executor celery --gpu-workers 2
    python -m training.stack status
    python -m training.stack down [--purge]

``up`` prints where the Airflow UI, the MLflow UI and the S3 endpoint are, and
the file holding the generated passwords (never the passwords). The one-shot
commands the definition runs (``create-databases``, ``create-bucket``) are here
too, so that Docker Compose runs the very same ones.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from training.core.errors import InputError
from training.pipeline.run_config import GPU_QUEUE
from training.stack import native, provision
from training.stack.definition import CPU_WORKER, Worker


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training.stack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    home_help = ("the stack's state folder (default: $TWEETBOT_STACK_HOME, else "
                 "$TWEETBOT_HOME/stack)")
    parser.add_argument("--home", help=home_help)
    # --home is also taken where users type it, after the command; SUPPRESS keeps a
    # value given before the command when none comes after it.
    home = argparse.ArgumentParser(add_help=False)
    home.add_argument("--home", default=argparse.SUPPRESS, help=home_help)
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("up", parents=[home],
                                help="start every service and wait until healthy")
    for flag, default in (("--airflow-port", 8080), ("--mlflow-port", 5000),
                          ("--s3-port", 9000), ("--scheduler-health-port", 8974)):
        start.add_argument(flag, type=int, default=default)
    start.add_argument("--parallelism", type=int, default=4,
                       help="task processes of Airflow's LocalExecutor")
    start.add_argument("--trial-slots", type=int, default=2,
                       help="slots of the tweetbot_trials pool (trials at once)")
    start.add_argument("--run-defaults", default="",
                       help="a YAML file of run-parameter defaults for tweetbot_training")
    start.add_argument("--executor", choices=("local", "celery"), default="local",
                       help="Airflow's executor: the scheduler runs tasks (local), or "
                            "Celery workers on Redis do (a CPU worker and GPU workers)")
    start.add_argument("--gpu-workers", type=int, default=1,
                       help="celery: workers serving the tweetbot_gpu queue, one task each")
    stop = commands.add_parser("down", parents=[home], help="stop every service")
    stop.add_argument("--purge", action="store_true",
                      help="also drop the stack's databases and its state folder")
    commands.add_parser("status", parents=[home], help="say whether a stack runs, and where")
    render = commands.add_parser("compose", help="print docker-compose.yml, rendered from "
                                                 "the definition (--env-example: .env.example)")
    render.add_argument("--env-example", action="store_true")
    commands.add_parser("create-databases", help="(run by the stack) create its databases")
    commands.add_parser("create-bucket", help="(run by the stack) create its bucket")
    ready = commands.add_parser("worker-ready", help="(the stack's health check) exit 0 "
                                                     "when this machine's Celery worker "
                                                     "NAME answers a ping")
    ready.add_argument("name")
    return parser


def celery_settings(args: argparse.Namespace) -> dict:
    if args.executor == "local":
        return {}
    if args.gpu_workers < 1:
        raise InputError(f"--gpu-workers: {args.gpu_workers} must be at least 1")
    gpu = tuple(Worker(name=f"gpu-{n}", queues=(GPU_QUEUE,))
                for n in range(1, args.gpu_workers + 1))
    return {"executor": "CeleryExecutor", "workers": (CPU_WORKER, *gpu)}


def describe(stack: native.Stack) -> str:
    addresses = stack.settings.addresses
    return (f"Airflow UI   {addresses.airflow_url}  (user admin)\n"
            f"MLflow UI    {addresses.mlflow_url}  (user admin)\n"
            f"S3 endpoint  {addresses.s3_url}  (bucket {stack.settings.bucket})\n"
            f"passwords    {stack.home / 'secrets.json'}\n"
            f"logs         {stack.home / 'logs'}\n"
            f"executor     {stack.settings.executor}" + "".join(
                f"\nworker       {w.name}: queues {', '.join(w.queues)}, folders in "
                f"{stack.settings.worker_folder(w)}"
                for w in stack.settings.workers if stack.settings.celery))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "create-databases":
        created = provision.create_databases()
        print(f"created databases: {', '.join(created) or 'none (all exist)'}")
        return 0
    if args.command == "compose":
        from training.stack import compose

        print(compose.env_example() if args.env_example else compose.render(), end="")
        return 0
    if args.command == "create-bucket":
        print("created the bucket" if provision.create_bucket() else "the bucket exists")
        return 0
    if args.command == "worker-ready":
        from training.stack import worker

        return 0 if worker.ready(args.name) else 1
    home = native.default_home() if args.home is None else Path(args.home)
    current = native.running(home)
    try:
        if args.command == "up":
            if current is not None:
                raise InputError(f"{home}: a stack runs there already; "
                                 f"`python -m training.stack down` first")
            settings = native.native_settings(
                home, s3_port=args.s3_port, mlflow_port=args.mlflow_port,
                airflow_port=args.airflow_port,
                scheduler_health_port=args.scheduler_health_port,
                parallelism=args.parallelism, trial_slots=args.trial_slots,
                run_defaults=args.run_defaults, **celery_settings(args))
            print(describe(native.up(settings)))
        elif args.command == "status":
            print(describe(current) if current else f"no stack runs from {home}")
        elif args.command == "down":
            if current is not None:
                native.down(current)
            if args.purge:
                native.purge(home)
            print("stopped" + (" and purged" if args.purge else ""))
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
