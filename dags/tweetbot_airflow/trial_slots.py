"""At most ``parallel`` trials of a run at once, a free slot taken at once, and each
trial task named by its trial once it is known.

Airflow fixes a mapped task's concurrency (``max_active_tis_per_dagrun``) when it
parses the DAG, but ``parallel`` is a run parameter. So each trial step says how
many of the run's trial tasks must have ended before it may start
(``Step.wait_for_ended``: trial n waits for n - ``parallel``). The count of ended
tasks only grows, so no two tasks race for one slot: every trial that started has
a number of at most ended + ``parallel``, so at most ``parallel`` run. The
scheduler starts mapped tasks in number order, and the ``tweetbot_trials`` pool
caps trials across runs, so with the pool's slots at ``parallel`` or fewer no task
waits here at all; one that is early (more pool slots than ``parallel``) gives its
worker and pool slot back and looks again in half a minute, as a sensor in
reschedule mode does. A trial task that ended before its trial started counts as
ended, so a search never waits for a trial that will not run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk.exceptions import AirflowRescheduleException

from training.core.records import Step

# The states in which a trial task will not run (again) without a person clearing it.
ENDED = ["success", "failed", "skipped", "upstream_failed", "removed"]
# Not sooner: Airflow 3.3's scheduler fails a rescheduled task whose next start
# comes before it has read the executor's report that the previous start exited
# ("finished with state success, but the task instance's state attribute is
# scheduled": killed externally, a retry spent). On two busy cores that report
# was read 5 s late, so a 5 s wait lost the race; 30 s leaves a wide margin.
LOOK_AGAIN_SECONDS = 30


def wait_for_a_slot(context, step: Step) -> None:
    """Return when ``step`` may start; otherwise reschedule its task (frees its slots)."""
    if step.wait_for_ended <= 0:
        return
    ti = context["ti"]
    ended = ti.get_ti_count(dag_id=ti.dag_id, task_ids=[ti.task_id], run_ids=[ti.run_id],
                            states=ENDED)
    if ended < step.wait_for_ended:
        print(f"{step.label} starts once {step.wait_for_ended} trial tasks have ended "
              f"({ended} so far); looking again in {LOOK_AGAIN_SECONDS} s")
        raise AirflowRescheduleException(
            datetime.now(UTC) + timedelta(seconds=LOOK_AGAIN_SECONDS))


def name_trial(context, result: dict) -> None:
    """Name the task (its map index's label) by the trial it ran."""
    from training.pipeline.steps import trial_label

    context["trial_label"] = trial_label(result)
