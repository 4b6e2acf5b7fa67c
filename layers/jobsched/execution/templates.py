"""Payload templates: a target with ``template: true`` has ``{{scheduled_time}}``, ``{{execution_id}}``,
``{{attempt}}`` and ``{{job_id}}`` in its payload filled in at each call.

Values are inserted JSON-escaped (as the inside of a JSON string), so a placeholder inside a JSON string
keeps the document valid whatever the value; ``{{attempt}}`` is digits, so it may also stand as a number.
A placeholder the service does not know is refused when the job is written (422 naming the field), so a
typo never reaches a target. Without ``template`` the payload is sent verbatim, braces and all.
"""

from __future__ import annotations

import json
import re
from datetime import UTC
from typing import TYPE_CHECKING

from jobsched.jobs.models import (
    EventBridgeTarget,
    HttpTarget,
    LambdaTarget,
    SnsTarget,
    SqsTarget,
    StepFunctionsTarget,
)

if TYPE_CHECKING:
    from jobsched.execution.ports import Delivery

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
PLACEHOLDERS = ("scheduled_time", "execution_id", "attempt", "job_id")

AnyTarget = HttpTarget | EventBridgeTarget | SqsTarget | LambdaTarget | SnsTarget | StepFunctionsTarget
# The one text field of each target type that a template fills.
PAYLOAD_FIELD: dict[type[AnyTarget], str] = {
    HttpTarget: "body",
    EventBridgeTarget: "detail",
    SqsTarget: "body",
    LambdaTarget: "payload",
    SnsTarget: "message",
    StepFunctionsTarget: "input",
}


def template_problems(target: AnyTarget) -> list[tuple[str, str]]:
    """(field, why) for placeholders the service does not fill; none for a target that is not a template."""
    if not target.template:
        return []
    name = PAYLOAD_FIELD[type(target)]
    text = getattr(target, name) or ""
    unknown = sorted({match.group(1) for match in PLACEHOLDER.finditer(text)} - set(PLACEHOLDERS))
    if not unknown:
        return []
    known = ", ".join("{{" + p + "}}" for p in PLACEHOLDERS)
    named = ", ".join("{{" + u + "}}" for u in unknown)
    return [(f"target.{name}", f"unknown placeholder {named}; a template may use {known}")]


def render(text: str, values: dict[str, str]) -> str:
    def fill(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        return match.group(0) if value is None else json.dumps(value)[1:-1]

    return PLACEHOLDER.sub(fill, text)


def rendered_target(target: AnyTarget, job_id: str, delivery: Delivery) -> AnyTarget:
    """The target as this call sends it: its payload filled in if it is a template, else itself."""
    if not target.template:
        return target
    name = PAYLOAD_FIELD[type(target)]
    text = getattr(target, name)
    if text is None:
        return target
    values = {
        "scheduled_time": delivery.scheduled_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "execution_id": delivery.execution_id,
        "attempt": str(delivery.attempt),
        "job_id": job_id,
    }
    # model_copy skips validation: a filled payload may exceed what a caller may store, not what is sent.
    return target.model_copy(update={name: render(text, values)})
