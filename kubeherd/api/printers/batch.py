"""Printers for ``batch``: Job and CronJob."""

from __future__ import annotations

import datetime
from collections.abc import Mapping

from ._format import (
    Cell,
    Obj,
    age,
    between,
    bool_word,
    condition_true,
    container_cells,
    dig,
    format_label_selector,
    integer,
    name,
    parse_time,
    seq,
    since,
)
from ._swagger import swagger
from ._table import AGE, NAME, WIDE_CONTAINERS, WIDE_IMAGES, Column, printer

JOB_COLUMNS = (
    NAME,
    Column("Status", "string", "Status of the job."),
    Column("Completions", "string", swagger("batch/v1 JobStatus.succeeded")),
    Column("Duration", "string", "Time required to complete the job."),
    AGE,
    WIDE_CONTAINERS,
    WIDE_IMAGES,
    Column("Selector", "string", swagger("batch/v1 JobSpec.selector"), priority=1),
)


def job_status(job: Obj) -> str:
    """Finished conditions win over deletion, deletion over Suspended and FailureTarget."""
    conditions = dig(job, "status", "conditions")
    if condition_true(conditions, "Complete"):
        return "Complete"
    if condition_true(conditions, "Failed"):
        return "Failed"
    if dig(job, "metadata", "deletionTimestamp") is not None:
        return "Terminating"
    if condition_true(conditions, "Suspended"):
        return "Suspended"
    if condition_true(conditions, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def job_completions(job: Obj) -> str:
    succeeded = integer(dig(job, "status", "succeeded"))
    completions = dig(job, "spec", "completions")
    if completions is not None:
        return f"{succeeded}/{integer(completions)}"
    parallelism = integer(dig(job, "spec", "parallelism"))
    if parallelism > 1:
        return f"{succeeded}/1 of {parallelism}"
    return f"{succeeded}/1"


def job_duration(job: Obj, now: datetime.datetime) -> str:
    start = parse_time(dig(job, "status", "startTime"))
    if start is None:
        return ""
    end = parse_time(dig(job, "status", "completionTime"))
    return between(start, end if end is not None else now)


@printer("batch", "Job", JOB_COLUMNS)
def job_row(job: Obj, now: datetime.datetime) -> list[Cell]:
    names, images = container_cells(dig(job, "spec", "template", "spec", "containers"))
    return [
        name(job),
        job_status(job),
        job_completions(job),
        job_duration(job, now),
        age(job, now),
        names,
        images,
        format_label_selector(dig(job, "spec", "selector")),
    ]


CRON_JOB_COLUMNS = (
    NAME,
    Column("Schedule", "string", swagger("batch/v1beta1 CronJobSpec.schedule")),
    Column("Timezone", "string", swagger("batch/v1beta1 CronJobSpec.timeZone")),
    Column("Suspend", "boolean", swagger("batch/v1beta1 CronJobSpec.suspend")),
    Column("Active", "integer", swagger("batch/v1beta1 CronJobStatus.active")),
    Column("Last Schedule", "string", swagger("batch/v1beta1 CronJobStatus.lastScheduleTime")),
    AGE,
    WIDE_CONTAINERS,
    WIDE_IMAGES,
    Column("Selector", "string", swagger("batch/v1 JobSpec.selector"), priority=1),
)


@printer("batch", "CronJob", CRON_JOB_COLUMNS)
def cron_job_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    spec = obj.get("spec") if isinstance(obj.get("spec"), Mapping) else {}
    job_spec = dig(spec, "jobTemplate", "spec")
    names, images = container_cells(dig(job_spec, "template", "spec", "containers"))
    last_schedule = dig(obj, "status", "lastScheduleTime")
    # SUSPEND is declared boolean but upstream sends the words True/False/<unset>.
    return [
        name(obj),
        str(dig(spec, "schedule", default="")),
        str(dig(spec, "timeZone", default="<none>")),
        bool_word(dig(spec, "suspend")),
        len(seq(dig(obj, "status", "active"))),
        "<none>" if last_schedule is None else since(last_schedule, now),
        age(obj, now),
        names,
        images,
        format_label_selector(dig(job_spec, "selector")),
    ]
