"""Job: run pods until enough of them succeed, or give up, and account for every finished pod once.

Design decisions (upstream `pkg/controller/job` is the specification):

- **Tracking finalizers.** Every pod the controller creates (or adopts) carries the
  `batch.kubernetes.io/job-tracking` finalizer, so a finished pod cannot vanish before the Job
  has counted it. Counting is a three-step protocol that survives a crash between any two steps:
  (1) write the finished pod's uid into `status.uncountedTerminatedPods`, (2) remove the pod's
  finalizer, (3) move uids whose pods no longer carry the finalizer (or are gone) from the
  uncounted lists into `status.succeeded`/`status.failed`. Indexed Jobs count successes by index
  (`status.completedIndexes`), which is idempotent by itself. Status writes go through the status
  subresource with the cached resourceVersion, so a stale cache gets a 409, never a double count;
  finalizer removals the cache has not caught up with are remembered per Job (as upstream's
  finalizer expectations) and treated as done.
- **Everything else derives from the API on each sync**: active/ready/terminating from pods,
  the pod-failure back-off (10 s doubling, capped as upstream's `MaxJobPodFailureBackOff`) from
  the finish times of the Job's failed and succeeded pods rather than an in-memory record, the
  deadline from `status.startTime`.
- **Terminal conditions in two steps**, as 1.33 does with JobManagedBy/JobPodReplacementPolicy
  on: first the interim `FailureTarget` or `SuccessCriteriaMet`, then — once no pod is left
  terminating and nothing is uncounted — `Failed` or `Complete`. Events: SuccessfulCreate,
  SuccessfulDelete, FailedCreate, Suspended/Resumed, Completed, and the failure reason
  (BackoffLimitExceeded, DeadlineExceeded, PodFailurePolicy, FailedIndexes, ...).
- Pods the controller removes on purpose (scale-down, suspend) lose their finalizer first, so
  they are not counted as failures; pods removed because the Job failed keep it and are counted.
- Not done: the per-index "delayed deletion" of the last failed pod (the failed pods stay in the
  API anyway, and their annotations carry the per-index failure counts).
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kubeherd.api.selectors import label_selector_from_dict
from kubeherd.client import JSON_PATCH, APIStatusError, Expectations, object_key
from kubeherd.client.informer import index_by_owner_uid
from kubeherd.controllers.base import (
    JOBS,
    PODS,
    Context,
    Controller,
    claim_candidates,
    claim_objects,
    controller_of,
    owner_reference,
)
from kubeherd.controllers.podutil import (
    condition,
    deletion_rank,
    is_active,
    is_ready,
    now,
    parse_time,
    rfc3339,
)

log = logging.getLogger(__name__)

Obj = dict[str, Any]

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
INDEX_FAILURE_COUNT = "batch.kubernetes.io/job-index-failure-count"
INDEX_IGNORED_FAILURE_COUNT = "batch.kubernetes.io/job-index-ignored-failure-count"
CONTROLLER_NAME = "kubernetes.io/job-controller"
COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"
MAX_UNCOUNTED_PODS = 500
MAX_CREATE_DELETE_PER_SYNC = 500
MAX_GENERATED_NAME_LENGTH = 58
OWNER_INDEX = "owner-uid"
ORPHAN_PREFIX = "orphan-pod:"
TERMINAL = ("Succeeded", "Failed")


# ----------------------------------------------------------------------------- pure helpers
def parse_indexes(text: str | None, completions: int) -> set[int]:
    """`"0-2,4"` → {0, 1, 2, 4}, ignoring indexes at or above `completions` (as upstream)."""
    result: set[int] = set()
    for part in (text or "").split(","):
        first, _, last = part.partition("-")
        try:
            lo = int(first)
            hi = int(last) if last else lo
        except ValueError:
            continue
        if lo >= completions:
            break
        result.update(range(lo, min(hi, completions - 1) + 1))
    return result


def format_indexes(indexes: Iterable[int]) -> str:
    """{0, 1, 2, 4, 6, 7} → `"0-2,4,6,7"`: runs of three or more as ranges, pairs as two numbers."""
    ordered = sorted(set(indexes))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        first, last = ordered[i], ordered[j]
        parts.append(str(first) if first == last else f"{first},{last}" if last == first + 1 else f"{first}-{last}")
        i = j + 1
    return ",".join(parts)


def completion_index(pod: Obj) -> int | None:
    value = (pod["metadata"].get("annotations") or {}).get(COMPLETION_INDEX)
    try:
        index = int(value) if value is not None else -1
    except ValueError:
        return None
    return index if index >= 0 else None


def has_finalizer(pod: Obj) -> bool:
    return TRACKING_FINALIZER in (pod["metadata"].get("finalizers") or [])


def job_condition(job: Obj, kind: str) -> Obj | None:
    found = condition(job, kind)
    return found if found and found.get("status") == "True" else None


def finished_type(job: Obj) -> str | None:
    """"Complete" or "Failed" once the Job is finished."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            return str(cond["type"])
    return None


def is_indexed(job: Obj) -> bool:
    return (job.get("spec") or {}).get("completionMode") == "Indexed"


def is_suspended(job: Obj) -> bool:
    return bool((job.get("spec") or {}).get("suspend"))


def only_replace_failed(job: Obj) -> bool:
    spec = job.get("spec") or {}
    return spec.get("podReplacementPolicy") == "Failed" or spec.get("podFailurePolicy") is not None


def is_terminating(pod: Obj) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp")) and (pod.get("status") or {}).get("phase") not in TERMINAL


