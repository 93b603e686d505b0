"""The Airflow UI in a real browser: Debian's Chromium driven by Playwright (no
browser is downloaded). Sign in, trigger tweetbot_training from its form with a
changed parameter, see a bad value refused, follow a trial's "MLflow run" link to
the MLflow page of that run and select's "Compare trials" link to MLflow's
comparison of the search's trials. Screenshots go to the test artifacts folder."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .stack_clients import RUN_DEFAULTS, TRAINING, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.stack]


@pytest.fixture
def page(browser, clients):
    """A signed-in Airflow page; the MLflow server's basic auth answered too."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, http_credentials={
        "username": "admin", "password": clients.secrets.mlflow_admin_password})
    page = context.new_page()
    base = clients.settings.addresses.airflow_url
    page.goto(f"{base}/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(clients.secrets.airflow_admin_password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/**")
    page.wait_for_load_state("networkidle")
    yield page
    context.close()


def open_trigger_form(page, base: str):
    page.goto(f"{base}/dags/{TRAINING}")
    page.get_by_role("button", name="Trigger").first.click()
    return page.get_by_role("dialog")


def form_field(dialog, section: str, name: str):
    """A field of the trigger form, visible. The form's sections are an
    accordion with one section open at a time, so the section's trigger is
    read before it is clicked: a click on an open section would close it. A
    click that lands while the form re-renders is lost; it is made again."""
    trigger = dialog.get_by_role("button", name=section, exact=True)
    for attempt in range(3):
        if trigger.get_attribute("aria-expanded") != "true":
            trigger.click()
        try:
            expect(trigger).to_have_attribute("aria-expanded", "true", timeout=10_000)
            break
        except AssertionError:
            if attempt == 2:
                raise
    field = dialog.locator(f"[name=element_{name}]")
    field.wait_for(state="visible")
    return field


def test_trigger_from_the_form_with_a_changed_parameter(page, clients, airflow, published,
                                                         artifacts):
    base = clients.settings.addresses.airflow_url
    before = {r["dag_run_id"] for r in airflow.runs(TRAINING)}
    dialog = open_trigger_form(page, base)
    form_field(dialog, "Data", "data_location").fill(published["location"])
    form_field(dialog, "Search", "num_trials").fill("3")
    page.screenshot(path=artifacts / "ui-1-trigger-form.png", full_page=True)
    dialog.get_by_role("button", name="Trigger").click()
    run = wait_until(lambda: [r for r in airflow.runs(TRAINING)
                              if r["dag_run_id"] not in before], 60, "the triggered run")[0]
    assert run["run_type"] == "manual"
    assert run["conf"]["num_trials"] == 3
    assert run["conf"]["data_location"] == published["location"]
    assert run["conf"]["max_epochs"] == 1  # the untouched fields keep the form's defaults
    finished = airflow.wait_for_run(TRAINING, run["dag_run_id"], timeout=300)
    assert finished["state"] == "success"  # unchanged splits: it stops at validate_splits
    page.goto(f"{base}/dags/{TRAINING}/runs/{run['dag_run_id']}")
    page.get_by_text(run["dag_run_id"]).first.wait_for()
    page.screenshot(path=artifacts / "ui-2-triggered-run.png", full_page=True)


def test_a_bad_value_is_refused_in_the_form(page, clients, airflow, artifacts):
    base = clients.settings.addresses.airflow_url
    before = len(airflow.runs(TRAINING))
    dialog = open_trigger_form(page, base)
    trials = form_field(dialog, "Search", "num_trials")
    trials.fill("0")
    dialog.locator("[name=element_parallel]").click()  # leaving a number field checks it
    assert trials.input_value() == "1"  # below the minimum: the form will not keep it
    dialog.get_by_text("Search space", exact=True).click()
    dialog.locator(".monaco-editor").first.click()
    page.keyboard.press("Control+A")
    page.keyboard.type('"rnn_size=64"')  # a string where the schema wants an object
    trigger = dialog.get_by_role("button", name="Trigger")
    page.screenshot(path=artifacts / "ui-3-bad-value.png", full_page=True)
    assert trigger.is_disabled()
    assert len(airflow.runs(TRAINING)) == before


