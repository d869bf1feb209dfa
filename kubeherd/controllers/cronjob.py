"""CronJob: create a Job at each scheduled time, honour the concurrency policy, prune history.

Design decisions (upstream `pkg/controller/cronjob/cronjob_controllerv2.go` is the specification):

- **No polling.** Each sync works out the next schedule time and re-queues the key for exactly
  then (plus 100 ms, as upstream, for clock skew) with `queue.add_after`; Job and CronJob events
  enqueue it immediately. A sync with nothing due only re-arms the timer.
- **Crash-safe by naming.** A Job's name is `<cronjob>-<scheduled time in minutes since the
  epoch>`, so a restart between creating the Job and recording it in `status.active` cannot
  start the same run twice: the create answers AlreadyExists and the Job is adopted into the
  active list. All other state (`status.active`, `lastScheduleTime`, `lastSuccessfulTime`) is
  reconciled against the Jobs the cache shows on every pass.
- **Missed schedules** after downtime: only the most recent missed time is started (upstream
  counts them approximately from the interval between two fire times); more than 100 missed
  yields a `TooManyMissedTimes` warning; `startingDeadlineSeconds` bounds how late a start
  may be (`MissSchedule` otherwise).
- **Schedules** are parsed by croniter (5 fields, or `@hourly`-style macros); `@every <duration>`
  (which robfig/cron accepts) is handled here. Times are computed in `spec.timeZone`, else UTC
  (upstream uses kube-controller-manager's local zone, which is UTC in practice); a `TZ=`/
  `CRON_TZ=` prefix works but draws the `UnsupportedSchedule` warning, as upstream.
- The API defaults `successfulJobsHistoryLimit` to 3 and `failedJobsHistoryLimit` to 1; a CronJob
  that lacks them is treated as if it had those defaults.
"""

from __future__ import annotations

import copy
import datetime
import logging
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from croniter import croniter
from croniter.croniter import CroniterBadCronError, CroniterBadDateError, CroniterError

from kubeherd.client import APIStatusError
from kubeherd.client.informer import index_by_owner_uid
from kubeherd.controllers.base import CRONJOBS, JOBS, Context, Controller, controller_of, owner_reference
from kubeherd.controllers.podutil import now, parse_time, rfc3339

log = logging.getLogger(__name__)

Obj = dict[str, Any]
UTC = datetime.UTC
SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"
NEXT_SCHEDULE_DELTA = 0.1
MANY_MISSED = 100
OWNER_INDEX = "owner-uid"
_GO_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class ScheduleError(ValueError):
    """The schedule cannot be parsed, or names no time that can ever come."""


def load_zone(name: str) -> datetime.tzinfo:
    if name in ("", "UTC"):
        return UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ScheduleError(f"unknown time zone {name}") from None


def _go_duration(text: str) -> float:
    if not text or _GO_DURATION.sub("", text):
        raise ScheduleError(f"failed to parse duration {text}")
    return sum(float(value) * _UNIT_SECONDS[unit] for value, unit in _GO_DURATION.findall(text))


@dataclass(frozen=True)
class Schedule:
    """A cron schedule in a time zone; `next(t)` is the first fire time strictly after `t`."""

    expression: str
    zone: datetime.tzinfo
    every: float = 0.0  # `@every` schedules: a whole number of seconds
    prefixed: bool = False  # the expression carried its own TZ= / CRON_TZ= prefix

    def next(self, after: datetime.datetime) -> datetime.datetime:
        if self.every:
            base = after.replace(microsecond=0)
            return base + datetime.timedelta(seconds=self.every)
        try:
            result = croniter(self.expression, after.astimezone(self.zone)).get_next(datetime.datetime)
        except CroniterBadDateError as exc:
            raise ScheduleError(str(exc)) from None
        return result.astimezone(UTC)  # type: ignore[no-any-return]

    def latest(self, until: datetime.datetime) -> datetime.datetime | None:
        """The last fire time at or before `until` (cron expressions only)."""
        if self.every:
            return None
        start = until.astimezone(self.zone) + datetime.timedelta(microseconds=1)
        try:
            result = croniter(self.expression, start).get_prev(datetime.datetime)
        except CroniterBadDateError:
            return None
        return result.astimezone(UTC)  # type: ignore[no-any-return]