def is_pod_failed(pod: Obj, job: Obj) -> bool:
    """Failed, or (unless only failed pods are replaced) deleted before it could succeed."""
    phase = (pod.get("status") or {}).get("phase")
    if phase == "Failed":
        return True
    if only_replace_failed(job):
        return False
    return bool(pod["metadata"].get("deletionTimestamp")) and phase != "Succeeded"


def match_pod_failure_policy(policy: Obj | None, pod: Obj) -> tuple[str | None, bool, str | None]:
    """(job failure message if a FailJob rule matched, whether the failure counts, matched action)."""
    if not policy:
        return None, True, None
    status = pod.get("status") or {}
    meta = pod["metadata"]
    for number, rule in enumerate(policy.get("rules") or []):
        action = rule.get("action")
        if rule.get("onExitCodes") is not None:
            matched = _match_exit_codes(status, rule["onExitCodes"])
            if matched is None:
                continue
            if action == "FailJob":
                code = matched["state"]["terminated"].get("exitCode")
                return (f"Container {matched.get('name')} for pod {meta.get('namespace')}/{meta['name']} failed with "
                        f"exit code {code} matching FailJob rule at index {number}"), True, action
        elif rule.get("onPodConditions") is not None:
            cond = _match_pod_conditions(status, rule["onPodConditions"])
            if cond is None:
                continue
            if action == "FailJob":
                return (f"Pod {meta.get('namespace')}/{meta['name']} has condition {cond.get('type')} matching "
                        f"FailJob rule at index {number}"), True, action
        else:
            continue
        if action == "Ignore":
            return None, False, action
        if action in ("Count", "FailIndex"):
            return None, True, action
    return None, True, None


def _match_exit_codes(status: Obj, requirement: Obj) -> Obj | None:
    wanted = requirement.get("containerName")
    values = requirement.get("values") or []
    for statuses in (status.get("containerStatuses") or [], status.get("initContainerStatuses") or []):
        for cs in statuses:
            terminated = (cs.get("state") or {}).get("terminated")
            if not terminated or (wanted and cs.get("name") != wanted):
                continue
            code = terminated.get("exitCode", 0)
            if code == 0:
                continue
            if (requirement.get("operator") == "In" and code in values) or \
                    (requirement.get("operator") == "NotIn" and code not in values):
                return dict(cs)
    return None


def _match_pod_conditions(status: Obj, patterns: list[Obj]) -> Obj | None:
    for cond in status.get("conditions") or []:
        for pattern in patterns:
            if cond.get("type") == pattern.get("type") and cond.get("status") == pattern.get("status", "True"):
                return dict(cond)
    return None


def finished_time(pod: Obj) -> datetime.datetime:
    """When a pod finished: its containers' last finish, else Ready=False, else deletion, else creation."""
    status = pod.get("status") or {}
    latest: datetime.datetime | None = None
    statuses = status.get("containerStatuses") or []
    for cs in statuses:
        at = parse_time(((cs.get("state") or {}).get("terminated") or {}).get("finishedAt"))
        if at is None:
            latest = None
            break
        latest = at if latest is None or at > latest else latest
    if latest is not None:
        return latest
    ready = condition(pod, "Ready")
    if ready and ready.get("status") == "False" and ready.get("lastTransitionTime"):
        at = parse_time(ready["lastTransitionTime"])
        if at is not None:
            return at
    meta = pod["metadata"]
    deleted = parse_time(meta.get("deletionTimestamp"))
    if deleted is not None:
        return deleted - datetime.timedelta(seconds=int(meta.get("deletionGracePeriodSeconds") or 0))
    return parse_time(meta.get("creationTimestamp")) or now()


def backoff_delay(failures: int, base: float, cap: float) -> float:
    """Seconds to wait before re-creating pods after `failures` failures in a row."""
    if failures <= 0:
        return 0.0
    return min(base * 2 ** min(failures - 1, 32), cap)


def new_condition(kind: str, status: str, reason: str, message: str, at: datetime.datetime) -> Obj:
    stamp = rfc3339(at)
    return {"type": kind, "status": status, "lastProbeTime": stamp, "lastTransitionTime": stamp,
            "reason": reason, "message": message}


def ensure_condition(conditions: list[Obj], kind: str, status: str, reason: str, message: str,
                     at: datetime.datetime) -> bool:
    """Set a condition (never adding one that is False); True when the list changed."""
    for i, cond in enumerate(conditions):
        if cond.get("type") == kind:
            if (cond.get("status"), cond.get("reason", ""), cond.get("message", "")) != (status, reason, message):
                conditions[i] = new_condition(kind, status, reason, message, at)
                return True
            return False
    if status != "False":
        conditions.append(new_condition(kind, status, reason, message, at))
        return True
    return False


def pod_generate_name(job_name: str, index: int | None) -> str:
    if index is None:
        prefix = f"{job_name}-"
        return prefix[:MAX_GENERATED_NAME_LENGTH] if len(prefix) > MAX_GENERATED_NAME_LENGTH else prefix
    suffix = f"-{index}-"
    prefix = job_name + suffix
    if len(prefix) > MAX_GENERATED_NAME_LENGTH:
        prefix = prefix[:MAX_GENERATED_NAME_LENGTH - len(suffix)] + suffix
    return prefix