def test_a_trials_mlflow_link_opens_its_run_in_mlflow(page, clients, airflow, rest_run,
                                                      artifacts):
    base = clients.settings.addresses.airflow_url
    run_id = rest_run["dag_run_id"]
    trial = airflow.xcom(TRAINING, run_id, "trial", map_index=0)
    page.goto(f"{base}/dags/{TRAINING}/runs/{run_id}/tasks/trial/mapped/0")
    page.get_by_text("Details", exact=True).click()
    link = page.get_by_text("MLflow run", exact=True)
    link.wait_for()
    page.screenshot(path=artifacts / "ui-4-mlflow-link.png", full_page=True)
    with page.context.expect_page() as opened:
        link.click()
    mlflow_page = opened.value
    # Not "networkidle": MLflow's UI may keep polling.
    mlflow_page.wait_for_load_state("load")
    assert trial["run_id"] in mlflow_page.url
    mlflow_page.get_by_text(f"trial-{trial['trial_num']:03d}").first.wait_for(timeout=60_000)
    mlflow_page.screenshot(path=artifacts / "ui-5-mlflow-run.png", full_page=True)


def test_selects_compare_link_opens_mlflows_comparison_of_the_trials(page, clients, airflow,
                                                                   rest_run, artifacts):
    base = clients.settings.addresses.airflow_url
    run_id = rest_run["dag_run_id"]
    chosen = airflow.xcom(TRAINING, run_id, "select")
    assert chosen["trial_run_ids"] and chosen["trial_run_id"] in chosen["trial_run_ids"]
    page.goto(f"{base}/dags/{TRAINING}/runs/{run_id}/tasks/select")
    page.get_by_text("Details", exact=True).click()
    link = page.get_by_text("Compare trials", exact=True)
    link.wait_for()
    with page.context.expect_page() as opened:
        link.click()
    compare = opened.value
    compare.wait_for_load_state("load")
    assert "compare-runs" in compare.url and chosen["trial_run_ids"][0] in compare.url
    # The comparison holds every trial that reported, the chosen one among them.
    runs = len(chosen["trial_run_ids"])
    compare.get_by_text(re.compile(rf"Comparing {runs} Runs? from 1 Experiment")).wait_for(
        timeout=60_000)
    compare.get_by_text(f"trial-{chosen['trial_num']:03d}").first.wait_for(timeout=60_000)
    compare.screenshot(path=artifacts / "ui-6-mlflow-compare.png", full_page=True)


def test_a_search_is_one_trial_task_with_an_instance_per_trial(page, clients, airflow,
                                                               published, artifacts):
    """Ten trials, three at a time (as many as the pool's slots allow): one ``trial``
    task with ten instances, each named by its trial, and nothing skipped."""
    import yaml

    space = yaml.safe_load(RUN_DEFAULTS)["space_overrides"]
    # Room for ten points: a learning rate drawn from a range.
    space = {**space, "learning_rate": {"loguniform": [0.005, 0.02]}}
    run_id = airflow.trigger(TRAINING, {"num_trials": 10, "parallel": 3, "max_epochs": 1,
                                        "final_epochs": 1, "force": True,
                                        "space_overrides": space,
                                        "data_location": published["location"]})
    finished = airflow.wait_for_run(TRAINING, run_id, timeout=1800)
    instances = airflow.task_instances(TRAINING, run_id)
    assert finished["state"] == "success", {ti["task_id"]: ti["state"] for ti in instances}
    trials = [ti for ti in instances if ti["task_id"] == "trial"]
    assert sorted(ti["map_index"] for ti in trials) == list(range(10))
    assert {ti["state"] for ti in trials} == {"success"}
    assert all(ti["rendered_map_index"].startswith(f"trial {ti['map_index'] + 1}: ")
               for ti in trials)
    # Only the approval, which this run did not ask for, is skipped.
    assert {ti["task_id"] for ti in instances if ti["state"] == "skipped"} == {
        "approve_promotion", "promote"}
    base = clients.settings.addresses.airflow_url
    page.goto(f"{base}/dags/{TRAINING}/runs/{run_id}")
    page.get_by_text(run_id).first.wait_for()
    page.wait_for_load_state("networkidle")
    page.screenshot(path=artifacts / "ui-7-grid-one-trial-task.png", full_page=True)
    page.goto(f"{base}/dags/{TRAINING}/runs/{run_id}/tasks/trial/mapped")
    page.get_by_text("trial 10: ").first.wait_for(timeout=60_000)
    page.screenshot(path=artifacts / "ui-8-trial-instances.png", full_page=True)