def parse_schedule(schedule: str, time_zone: str | None = None) -> Schedule:
    """Parse as robfig/cron's ParseStandard does: 5 fields or a macro, optional TZ prefix."""
    text = schedule.strip()
    zone: datetime.tzinfo = UTC
    prefixed = False
    if text.startswith(("TZ=", "CRON_TZ=")):
        head, _, text = text.partition(" ")
        zone = load_zone(head.split("=", 1)[1])
        text = text.strip()
        prefixed = True
    elif time_zone is not None:
        zone = load_zone(time_zone)
    if not text:
        raise ScheduleError("empty spec string")
    if text.startswith("@every"):
        seconds = _go_duration(text[len("@every"):].strip())
        return Schedule(text, zone, every=float(max(int(seconds), 1)), prefixed=prefixed)
    if not text.startswith("@"):
        fields = text.split()
        if len(fields) != 5:
            raise ScheduleError(f"expected exactly 5 fields, found {len(fields)}: {fields}")
        if any(c.isalpha() for c in "".join(fields[:3])):
            raise ScheduleError(f"failed to parse {text}")  # croniter's H/L/R extensions are not cron's
    try:
        croniter(text, datetime.datetime.now(UTC))
    except (CroniterBadCronError, CroniterError, ValueError, KeyError) as exc:
        raise ScheduleError(str(exc)) from None
    return Schedule(text, zone, prefixed=prefixed)


def most_recent_schedule_time(schedule: Schedule, earliest: datetime.datetime, now_: datetime.datetime
                              ) -> tuple[datetime.datetime | None, int]:
    """(the latest fire time in (earliest, now], roughly how many were missed since earliest).

    As upstream, the count is estimated from the interval between the first two fire times, and
    the scan starts near the end, so a CronJob asleep for years costs a few iterations; unlike
    upstream, an estimate that overshoots falls back to an exact look back from `now_`."""
    t1 = schedule.next(earliest)
    if now_ < t1:
        return None, 0
    t2 = schedule.next(t1)
    if now_ < t2:
        return t1, 0
    interval = round((t2 - t1).total_seconds())
    if interval < 1:
        raise ScheduleError("time difference between two schedules is less than 1 second")
    missed = int((now_ - t1).total_seconds()) // interval + 1
    t = schedule.next(t1 + datetime.timedelta(seconds=(missed - 2) * interval))
    latest: datetime.datetime | None = None
    while t <= now_:
        latest = t
        t = schedule.next(t)
    if latest is None:
        # The estimate overshot the last fire time of an irregular schedule (a weekday-only one
        # seen on a weekend): upstream starts nothing then; we know t2 <= now, so look back.
        latest = schedule.latest(now_)
    return latest, missed


def earliest_time(cronjob: Obj, now_: datetime.datetime, with_deadline: bool) -> datetime.datetime:
    status = cronjob.get("status") or {}
    earliest = parse_time(status.get("lastScheduleTime")) or parse_time(
        cronjob["metadata"].get("creationTimestamp")) or now_
    deadline = (cronjob.get("spec") or {}).get("startingDeadlineSeconds")
    if with_deadline and deadline is not None:
        earliest = max(earliest, now_ - datetime.timedelta(seconds=int(deadline)))
    return earliest


def next_schedule_delay(cronjob: Obj, schedule: Schedule, now_: datetime.datetime) -> float:
    """Seconds until the sync after the next fire time (upstream's nextScheduleTimeDuration)."""
    earliest = earliest_time(cronjob, now_, with_deadline=False)
    try:
        latest, missed = most_recent_schedule_time(schedule, earliest, now_)
        base = latest if latest is not None else earliest if missed == 0 else now_
        upcoming = schedule.next(base)
    except ScheduleError:
        upcoming = schedule.next(now_)
    return (upcoming - now_).total_seconds() + NEXT_SCHEDULE_DELTA