def pod_for_job(job: Obj, index: int | None, failure_counts: tuple[int, int] | None = None) -> Obj:
    """A pod from the Job's template: tracking finalizer, controller reference and, when Indexed,
    the completion index as annotation, label, hostname and `JOB_COMPLETION_INDEX` (downward API)."""
    template = copy.deepcopy((job.get("spec") or {}).get("template") or {})
    tmeta = template.get("metadata") or {}
    spec = template.get("spec") or {}
    labels = dict(tmeta.get("labels") or {})
    annotations = dict(tmeta.get("annotations") or {})
    finalizers = list(tmeta.get("finalizers") or [])
    if TRACKING_FINALIZER not in finalizers:
        finalizers.append(TRACKING_FINALIZER)
    name = job["metadata"]["name"]
    if index is not None:
        annotations[COMPLETION_INDEX] = labels[COMPLETION_INDEX] = str(index)
        spec["hostname"] = f"{name}-{index}"
        for key in ("initContainers", "containers"):
            for container in spec.get(key) or []:
                env = container.setdefault("env", [])
                if not any(e.get("name") == COMPLETION_INDEX_ENV for e in env):
                    env.append({"name": COMPLETION_INDEX_ENV, "valueFrom": {"fieldRef": {
                        "fieldPath": f"metadata.labels['{COMPLETION_INDEX}']"}}})
        if failure_counts is not None:
            annotations[INDEX_FAILURE_COUNT] = str(failure_counts[0])
            if failure_counts[1]:
                annotations[INDEX_IGNORED_FAILURE_COUNT] = str(failure_counts[1])
    meta: Obj = {"generateName": pod_generate_name(name, index), "namespace": job["metadata"]["namespace"],
                 "finalizers": finalizers, "ownerReferences": [owner_reference(job)]}
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def active_pods_for_removal(job: Obj, pods: list[Obj], at_least: int) -> list[Obj]:
    """Pods to delete: for Indexed Jobs every duplicate or out-of-range index first, then the
    least valuable pods (unscheduled, pending, not ready, newest) until `at_least` are chosen."""
    remove: list[Obj] = []
    left = list(pods)
    if is_indexed(job):
        completions = int((job.get("spec") or {}).get("completions") or 0)
        by_index: dict[int, list[Obj]] = {}
        left = []
        for pod in pods:
            ix = completion_index(pod)
            if ix is None or ix >= completions:
                remove.append(pod)
            else:
                by_index.setdefault(ix, []).append(pod)
        for same in by_index.values():
            same.sort(key=deletion_rank)
            remove.extend(same[:-1])
            left.append(same[-1])
    if len(remove) < at_least:
        left.sort(key=deletion_rank)
        remove.extend(left[:at_least - len(remove)])
    return remove


def match_success_policy(policy: Obj | None, completions: int, succeeded: set[int]) -> str | None:
    if not policy or not succeeded:
        return None
    for number, rule in enumerate(policy.get("rules") or []):
        count = rule.get("succeededCount")
        if rule.get("succeededIndexes") is not None:
            required = parse_indexes(rule["succeededIndexes"], completions)
            if not required:
                continue
            contained = len(required & succeeded)
            if contained == len(required) or (count is not None and contained >= count):
                return f"Matched rules at index {number}"
        elif count is not None and len(succeeded) >= count:
            return f"Matched rules at index {number}"
    return None


def normalized_status(status: Obj) -> Obj:
    """The status as upstream serializes it: zero counters and empty lists left out."""
    out: Obj = {}
    if status.get("conditions"):
        out["conditions"] = status["conditions"]
    for key in ("startTime", "completionTime"):
        if status.get(key):
            out[key] = status[key]
    for key in ("active", "succeeded", "failed"):
        if status.get(key):
            out[key] = status[key]
    if status.get("completedIndexes"):
        out["completedIndexes"] = status["completedIndexes"]
    if status.get("failedIndexes") is not None:
        out["failedIndexes"] = status["failedIndexes"]
    unc = status.get("uncountedTerminatedPods") or {}
    out["uncountedTerminatedPods"] = {k: list(unc[k]) for k in ("succeeded", "failed") if unc.get(k)}
    out["ready"] = int(status.get("ready") or 0)
    out["terminating"] = int(status.get("terminating") or 0)
    return copy.deepcopy(out)


# ----------------------------------------------------------------------------- the controller
@dataclass
class _SyncState:
    """What one sync learns about a Job (upstream's syncJobCtx)."""

    key: str
    job: Obj
    pods: list[Obj]
    active: list[Obj]
    expected_removals: set[str]
    ready: int = 0
    terminating: int = 0
    succeeded: int = 0
    failed: int = 0
    prev_succeeded_indexes: set[int] = field(default_factory=set)
    succeeded_indexes: set[int] = field(default_factory=set)
    failed_indexes: set[int] | None = None
    finished: Obj | None = None
    written: Obj = field(default_factory=dict)

    @property
    def status(self) -> Obj:
        return self.job["status"]  # type: ignore[no-any-return]

    @property
    def uncounted(self) -> Obj:
        return self.status["uncountedTerminatedPods"]  # type: ignore[no-any-return]


