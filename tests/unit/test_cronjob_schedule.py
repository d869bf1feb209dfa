"""CronJob schedule arithmetic: parsing, next fire times, missed runs, Job names and templates."""

from __future__ import annotations

import datetime

import pytest

from kubeherd.controllers.cronjob import (
    SCHEDULED_TIMESTAMP,
    ScheduleError,
    history_to_delete,
    job_from_template,
    job_name,
    most_recent_schedule_time,
    next_schedule_delay,
    parse_schedule,
)

UTC = datetime.UTC


def at(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text).replace(tzinfo=UTC) if "+" not in text else \
        datetime.datetime.fromisoformat(text)


def cronjob(schedule: str = "* * * * *", created: str = "2024-05-01T10:00:30Z", last: str | None = None,
            **spec: object) -> dict:
    status = {"lastScheduleTime": last} if last else {}
    return {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "nightly", "namespace": "ns", "uid": "u-1", "creationTimestamp": created},
            "spec": {"schedule": schedule, "jobTemplate": {"metadata": {"labels": {"a": "b"},
                                                                        "annotations": {"x": "y"}},
                                                           "spec": {"template": {"spec": {}}}}, **spec},
            "status": status}


@pytest.mark.parametrize(("expr", "after", "expected"), [
    ("*/15 * * * *", "2024-05-01T10:07:00", "2024-05-01T10:15:00"),
    ("0 3 * * *", "2024-05-01T03:00:00", "2024-05-02T03:00:00"),  # strictly after
    ("@hourly", "2024-05-01T10:07:00", "2024-05-01T11:00:00"),
    ("@daily", "2024-05-01T10:07:00", "2024-05-02T00:00:00"),
    ("@midnight", "2024-05-01T10:07:00", "2024-05-02T00:00:00"),
    ("@weekly", "2024-05-01T10:07:00", "2024-05-05T00:00:00"),  # Sunday
    ("@monthly", "2024-05-01T10:07:00", "2024-06-01T00:00:00"),
    ("@yearly", "2024-05-01T10:07:00", "2025-01-01T00:00:00"),
    ("@annually", "2024-05-01T10:07:00", "2025-01-01T00:00:00"),
    ("0 9 * * MON-FRI", "2024-05-03T09:00:00", "2024-05-06T09:00:00"),  # Friday → Monday
    ("@every 1h30m", "2024-05-01T10:07:00.5", "2024-05-01T11:37:00"),
])
def test_next_fire_time(expr: str, after: str, expected: str) -> None:
    assert parse_schedule(expr).next(at(after)) == at(expected)


def test_time_zone_shifts_the_schedule() -> None:
    schedule = parse_schedule("0 9 * * *", "America/New_York")
    assert schedule.next(at("2024-05-01T12:00:00")) == at("2024-05-01T13:00:00")  # 09:00 EDT
    assert schedule.next(at("2024-12-01T12:00:00")) == at("2024-12-01T14:00:00")  # 09:00 EST


def test_tz_prefix_in_the_schedule_wins_and_is_flagged() -> None:
    schedule = parse_schedule("CRON_TZ=Asia/Tokyo 0 9 * * *", "Europe/Paris")
    assert schedule.prefixed
    assert schedule.next(at("2024-05-01T01:00:00")) == at("2024-05-02T00:00:00")


@pytest.mark.parametrize("bad", ["", "* * * *", "* * * * * *", "61 * * * *", "H * * * *", "@fortnightly",
                                 "@every forever", "TZ=Nowhere/City * * * * *"])
def test_unparseable_schedules(bad: str) -> None:
    with pytest.raises(ScheduleError):
        parse_schedule(bad)


def test_unknown_time_zone() -> None:
    with pytest.raises(ScheduleError, match="unknown time zone Mars/Olympus"):
        parse_schedule("* * * * *", "Mars/Olympus")


def test_impossible_date_is_an_error_when_computed() -> None:
    schedule = parse_schedule("0 0 31 2 *")  # valid syntax, no such day
    with pytest.raises(ScheduleError):
        most_recent_schedule_time(schedule, at("2024-01-01T00:00:00"), at("2024-06-01T00:00:00"))