def job_name(cronjob: Obj, scheduled: datetime.datetime) -> str:
    return f"{cronjob['metadata']['name']}-{int(scheduled.timestamp()) // 60}"


def go_rfc3339(when: datetime.datetime) -> str:
    text = when.replace(microsecond=0).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def job_from_template(cronjob: Obj, scheduled: datetime.datetime) -> Obj:
    template = copy.deepcopy((cronjob.get("spec") or {}).get("jobTemplate") or {})
    tmeta = template.get("metadata") or {}
    annotations = dict(tmeta.get("annotations") or {})
    zone = (cronjob.get("spec") or {}).get("timeZone")
    try:
        local = scheduled.astimezone(load_zone(zone or ""))
    except ScheduleError:
        local = scheduled.astimezone(UTC)
    annotations[SCHEDULED_TIMESTAMP] = go_rfc3339(local)
    meta: Obj = {"name": job_name(cronjob, scheduled), "namespace": cronjob["metadata"]["namespace"],
                 "annotations": annotations, "ownerReferences": [owner_reference(cronjob)]}
    if tmeta.get("labels"):
        meta["labels"] = dict(tmeta["labels"])
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": template.get("spec") or {}}


def job_finished(job: Obj) -> str | None:
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            return str(cond["type"])
    return None


def history_to_delete(jobs: list[Obj], limit: int) -> list[Obj]:
    """The oldest finished Jobs beyond `limit` (by start time, then name; never-started last)."""
    excess = len(jobs) - limit
    if excess <= 0:
        return []

    def order(job: Obj) -> tuple[bool, str, str]:
        started = (job.get("status") or {}).get("startTime")
        return started is None, started or "", job["metadata"]["name"]

    return sorted(jobs, key=order)[:excess]


def job_reference(job: Obj) -> Obj:
    meta = job["metadata"]
    return {"kind": "Job", "namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"],
            "apiVersion": "batch/v1", "resourceVersion": meta.get("resourceVersion", "")}