class JobController(Controller):
    name = "job"
    workers = 4
    # upstream DefaultJobPodFailureBackOff / MaxJobPodFailureBackOff
    pod_failure_backoff = 10.0
    max_pod_failure_backoff = 600.0

    def __init__(self, ctx: Context, *, pod_failure_backoff: float | None = None,
                 clock: Callable[[], datetime.datetime] = now) -> None:
        super().__init__(ctx)
        if pod_failure_backoff is not None:
            self.pod_failure_backoff = pod_failure_backoff
        self.clock = clock
        self.expectations = Expectations()
        # pod uids whose finalizer removal this controller sent but has not seen yet, per Job key
        self.finalizer_expectations: dict[str, set[str]] = {}
        self.jobs = self.informer(JOBS)
        self.pods = self.informer(PODS)
        self.pods.indexer.add_indexer(OWNER_INDEX, index_by_owner_uid)
        self.jobs.add_handlers(on_add=self._job_added, on_update=self._job_updated, on_delete=self._job_deleted)
        self.pods.add_handlers(on_add=lambda pod: self._pod_event(None, pod, final=False),
                               on_update=lambda old, new: self._pod_event(old, new, final=False),
                               on_delete=lambda pod: self._pod_event(None, pod, final=True))

    # --- event handlers: only work out which keys to look at
    def _job_added(self, job: Obj) -> None:
        self.queue.add(object_key(job))

    def _job_updated(self, old: Obj, new: Obj) -> None:
        self.queue.add(object_key(new))
        if finished_type(new):  # a finished Job never strips finalizers in sync: do it for stragglers
            self._enqueue_pods_with_finalizer(new)

    def _job_deleted(self, job: Obj) -> None:
        self.queue.add(object_key(job))
        self._enqueue_pods_with_finalizer(job)

    def _enqueue_pods_with_finalizer(self, job: Obj) -> None:
        for pod in self.pods.indexer.by_index(OWNER_INDEX, job["metadata"].get("uid", "")):
            if has_finalizer(pod):
                self.queue.add(ORPHAN_PREFIX + object_key(pod))

    def _job_key(self, pod: Obj) -> str | None:
        """The key of the live Job controlling `pod` (matching uid), if any."""
        ref = controller_of(pod)
        if ref is None or ref.get("kind") != "Job":
            return None
        key = f"{pod['metadata']['namespace']}/{ref['name']}"
        job = self.jobs.indexer.get(key)
        return key if job is not None and job["metadata"].get("uid") == ref.get("uid") else None

    def _pod_event(self, old: Obj | None, pod: Obj, final: bool) -> None:
        meta = pod["metadata"]
        key = self._job_key(pod)
        deleting = bool(meta.get("deletionTimestamp"))
        if key is not None:
            was_deleting = bool(old and old["metadata"].get("deletionTimestamp"))
            if old is None and not final and not deleting:
                self.expectations.creation_observed(key)
            elif (final and not deleting) or (deleting and not was_deleting and not final):
                self.expectations.deletion_observed(key)
            if final or not has_finalizer(pod):
                self.finalizer_expectations.get(key, set()).discard(meta.get("uid", ""))
            self.queue.add(key)
            job = self.jobs.indexer.get(key)
            if job is not None and finished_type(job) and has_finalizer(pod) and not final:
                self.queue.add(ORPHAN_PREFIX + object_key(pod))
        elif has_finalizer(pod) and not final:
            ref = controller_of(pod)
            if ref is None or ref.get("kind") == "Job":
                self.queue.add(ORPHAN_PREFIX + object_key(pod))
        if old is not None:
            old_key = self._job_key(old)
            if old_key is not None and old_key != key:
                self.queue.add(old_key)
        if controller_of(pod) is None and not final and not deleting:
            labels = meta.get("labels") or {}
            if old is None or labels != (old["metadata"].get("labels") or {}) or controller_of(old) is not None:
                for job in self.jobs.indexer.objects(meta.get("namespace", "")):
                    selector = (job.get("spec") or {}).get("selector")
                    if selector and label_selector_from_dict(selector).matches(labels):
                        self.queue.add(object_key(job))

    # --- reconcile
    async def sync(self, key: str) -> None:
        if key.startswith(ORPHAN_PREFIX):
            await self._sync_orphan_pod(key[len(ORPHAN_PREFIX):])
            return
        cached = self.jobs.indexer.get(key)
        if cached is None:
            self.expectations.delete(key)
            self.finalizer_expectations.pop(key, None)
            return
        spec = cached.get("spec") or {}
        if spec.get("managedBy") not in (None, CONTROLLER_NAME) or finished_type(cached):
            return
        if spec.get("completionMode", "NonIndexed") not in ("NonIndexed", "Indexed"):
            self.recorder.record(cached, "Warning", "UnknownCompletionMode",
                                 "Skipped Job sync because completion mode is unknown")
            return
        await self._sync_job(key, copy.deepcopy(cached))

    async def _sync_job(self, key: str, job: Obj) -> None:
        spec = job["spec"]
        original = job.get("status") or {}
        status = job["status"] = copy.deepcopy(original)
        unc = dict(status.get("uncountedTerminatedPods") or {})
        status["uncountedTerminatedPods"] = {"succeeded": list(unc.get("succeeded") or []),
                                             "failed": list(unc.get("failed") or [])}
        satisfied = self.expectations.satisfied(key)
        pods = await self._claim(job)
        active = [p for p in pods if is_active(p)]
        st = _SyncState(key, job, pods, active, set(self.finalizer_expectations.get(key, ())), written=original)
        st.ready = sum(1 for p in active if is_ready(p))
        st.terminating = sum(1 for p in pods if is_terminating(p))
        new_succeeded, new_failed = self._new_finished_pods(st)
        policy = spec.get("podFailurePolicy")
        counted_failed = sum(1 for p in new_failed if match_pod_failure_policy(policy, p)[1])
        st.succeeded = int(status.get("succeeded") or 0) + len(new_succeeded) + len(st.uncounted["succeeded"])
        st.failed = int(status.get("failed") or 0) + counted_failed + len(st.uncounted["failed"])
        at = self.clock()
        if not status.get("startTime") and not is_suspended(job):
            status["startTime"] = rfc3339(at)

        finished = self._finished_condition(st, at)
        manage_error: BaseException | None = None
        if finished is not None:
            deleted, deleted_ready, manage_error = await self._delete_pods(key, job, active, strip=False)
            if deleted != len(active) or not satisfied:
                finished = None  # not every pod is accounted for yet: decide again next sync
            active_count = len(active) - deleted
            st.terminating += deleted
            st.ready -= deleted_ready
        else:
            managed = False
            active_count = len(active)
            if satisfied and not job["metadata"].get("deletionTimestamp"):
                active_count, manage_error = await self._manage(st)
                managed = True
            completions = spec.get("completions")
            # work-queue mode (no completions): done once any pod succeeded and none is left running
            done = st.succeeded > 0 if completions is None else st.succeeded >= int(completions)
            if done and active_count == 0:
                finished = new_condition("SuccessCriteriaMet", "True", "CompletionsReached",
                                         "Reached expected number of succeeded pods", at)
            elif managed:
                self._update_suspended(job, at)
        st.finished = finished
        status["active"] = active_count
        status["ready"] = st.ready
        status["terminating"] = st.terminating
        await self._track_status(st)
        if manage_error is not None:
            raise manage_error

    def _finished_condition(self, st: _SyncState, at: datetime.datetime) -> Obj | None:
        """The terminal (or interim) condition this sync reaches, if any; also works out the
        succeeded and failed indexes of an Indexed Job."""
        job, spec, pods = st.job, st.job["spec"], st.pods
        finished = job_condition(job, "SuccessCriteriaMet")
        target = job_condition(job, "FailureTarget")
        if finished is None and target is not None:
            finished = new_condition("Failed", "True", target.get("reason", ""), target.get("message", ""), at)
        if finished is None and spec.get("podFailurePolicy"):
            for pod in pods:
                message = match_pod_failure_policy(spec["podFailurePolicy"], pod)[0] \
                    if is_pod_failed(pod, job) else None
                if message is not None:
                    finished = new_condition("FailureTarget", "True", "PodFailurePolicy", message, at)
                    break
        if finished is None:
            if st.failed > int(spec.get("backoffLimit", 6)) or self._past_backoff_limit_on_failure(job, pods):
                finished = new_condition("FailureTarget", "True", "BackoffLimitExceeded",
                                         "Job has reached the specified backoff limit", at)
            elif spec.get("activeDeadlineSeconds") is not None and not is_suspended(job):
                started = parse_time(job["status"].get("startTime")) or at
                left = int(spec["activeDeadlineSeconds"]) - (at - started).total_seconds()
                if left <= 0:
                    finished = new_condition("FailureTarget", "True", "DeadlineExceeded",
                                             "Job was active longer than specified deadline", at)
                else:
                    self.queue.add_after(st.key, left)
        if not is_indexed(job):
            return finished
        completions = int(spec.get("completions") or 0)
        st.prev_succeeded_indexes = parse_indexes(job["status"].get("completedIndexes"), completions)
        st.succeeded_indexes = st.prev_succeeded_indexes | {
            ix for p in pods if (p.get("status") or {}).get("phase") == "Succeeded" and has_finalizer(p)
            and (ix := completion_index(p)) is not None and ix < completions}
        st.succeeded = len(st.succeeded_indexes)
        if spec.get("backoffLimitPerIndex") is not None:
            st.failed_indexes = parse_indexes(job["status"].get("failedIndexes"), completions) | {
                ix for p in pods if has_finalizer(p) and (ix := completion_index(p)) is not None
                and ix < completions and self._index_failed(job, p)}
            max_failed = spec.get("maxFailedIndexes")
            if finished is None and max_failed is not None and len(st.failed_indexes) > max_failed:
                finished = new_condition("FailureTarget", "True", "MaxFailedIndexesExceeded",
                                         "Job has exceeded the specified maximal number of failed indexes", at)
            elif finished is None and st.failed_indexes and \
                    len(st.failed_indexes) + len(st.succeeded_indexes) >= completions:
                finished = new_condition("FailureTarget", "True", "FailedIndexes", "Job has failed indexes", at)
        if finished is None:
            message = match_success_policy(spec.get("successPolicy"), completions, st.succeeded_indexes)
            if message is not None:
                finished = new_condition("SuccessCriteriaMet", "True", "SuccessPolicy", message, at)
        return finished

    @staticmethod
    def _past_backoff_limit_on_failure(job: Obj, pods: list[Obj]) -> bool:
        """restartPolicy OnFailure: container restarts count against backoffLimit."""
        spec = job["spec"]
        if ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") != "OnFailure":
            return False
        restarts = 0
        for pod in pods:
            status = pod.get("status") or {}
            if status.get("phase") in ("Running", "Pending"):
                for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
                    restarts += int(cs.get("restartCount") or 0)
        limit = int(spec.get("backoffLimit", 6))
        return restarts > 0 if limit == 0 else restarts >= limit

    @staticmethod
    def _index_failed(job: Obj, pod: Obj) -> bool:
        if not is_pod_failed(pod, job):
            return False
        _, counts, action = match_pod_failure_policy(job["spec"].get("podFailurePolicy"), pod)
        if action == "FailIndex":
            return True
        return counts and _annotation_int(pod, INDEX_FAILURE_COUNT) >= int(job["spec"]["backoffLimitPerIndex"])

    def _new_finished_pods(self, st: _SyncState) -> tuple[list[Obj], list[Obj]]:
        """Finished pods not yet reflected in status: they still carry the finalizer and are not uncounted."""
        job = st.job
        completions = int(job["spec"].get("completions") or 0)
        seen = set(st.uncounted["succeeded"]) | set(st.uncounted["failed"]) | st.expected_removals
        succeeded: list[Obj] = []
        failed: list[Obj] = []
        for pod in st.pods:
            if not has_finalizer(pod) or pod["metadata"].get("uid") in seen:
                continue
            if is_indexed(job) and ((ix := completion_index(pod)) is None or ix >= completions):
                continue
            if (pod.get("status") or {}).get("phase") == "Succeeded":
                succeeded.append(pod)
            elif is_pod_failed(pod, job):
                failed.append(pod)
        return succeeded, failed

    def _update_suspended(self, job: Obj, at: datetime.datetime) -> bool:
        conditions = job["status"].setdefault("conditions", [])
        if is_suspended(job):
            if ensure_condition(conditions, "Suspended", "True", "JobSuspended", "Job suspended", at):
                self.recorder.record(job, "Normal", "Suspended", "Job suspended")
                return True
        elif ensure_condition(conditions, "Suspended", "False", "JobResumed", "Job resumed", at):
            self.recorder.record(job, "Normal", "Resumed", "Job resumed")
            # activeDeadlineSeconds counts the time the Job is continuously active
            job["status"]["startTime"] = rfc3339(at)
            return True
        return False

    # --- pods: claim, create, delete
    async def _claim(self, job: Obj) -> list[Obj]:
        """The Job's pods, after releasing owned pods its selector no longer matches and adopting
        matching orphans (which get the tracking finalizer)."""
        raw = job["spec"].get("selector")
        selector = label_selector_from_dict(raw) if raw else None
        return await claim_objects(self.client, PODS, job, claim_candidates(self.pods, job),
                           lambda pod: selector is not None and selector.matches(pod["metadata"].get("labels") or {}),
                           finalizer=TRACKING_FINALIZER)

    async def _manage(self, st: _SyncState) -> tuple[int, BaseException | None]:
        """Create or delete pods towards the wanted number of active pods; returns the new count."""
        job, key, active = st.job, st.key, st.active
        spec = job["spec"]
        count = len(active)
        if is_suspended(job):
            doomed = active_pods_for_removal(job, active, count)
            removed, removed_ready, error = await self._delete_pods(key, job, doomed, strip=True)
            st.terminating += removed
            st.ready -= removed_ready
            return count - removed, error
        parallelism = int(spec.get("parallelism", 1))
        completions = spec.get("completions")
        if completions is None:  # work queue: once one pod succeeded, just let the others finish
            want = count if st.succeeded > 0 else parallelism
        else:
            want = max(0, min(int(completions) - st.succeeded, parallelism))
        doomed = active_pods_for_removal(job, active, max(0, count - want))[:MAX_CREATE_DELETE_PER_SYNC]
        if doomed:
            removed, removed_ready, error = await self._delete_pods(key, job, doomed, strip=True)
            st.terminating += removed
            st.ready -= removed_ready
            return count - removed, error
        diff = want - (st.terminating if only_replace_failed(job) else 0) - count
        if diff <= 0:
            return count, None
        per_index = is_indexed(job) and spec.get("backoffLimitPerIndex") is not None
        if not per_index:
            wait = self._backoff_remaining(job, st.pods)
            if wait > 0:
                self.queue.add_after(key, max(wait, 1.0))
                return count, None
        diff = min(diff, MAX_CREATE_DELETE_PER_SYNC)
        plans: list[tuple[int | None, tuple[int, int] | None]] = [(None, None)] * diff
        if is_indexed(job):
            indexes = self._first_pending_indexes(st, diff, int(completions or 0))
            plans = [(ix, None) for ix in indexes]
            if per_index:
                plans, wait = self._per_index_plans(st, indexes)
                if not plans:
                    if wait > 0:
                        self.queue.add_after(key, max(wait, 1.0))
                    return count, None
        created, error = await self._create_pods(key, job, plans)
        return count + created, error

    def _backoff_remaining(self, job: Obj, pods: list[Obj]) -> float:
        """Seconds until pods may be re-created after failures in a row (0: now)."""
        last_success: datetime.datetime | None = None
        failures: list[datetime.datetime] = []
        for pod in pods:
            phase = (pod.get("status") or {}).get("phase")
            if phase == "Succeeded":
                done = finished_time(pod)
                last_success = done if last_success is None or done > last_success else last_success
            elif phase == "Failed" or (is_pod_failed(pod, job) and has_finalizer(pod)):
                failures.append(finished_time(pod))
        if last_success is not None:
            failures = [f for f in failures if f > last_success]
        if not failures:
            return 0.0
        delay = backoff_delay(len(failures), self.pod_failure_backoff, self.max_pod_failure_backoff)
        return delay - (self.clock() - max(failures)).total_seconds()

    @staticmethod
    def _first_pending_indexes(st: _SyncState, count: int, completions: int) -> list[int]:
        taken = set(st.succeeded_indexes) | {ix for p in st.active if (ix := completion_index(p)) is not None}
        if only_replace_failed(st.job):
            taken |= {ix for p in st.pods if is_terminating(p) and (ix := completion_index(p)) is not None}
        taken |= st.failed_indexes or set()
        result: list[int] = []
        for ix in range(completions):
            if len(result) >= count:
                break
            if ix not in taken:
                result.append(ix)
        return result

    def _per_index_plans(self, st: _SyncState, indexes: list[int]
                         ) -> tuple[list[tuple[int | None, tuple[int, int] | None]], float]:
        """Indexes whose per-index back-off has passed, with the failure counts their pods carry."""
        job = st.job
        policy = job["spec"].get("podFailurePolicy")
        last_failed: dict[int, Obj] = {}
        for pod in st.pods:
            ix = completion_index(pod)
            if ix is None or not is_pod_failed(pod, job):
                continue
            best = last_failed.get(ix)
            if best is None or (_absolute_failures(pod), finished_time(pod)) >= \
                    (_absolute_failures(best), finished_time(best)):
                last_failed[ix] = pod
        plans: list[tuple[int | None, tuple[int, int] | None]] = []
        soonest = 0.0
        for ix in indexes:
            previous = last_failed.get(ix)
            if previous is None:
                plans.append((ix, (0, 0)))
                continue
            delay = backoff_delay(_absolute_failures(previous) + 1, self.pod_failure_backoff,
                                  self.max_pod_failure_backoff)
            wait = delay - (self.clock() - finished_time(previous)).total_seconds()
            if wait > 0:
                soonest = wait if not soonest else min(soonest, wait)
                continue
            counted = _annotation_int(previous, INDEX_FAILURE_COUNT)
            ignored = _annotation_int(previous, INDEX_IGNORED_FAILURE_COUNT)
            if match_pod_failure_policy(policy, previous)[1]:
                counted += 1
            else:
                ignored += 1
            plans.append((ix, (counted, ignored)))
        return plans, soonest

    async def _create_pods(self, key: str, job: Obj, plans: list[tuple[int | None, tuple[int, int] | None]]
                           ) -> tuple[int, BaseException | None]:
        """Create pods in slow-start batches (1, 2, 4, ...): a broken template fails fast."""
        self.expectations.expect(key, adds=len(plans))
        created, batch, position = 0, 1, 0
        while position < len(plans):
            chunk = plans[position:position + batch]
            position += len(chunk)
            results = await asyncio.gather(
                *(self.client.create(PODS, pod_for_job(job, ix, counts)) for ix, counts in chunk),
                return_exceptions=True)
            failed = [r for r in results if isinstance(r, BaseException)]
            for result in results:
                if not isinstance(result, BaseException):
                    created += 1
                    self.recorder.record(job, "Normal", "SuccessfulCreate",
                                         f"Created pod: {result['metadata']['name']}")
            if failed:
                self.expectations.lower(key, adds=len(failed) + len(plans) - position)
                if all(isinstance(f, APIStatusError) and _namespace_terminating(f) for f in failed):
                    return created, None
                self.recorder.record(job, "Warning", "FailedCreate", f"Error creating: {failed[0]}")
                return created, failed[0]
            batch *= 2
        return created, None

    async def _delete_pods(self, key: str, job: Obj, pods: list[Obj], *, strip: bool
                           ) -> tuple[int, int, BaseException | None]:
        """Delete pods; `strip` first removes the tracking finalizer so they do not count as
        failures (and sets expectations). Returns (deleted, of which were ready, first error)."""
        if not pods:
            return 0, 0, None
        if strip:
            self.expectations.expect(key, deletes=len(pods))

        async def delete(pod: Obj) -> bool:
            name = pod["metadata"]["name"]
            try:
                if strip and has_finalizer(pod):
                    await self._strip_finalizer(pod)
                await self.client.delete(PODS, name, pod["metadata"]["namespace"])
            except APIStatusError as exc:
                if strip:
                    self.expectations.lower(key, deletes=1)
                if exc.code != 404:
                    raise
                return True
            self.recorder.record(job, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")
            return True

        results = await asyncio.gather(*(delete(p) for p in pods), return_exceptions=True)
        deleted = sum(1 for r in results if r is True)
        ready = sum(1 for p, r in zip(pods, results, strict=True) if r is True and is_ready(p))
        errors = [r for r in results if isinstance(r, BaseException)]
        return deleted, ready, errors[0] if errors else None

    async def _strip_finalizer(self, pod: Obj) -> None:
        finalizers = pod["metadata"].get("finalizers") or []
        if TRACKING_FINALIZER not in finalizers:
            return
        at = finalizers.index(TRACKING_FINALIZER)
        patch = [{"op": "test", "path": f"/metadata/finalizers/{at}", "value": TRACKING_FINALIZER},
                 {"op": "remove", "path": f"/metadata/finalizers/{at}"}]
        await self.client.patch(PODS, pod["metadata"]["name"], patch, pod["metadata"]["namespace"],
                                content_type=JSON_PATCH)

    async def _sync_orphan_pod(self, pod_key: str) -> None:
        """Remove the tracking finalizer from a pod no unfinished Job accounts for."""
        pod = self.pods.indexer.get(pod_key)
        if pod is None or not has_finalizer(pod):
            return
        ref = controller_of(pod)
        if ref is not None:
            if ref.get("kind") != "Job" or ref.get("apiVersion") != "batch/v1":
                return
            namespace = pod["metadata"]["namespace"]
            job = self.jobs.indexer.get(f"{namespace}/{ref['name']}")
            if job is None or job["metadata"].get("uid") != ref.get("uid"):
                try:  # the cache may lag behind: make sure the Job is really gone
                    job = await self.client.get(JOBS, ref["name"], namespace)
                except APIStatusError as exc:
                    if exc.code != 404:
                        raise
                    job = None
                if job is not None and job["metadata"].get("uid") != ref.get("uid"):
                    job = None
            if job is not None and ((job.get("spec") or {}).get("managedBy") not in (None, CONTROLLER_NAME)
                                    or not finished_type(job)):
                return
        try:
            await self._strip_finalizer(pod)
        except APIStatusError as exc:
            if exc.code != 404:
                raise

    # --- status: count finished pods exactly once
    def _can_remove_finalizer(self, st: _SyncState, pod: Obj, failed: bool) -> bool:
        return bool(st.job["metadata"].get("deletionTimestamp")) or st.finished is not None or failed \
            or (pod.get("status") or {}).get("phase") == "Succeeded"

    async def _track_status(self, st: _SyncState) -> None:
        job, status, uncounted = st.job, st.status, st.uncounted
        spec = job["spec"]
        indexed = is_indexed(job)
        completions = int(spec.get("completions") or 0)
        pods = sorted(st.pods, key=_index_or_minus_one) if indexed else st.pods
        with_finalizer = {p["metadata"]["uid"] for p in pods
                          if has_finalizer(p) and p["metadata"]["uid"] not in st.expected_removals}
        _count_uncounted(status, with_finalizer)
        to_release: list[Obj] = []
        new_indexes: list[int] = []
        reached_max = False
        for pod in pods:
            uid = pod["metadata"]["uid"]
            if not has_finalizer(pod) or uid in st.expected_removals:
                continue
            failed = is_pod_failed(pod, job)
            if not self._can_remove_finalizer(st, pod, failed):
                continue
            to_release.append(pod)
            ix = completion_index(pod)
            if (pod.get("status") or {}).get("phase") == "Succeeded" and uid not in uncounted["failed"]:
                if indexed:
                    if ix is not None and ix < completions and ix not in st.prev_succeeded_indexes:
                        new_indexes.append(ix)
                elif uid not in uncounted["succeeded"]:
                    uncounted["succeeded"].append(uid)
            elif (failed or (st.finished is not None and st.finished["type"] != "SuccessCriteriaMet")) \
                    and uid not in uncounted["failed"] and (not indexed or (ix is not None and ix < completions)) \
                    and match_pod_failure_policy(spec.get("podFailurePolicy"), pod)[1]:
                # once the Job is finished, every pod still running counts as failed
                uncounted["failed"].append(uid)
            if len(new_indexes) + len(uncounted["succeeded"]) + len(uncounted["failed"]) >= MAX_UNCOUNTED_PODS:
                reached_max = True
                break
        if indexed:
            st.succeeded_indexes |= set(new_indexes)
            status["completedIndexes"] = format_indexes(st.succeeded_indexes)
            status["succeeded"] = len(st.succeeded_indexes)
            if st.failed_indexes is not None:
                status["failedIndexes"] = format_indexes(st.failed_indexes)
        final = st.finished
        conditions = status.setdefault("conditions", [])
        if final is not None and final["type"] == "FailureTarget":
            conditions.append(final)
            final = new_condition("Failed", "True", final["reason"], final["message"], self.clock())
        elif final is not None and final["type"] == "SuccessCriteriaMet":
            if job_condition(job, "SuccessCriteriaMet") is None:
                conditions.append(final)
            final = new_condition("Complete", "True", final["reason"], final["message"], self.clock())
        await self._write_status(st)

        error: BaseException | None = None
        if to_release:
            released, error = await self._release_finalizers(st.key, to_release)
            with_finalizer -= released
        _count_uncounted(status, with_finalizer)
        if error is not None:
            await self._write_status(st)
            raise error
        finished_now = False
        if not reached_max and final is not None and not uncounted["succeeded"] and not uncounted["failed"] \
                and st.terminating == 0:
            ensure_condition(conditions, final["type"], "True", final["reason"], final["message"], self.clock())
            if final["type"] == "Complete":
                status["completionTime"] = final["lastTransitionTime"]
            finished_now = True
        await self._write_status(st)
        if finished_now:
            if final is not None and final["type"] == "Complete":
                completions_spec = spec.get("completions")
                if completions_spec is not None and int(status.get("succeeded") or 0) > int(completions_spec):
                    self.recorder.record(job, "Warning", "TooManySucceededPods",
                                         "Too many succeeded pods running after completion count reached")
                self.recorder.record(job, "Normal", "Completed", "Job completed")
            elif final is not None:
                self.recorder.record(job, "Warning", final["reason"], final["message"])

    async def _release_finalizers(self, key: str, pods: list[Obj]) -> tuple[set[str], BaseException | None]:
        uids = [p["metadata"]["uid"] for p in pods]
        self.finalizer_expectations.setdefault(key, set()).update(uids)

        async def release(pod: Obj) -> None:
            try:
                await self._strip_finalizer(pod)
            except APIStatusError as exc:
                if exc.code == 404:
                    return
                self.finalizer_expectations.get(key, set()).discard(pod["metadata"]["uid"])
                raise

        results = await asyncio.gather(*(release(p) for p in pods), return_exceptions=True)
        released = {uid for uid, r in zip(uids, results, strict=True) if not isinstance(r, BaseException)}
        errors = [r for r in results if isinstance(r, BaseException)]
        return released, errors[0] if errors else None

    async def _write_status(self, st: _SyncState) -> None:
        status = normalized_status(st.status)
        if status == st.written:
            return
        job = {**st.job, "status": status}
        try:
            updated = await self.client.update_status(JOBS, job)
        except APIStatusError as exc:
            if exc.code == 404:
                return
            raise
        st.job["metadata"]["resourceVersion"] = updated["metadata"]["resourceVersion"]
        st.written = status


def _count_uncounted(status: Obj, with_finalizer: set[str]) -> None:
    """Move uids whose pods lost their finalizer from the uncounted lists into the counters."""
    uncounted = status["uncountedTerminatedPods"]
    for kind in ("succeeded", "failed"):
        keep = [uid for uid in uncounted[kind] if uid in with_finalizer]
        status[kind] = int(status.get(kind) or 0) + len(uncounted[kind]) - len(keep)
        uncounted[kind] = keep


def _index_or_minus_one(pod: Obj) -> int:
    ix = completion_index(pod)
    return -1 if ix is None else ix


def _annotation_int(pod: Obj, name: str) -> int:
    try:
        value = int((pod["metadata"].get("annotations") or {}).get(name, 0))
    except ValueError:
        return 0
    return value if 0 <= value <= 2**31 - 1 else 0


def _absolute_failures(pod: Obj) -> int:
    return _annotation_int(pod, INDEX_FAILURE_COUNT) + _annotation_int(pod, INDEX_IGNORED_FAILURE_COUNT)


def _namespace_terminating(exc: APIStatusError) -> bool:
    causes = (exc.status.get("details") or {}).get("causes") or []
    return any(c.get("reason") == "NamespaceTerminating" for c in causes)
