"""At most ``parallel`` trials at once: trial n starts once n - parallel of the
run's trial tasks have ended; an early one gives its slots back and looks again."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowRescheduleException

from training.core.records import Step
from tweetbot_airflow import trial_slots


class TaskInstance:
    """What ``wait_for_a_slot`` reads of a running trial task: how many of its
    run's trial tasks are in the states it asks for."""

    dag_id, task_id, run_id = "tweetbot_training", "trial", "manual__1"

    def __init__(self, map_index: int, states: list[str]):
        self.map_index, self.states = map_index, states

    def get_ti_count(self, dag_id, task_ids, run_ids, states):
        assert (dag_id, task_ids, run_ids) == (self.dag_id, [self.task_id], [self.run_id])
        return sum(state in states for state in self.states)


def trial(num: int, parallel: int) -> Step:
    return Step(module="training.trial", arguments=(), folder="s", name=f"trial-{num:03d}",
                label=f"trial {num}", trial_num=num, wait_for_ended=max(0, num - parallel))


def test_the_first_parallel_trials_start_at_once():
    for num in (1, 2, 3):
        trial_slots.wait_for_a_slot({"ti": TaskInstance(num - 1, [])}, trial(num, 3))


def test_a_trial_starts_as_soon_as_enough_trials_have_ended():
    # Trial 5 of parallel 2: three trials must have ended, whichever they were.
    ended = ["success", "failed", "skipped", "running", "up_for_retry"]
    trial_slots.wait_for_a_slot({"ti": TaskInstance(4, ended)}, trial(5, 2))


@pytest.mark.parametrize("states", [
    ["success", "running", "running", "up_for_retry"],  # a retry is not an end
    ["success", "success", "up_for_reschedule"],
])
def test_an_early_trial_gives_its_slot_back_and_looks_again(states, capsys):
    with pytest.raises(AirflowRescheduleException) as reschedule:
        trial_slots.wait_for_a_slot({"ti": TaskInstance(4, states)}, trial(5, 2))
    assert reschedule.value.reschedule_date is not None
    assert "trial 5 starts once 3 trial tasks have ended" in capsys.readouterr().out


def test_a_trial_task_is_named_by_its_trial_once_known():
    context = {}
    trial_slots.name_trial(context, {"search_id": "s", "trial_num": 4, "reason": "none"})
    assert context["trial_label"] == "trial 4: nothing left to try"
    trial_slots.name_trial(context, {"search_id": "s", "trial_num": 4, "run_id": "r",
                                     "status": "ok", "hyperparams": {"rnn_size": 64}})
    assert context["trial_label"].startswith("trial 4: ") and "rnn_size=64" in (
        context["trial_label"])