class CronJobController(Controller):
    name = "cronjob"
    workers = 2

    def __init__(self, ctx: Context, *, clock: Callable[[], datetime.datetime] = now) -> None:
        super().__init__(ctx)
        self.clock = clock
        self.cronjobs = self.informer(CRONJOBS)
        self.jobs = self.informer(JOBS)
        self.jobs.indexer.add_indexer(OWNER_INDEX, index_by_owner_uid)
        self.watch(self.cronjobs)
        self.watch(self.jobs, self._owner_key)

    def _owner_key(self, job: Obj) -> list[str]:
        ref = controller_of(job)
        if ref is None or ref.get("kind") != "CronJob":
            return []
        key = f"{job['metadata']['namespace']}/{ref['name']}"
        cronjob = self.cronjobs.indexer.get(key)
        return [key] if cronjob is not None and cronjob["metadata"].get("uid") == ref.get("uid") else []

    async def sync(self, key: str) -> None:
        cached = self.cronjobs.indexer.get(key)
        if cached is None:
            return
        cronjob = copy.deepcopy(cached)
        cronjob.setdefault("status", {})
        uid = cronjob["metadata"]["uid"]
        jobs = [j for j in self.jobs.indexer.by_index(OWNER_INDEX, uid) if (controller_of(j) or {}).get("uid") == uid]
        changed = await self._cleanup_finished_jobs(cronjob, jobs)
        requeue, synced, error = await self._sync_cronjob(cronjob, jobs)
        if changed or synced:
            status = {k: v for k, v in cronjob["status"].items() if v not in (None, [])}
            try:
                await self.client.update_status(CRONJOBS, {**cronjob, "status": status})
            except APIStatusError as exc:
                if exc.code != 404:
                    raise
        if requeue is not None:
            self.queue.add_after(key, requeue)
        elif error is not None:
            raise error

    async def _sync_cronjob(self, cronjob: Obj, jobs: list[Obj]
                            ) -> tuple[float | None, bool, BaseException | None]:
        """Reconcile status with the Jobs, then start the run that is due, if any.
        Returns (seconds until the next look, whether status changed, error)."""
        at = self.clock()
        spec, status, meta = cronjob.get("spec") or {}, cronjob["status"], cronjob["metadata"]
        active: list[Obj] = status.setdefault("active", [])
        changed = False
        children = set()
        for job in jobs:
            uid = job["metadata"]["uid"]
            children.add(uid)
            listed = any(ref.get("uid") == uid for ref in active)
            finished = job_finished(job)
            if not listed and not finished:
                # our own status write may simply not be in the cache yet: ask the API
                try:
                    fresh = await self.client.get(CRONJOBS, meta["name"], meta["namespace"])
                except APIStatusError as exc:
                    return None, changed, None if exc.code == 404 else exc
                fresh.setdefault("status", {})
                if any(ref.get("uid") == uid for ref in fresh["status"].get("active") or []):
                    cronjob.clear()
                    cronjob.update(fresh)
                    spec, status, meta = cronjob.get("spec") or {}, cronjob["status"], cronjob["metadata"]
                    active = status.setdefault("active", [])
                    continue
                self.recorder.record(cronjob, "Warning", "UnexpectedJob",
                                     f"Saw a job that the controller did not create or forgot: {job['metadata']['name']}")
            elif listed and finished:
                active[:] = [ref for ref in active if ref.get("uid") != uid]
                self.recorder.record(cronjob, "Normal", "SawCompletedJob",
                                     f"Saw completed job: {job['metadata']['name']}, status: {finished}")
                changed = True
            elif finished == "Complete":
                completed = (job.get("status") or {}).get("completionTime")
                last = parse_time(status.get("lastSuccessfulTime"))
                when = parse_time(completed)
                if when is not None and (last is None or when > last):
                    status["lastSuccessfulTime"] = completed
                    changed = True
        for ref in list(active):
            if ref.get("uid") in children:
                continue
            try:  # the cache may lag behind: ask the API before calling the Job gone
                await self.client.get(JOBS, ref.get("name", ""), ref.get("namespace") or meta["namespace"])
            except APIStatusError as exc:
                if exc.code != 404:
                    return None, changed, exc
                self.recorder.record(cronjob, "Normal", "MissingJob", f"Active job went missing: {ref.get('name')}")
                active.remove(ref)
                changed = True
        if meta.get("deletionTimestamp"):
            return None, changed, None
        if spec.get("timeZone") is not None:
            try:
                load_zone(spec["timeZone"])
            except ScheduleError as exc:
                self.recorder.record(cronjob, "Warning", "UnknownTimeZone",
                                     f"invalid timeZone: {spec['timeZone']!r}: {exc}".replace("'", '"'))
                return None, changed, None
        if spec.get("suspend"):
            return None, changed, None
        try:
            schedule = parse_schedule(spec.get("schedule", ""), spec.get("timeZone"))
        except ScheduleError as exc:
            self.recorder.record(cronjob, "Warning", "UnparseableSchedule",
                                 f'unparseable schedule: "{spec.get("schedule", "")}" : {exc}')
            return None, changed, None
        if schedule.prefixed:
            self.recorder.record(cronjob, "Warning", "UnsupportedSchedule",
                                 f'CRON_TZ or TZ used in schedule "{spec.get("schedule")}" is not officially '
                                 "supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ "
                                 "for more details")
        try:
            scheduled, missed = most_recent_schedule_time(schedule, earliest_time(cronjob, at, True), at)
        except ScheduleError as exc:
            self.recorder.record(cronjob, "Warning", "InvalidSchedule",
                                 f"invalid schedule: {spec.get('schedule')} : {exc}")
            return None, changed, None
        delay = next_schedule_delay(cronjob, schedule, at)
        if scheduled is None:
            return delay, changed, None
        if missed > MANY_MISSED:
            self.recorder.record(cronjob, "Warning", "TooManyMissedTimes",
                                 "too many missed start times. Set or decrease .spec.startingDeadlineSeconds "
                                 "or check clock skew")
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None and scheduled + datetime.timedelta(seconds=int(deadline)) < at:
            self.recorder.record(cronjob, "Warning", "MissSchedule", "Missed scheduled time to start a job: "
                                 + scheduled.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000"))
            return delay, changed, None
        name = job_name(cronjob, scheduled)
        if any(ref.get("name") == name for ref in active) or \
                parse_time(status.get("lastScheduleTime")) == scheduled:
            return delay, changed, None
        policy = spec.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and active:
            self.recorder.record(cronjob, "Normal", "JobAlreadyActive",
                                 "Not starting job because prior execution is running and concurrency policy is Forbid")
            return delay, changed, None
        if policy == "Replace":
            for ref in list(active):
                try:
                    job = await self.client.get(JOBS, ref.get("name", ""), ref.get("namespace") or meta["namespace"])
                except APIStatusError as exc:
                    self.recorder.record(cronjob, "Warning", "FailedGet", f"Get job: {exc}")
                    return None, changed, exc
                if not await self._delete_job(cronjob, job):
                    return None, changed, RuntimeError(f"could not replace job {meta['namespace']}/{ref.get('name')}")
                changed = True
        request = job_from_template(cronjob, scheduled)
        try:
            created = await self.client.create(JOBS, request)
            self.recorder.record(cronjob, "Normal", "SuccessfulCreate", f"Created job {created['metadata']['name']}")
        except APIStatusError as exc:
            if exc.code != 409 or exc.reason != "AlreadyExists":
                if not _namespace_terminating(exc):
                    self.recorder.record(cronjob, "Warning", "FailedCreate", f"Error creating job: {exc}")
                return None, changed, exc
            # created before a crash, or by someone else: adopt it only if it is ours and unlisted
            try:
                created = await self.client.get(JOBS, name, meta["namespace"])
            except APIStatusError as get_exc:
                return None, changed, get_exc
            owner = controller_of(created)
            if owner is None or owner.get("uid") != meta["uid"] or \
                    any(r.get("uid") == created["metadata"]["uid"] for r in active):
                return None, changed, None
        active.append(job_reference(created))
        status["lastScheduleTime"] = rfc3339(scheduled)
        return delay, True, None

    async def _cleanup_finished_jobs(self, cronjob: Obj, jobs: list[Obj]) -> bool:
        spec = cronjob.get("spec") or {}
        succeeded = [j for j in jobs if job_finished(j) == "Complete"]
        failed = [j for j in jobs if job_finished(j) == "Failed"]
        changed = False
        for group, field, default in ((succeeded, "successfulJobsHistoryLimit", 3),
                                      (failed, "failedJobsHistoryLimit", 1)):
            limit = spec.get(field)
            for job in history_to_delete(group, default if limit is None else int(limit)):
                if await self._delete_job(cronjob, job):
                    changed = True
        return changed

    async def _delete_job(self, cronjob: Obj, job: Obj) -> bool:
        """Delete a Job and its pods (background propagation) and drop it from status.active."""
        name = job["metadata"]["name"]
        try:
            await self.client.delete(JOBS, name, job["metadata"]["namespace"], propagation="Background")
        except APIStatusError as exc:
            if exc.code != 404:
                self.recorder.record(cronjob, "Warning", "FailedDelete", f"Deleted job: {exc}")
                return False
        active = cronjob["status"].setdefault("active", [])
        active[:] = [r for r in active if r.get("uid") != job["metadata"]["uid"]]  # in place: callers hold it
        self.recorder.record(cronjob, "Normal", "SuccessfulDelete", f"Deleted job {name}")
        return True


def _namespace_terminating(exc: APIStatusError) -> bool:
    causes = (exc.status.get("details") or {}).get("causes") or []
    return any(c.get("reason") == "NamespaceTerminating" for c in causes)

