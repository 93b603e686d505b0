"""The whole stack on one machine: PostgreSQL, S3, an authenticated MLflow server
and Airflow's own services, described once (``definition``) and launched as
processes (``native``) or by Docker Compose (``compose`` renders the file).

    python -m training.stack up | down [--purge] | status | compose
"""
