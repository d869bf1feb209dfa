"""``--kubelet-arg KEY=VALUE`` parsing: upstream flag names and value formats, bad input refused."""

from __future__ import annotations

import pytest

from kubeherd.kubelet.config import DEFAULT_EVICTION_HARD, KubeletConfig, parse_kubelet_args


def test_defaults_are_upstreams() -> None:
    config = parse_kubelet_args([])
    assert config.eviction_hard == DEFAULT_EVICTION_HARD
    assert config.eviction_soft == {} and config.eviction_pressure_transition_period == 300
    assert (config.container_log_max_size, config.container_log_max_files) == (10 * 1024 * 1024, 5)
    assert config.file_check_frequency == 20 and config.housekeeping_interval == 10


def test_eviction_thresholds_replace_the_defaults() -> None:
    config = parse_kubelet_args(["--eviction-hard=memory.available<1Gi,nodefs.available<5%"])
    assert config.eviction_hard == {"memory.available": "1Gi", "nodefs.available": "5%"}


def test_soft_thresholds_with_grace_periods_and_minimum_reclaim() -> None:
    config = parse_kubelet_args([
        "eviction-soft=memory.available<1.5Gi,imagefs.available<20%",
        "eviction-soft-grace-period=memory.available=1m30s,imagefs.available=2m",
        "eviction-minimum-reclaim=memory.available=0Mi,imagefs.available=2Gi",
        "eviction-max-pod-grace-period=30", "eviction-pressure-transition-period=30s",
        "housekeeping-interval=500ms", "file-check-frequency=5s", "container-log-monitor-interval=1s",
        "container-log-max-size=1Mi", "container-log-max-files=3", "pod-manifest-path=/etc/pods"])
    assert config.eviction_soft == {"memory.available": "1.5Gi", "imagefs.available": "20%"}
    assert config.eviction_soft_grace_period == {"memory.available": 90.0, "imagefs.available": 120.0}
    assert config.eviction_minimum_reclaim == {"memory.available": "0Mi", "imagefs.available": "2Gi"}
    assert config.eviction_max_pod_grace_period == 30 and config.eviction_pressure_transition_period == 30
    assert (config.housekeeping_interval, config.file_check_frequency, config.container_log_monitor_interval) \
        == (0.5, 5, 1)
    assert (config.container_log_max_size, config.container_log_max_files) == (1024 * 1024, 3)
    assert config.pod_manifest_path == "/etc/pods"


def test_a_base_config_is_not_changed() -> None:
    base = KubeletConfig()
    parse_kubelet_args(["container-log-max-files=7"], base)
    assert base.container_log_max_files == 5


@pytest.mark.parametrize(("arg", "complaint"), [
    ("eviction-hard=memory.available>1Gi", "want SIGNAL<QUANTITY"),
    ("eviction-hard=memory.free<1Gi", "unknown eviction signal 'memory.free'"),
    ("eviction-hard=memory.available<lots", "memory.available<lots"),
    ("eviction-hard=nodefs.available<150%", "at most 100%"),
    ("eviction-hard=nodefs.available<0%", "more than 0%"),
    ("eviction-soft=memory.available<1Gi", "no grace period for soft eviction threshold memory.available"),
    ("eviction-soft-grace-period=memory.available", "want SIGNAL=DURATION"),
    ("eviction-soft-grace-period=memory.available=soon", "invalid duration"),
    ("eviction-minimum-reclaim=memory.available<1Gi", "want SIGNAL=QUANTITY"),
    ("housekeeping-interval=0s", "must be a positive duration"),
    ("container-log-max-files=1", "at least 2"),
    ("container-log-max-size=0", "must be positive"),
    ("eviction-max-pod-grace-period=soon", "eviction-max-pod-grace-period"),
    ("no-such-flag=1", "unknown kubelet setting"),
    ("file-check-frequency", "want KEY=VALUE"),
])
def test_bad_settings_are_refused_naming_them(arg: str, complaint: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_kubelet_args([arg])
    assert complaint in str(info.value), str(info.value)
