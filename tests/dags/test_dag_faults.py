"""A DAG run that fails early fails once, at the step that failed, and says so:
the ``all_done`` tasks that follow (each round's ``suggest``, ``select``) fail at
once, without a retry, naming that step, instead of tripping over its missing
result."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException

from tweetbot_airflow import upstream

pytestmark = pytest.mark.fault


def test_bad_input_fails_validate_splits_once_and_no_later_step_retries(dagbag, tmp_path):
    run = dagbag.get_dag("tweetbot_training").test(
        run_conf={"data_location": str(tmp_path / "no-such-splits"), "num_trials": 1,
                  "parallel": 1})
    tries = {ti.task_id: (ti.state, ti.try_number) for ti in run.get_task_instances()}
    assert run.state == "failed"
    assert tries["validate_splits"] == ("failed", 1)  # bad input is not retried
    assert tries["start_search"][0] == "upstream_failed"
    for task_id in [*(f"suggest_r{n}" for n in range(6)), "select"]:
        assert tries[task_id] == ("failed", 1), (task_id, tries[task_id])
    assert tries["register"][0] == "upstream_failed"


class TaskInstance:
    """What ``upstream.require`` reads of a running task: its run's states."""

    dag_id, run_id = "tweetbot_training", "manual__1"

    def __init__(self, states):
        self.states = states

    def get_task_states(self, dag_id, run_ids, task_ids):
        assert (dag_id, run_ids) == (self.dag_id, [self.run_id])
        return {self.run_id: {k: v for k, v in self.states.items() if k in task_ids}}


@pytest.mark.parametrize("states, named", [
    ({"validate_splits": "failed", "start_search": "upstream_failed"},
     "validate_splits ended failed"),
    ({"validate_splits": "success", "start_search": "failed"}, "start_search ended failed"),
    ({"validate_splits": "success"}, "start_search has not run"),
])
def test_a_task_after_a_failed_first_step_fails_naming_it(states, named):
    with pytest.raises(AirflowFailException, match=named):
        upstream.require_first_steps({"ti": TaskInstance(states)})


def test_nothing_is_raised_once_the_first_steps_succeeded():
    states = {"validate_splits": "success", "start_search": "success"}
    upstream.require_first_steps({"ti": TaskInstance(states)})