def test_nothing_due_before_the_first_fire_time() -> None:
    schedule = parse_schedule("*/5 * * * *")
    assert most_recent_schedule_time(schedule, at("2024-05-01T10:00:30"), at("2024-05-01T10:04:59")) == (None, 0)


def test_exactly_one_due() -> None:
    schedule = parse_schedule("*/5 * * * *")
    latest, missed = most_recent_schedule_time(schedule, at("2024-05-01T10:00:30"), at("2024-05-01T10:07:00"))
    assert (latest, missed) == (at("2024-05-01T10:05:00"), 0)


def test_after_downtime_only_the_most_recent_missed_time_is_due() -> None:
    schedule = parse_schedule("0 * * * *")
    latest, missed = most_recent_schedule_time(schedule, at("2024-05-01T10:00:00"), at("2024-05-01T15:30:00"))
    assert latest == at("2024-05-01T15:00:00")
    assert missed == 5


def test_more_than_a_hundred_missed_is_counted() -> None:
    schedule = parse_schedule("* * * * *")
    latest, missed = most_recent_schedule_time(schedule, at("2024-05-01T10:00:00"), at("2024-05-01T12:00:30"))
    assert latest == at("2024-05-01T12:00:00")
    assert missed > 100


def test_irregular_schedule_after_a_long_sleep() -> None:
    schedule = parse_schedule("30 6-16/4 * * 1-5")
    latest, _ = most_recent_schedule_time(schedule, at("2023-01-02T00:00:00"), at("2024-05-04T12:00:00"))
    assert latest == at("2024-05-03T14:30:00")  # Friday's last run, it is Saturday


def test_next_delay_aims_just_past_the_next_fire_time() -> None:
    cj = cronjob("*/5 * * * *", last="2024-05-01T10:05:00Z")
    delay = next_schedule_delay(cj, parse_schedule("*/5 * * * *"), at("2024-05-01T10:07:00"))
    assert delay == pytest.approx(180.1)


def test_next_delay_after_missed_runs_counts_from_now() -> None:
    cj = cronjob("0 * * * *", last="2024-05-01T08:00:00Z")
    delay = next_schedule_delay(cj, parse_schedule("0 * * * *"), at("2024-05-01T10:30:00"))
    assert delay == pytest.approx(1800.1)


def test_job_is_named_after_the_scheduled_minute() -> None:
    assert job_name(cronjob(), at("2024-05-01T10:05:00")) == f"nightly-{1714557900 // 60}"


def test_job_from_template_carries_labels_annotations_owner_and_local_scheduled_time() -> None:
    job = job_from_template(cronjob(timeZone="Asia/Kolkata"), at("2024-05-01T10:05:00"))
    meta = job["metadata"]
    assert meta["name"] == "nightly-28575965"
    assert meta["labels"] == {"a": "b"}
    assert meta["annotations"]["x"] == "y"
    assert meta["annotations"][SCHEDULED_TIMESTAMP] == "2024-05-01T15:35:00+05:30"
    assert meta["ownerReferences"][0]["kind"] == "CronJob" and meta["ownerReferences"][0]["controller"]
    assert job["spec"] == {"template": {"spec": {}}}
    utc = job_from_template(cronjob(), at("2024-05-01T10:05:00"))
    assert utc["metadata"]["annotations"][SCHEDULED_TIMESTAMP] == "2024-05-01T10:05:00Z"


def test_history_keeps_the_newest() -> None:
    def job(name: str, started: str | None) -> dict:
        return {"metadata": {"name": name}, "status": {"startTime": started} if started else {}}

    jobs = [job("c", "2024-05-01T10:02:00Z"), job("a", "2024-05-01T10:00:00Z"), job("never", None),
            job("b", "2024-05-01T10:02:00Z")]
    assert [j["metadata"]["name"] for j in history_to_delete(jobs, 1)] == ["a", "b", "c"]
    assert history_to_delete(jobs, 4) == []
    assert [j["metadata"]["name"] for j in history_to_delete(jobs, 0)] == ["a", "b", "c", "never"]
