"""What a task that runs whatever its upstream's outcome needs from the run's first steps.

``select`` runs ``all_done``: a failed trial must not stop the search. But
without ``validate_splits`` and ``start_search`` there is no search; such a task
would trip over a missing input (``None``), be retried, and bury the first
failure under a dozen misleading ones. It fails at once instead, without a retry,
naming the step that failed first.
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowFailException

FIRST_STEPS = ("validate_splits", "start_search")


def require_first_steps(context) -> None:
    ti = context["ti"]
    states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id],
                                task_ids=list(FIRST_STEPS)).get(ti.run_id, {})
    for task_id in FIRST_STEPS:
        state = states.get(task_id)
        if state != "success":
            outcome = f"ended {state}" if state else "has not run"
            raise AirflowFailException(f"{task_id} {outcome}, so this run has no search; "
                                       f"the first failed task's log says why")
