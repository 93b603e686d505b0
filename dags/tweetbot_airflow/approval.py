"""The optional promotion gate: a person approves a new champion.

With the run parameter ``require_approval``, ``register`` leaves a version that
beats the champion as ``candidate`` and ``approve_promotion`` asks (Airflow's
Human-in-the-loop ``ApprovalOperator``: the run's "Required actions" page, or
the REST API's ``hitlDetails``); ``promote`` moves ``champion`` once approved.
A rejection, or no answer within ``TWEETBOT_APPROVAL_TIMEOUT`` (default 12
hours; the run, and so the next night's, waits that long at most), skips
``promote``: the champion stays where it was and the version ``candidate``.
Without ``require_approval``, or when the version did not win, nothing is
asked and the task is skipped.
"""

from __future__ import annotations

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk.exceptions import AirflowSkipException

from tweetbot_alerts import APPROVAL_TIMEOUT_VARIABLE, ApprovalRequested, duration


class PromotionApproval(ApprovalOperator):
    template_fields = (*ApprovalOperator.template_fields, "registration")

    def __init__(self, *, registration, **kwargs):
        super().__init__(
            subject="Promote the new version to champion?",
            body="The version beats the champion on the test split.",
            defaults=ApprovalOperator.REJECT,  # no answer in time: it stays candidate
            response_timeout=duration(APPROVAL_TIMEOUT_VARIABLE, "PT12H"),
            notifiers=[ApprovalRequested()], **kwargs)
        self.registration = registration

    def execute(self, context):
        registration = self.registration or {}
        if not registration.get("awaiting_approval"):
            raise AirflowSkipException("no approval to ask for: "
                                       + registration.get("verdict", "nothing was registered"))
        self.subject = f"Promote v{registration['version']} to champion?"
        self.body = registration["verdict"]
        return super().execute(context)
