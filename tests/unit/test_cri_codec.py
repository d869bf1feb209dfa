"""The CRI proto3 codec: hand-checked bytes, presence rules, and what a decoder must tolerate."""

from __future__ import annotations

import pytest

from kubeherd.kubelet.cri import (
    ContainerState,
    ContainerStatus,
    ExecSyncResult,
    Image,
    LinuxContainerResources,
    LinuxPodSandboxConfig,
    LinuxSandboxSecurityContext,
    NamespaceMode,
    NamespaceOption,
    PodSandboxConfig,
    PodSandboxMetadata,
    PortMapping,
    Protocol,
    ProtoError,
    decode,
    encode,
    grpc_target,
)
from kubeherd.kubelet.cri.messages import PodSandboxIdRequest


def test_sandbox_config_bytes_are_proto3() -> None:
    config = PodSandboxConfig(
        metadata=PodSandboxMetadata(name="a", uid="u", namespace="n", attempt=1),
        hostname="h", labels={"b": "2", "a": "1"},
        port_mappings=[PortMapping(protocol=Protocol.UDP, container_port=53, host_port=-1)],
        linux=LinuxPodSandboxConfig(security_context=LinuxSandboxSecurityContext(
            run_as_user=0, supplemental_groups=[1, 2, 300],
            namespace_options=NamespaceOption(pid=NamespaceMode.CONTAINER))))
    assert encode(config).hex() == "".join([
        "0a0b", "0a0161", "120175", "1a016e", "2001",  # metadata {name, uid, namespace, attempt}
        "120168",  # hostname
        "2a0f", "0801", "1035", "18ffffffffffffffffff01",  # port mapping: UDP, 53, -1 as 10-byte varint
        "3206", "0a0161", "120131", "3206", "0a0162", "120132",  # labels, sorted by key
        "420e", "120c",  # linux { security_context {
        "0a02", "1001",  # namespace_options { pid: CONTAINER }
        "1a00",  # run_as_user = 0 is present: an empty Int64Value
        "2a04", "0102ac02",  # supplemental_groups, packed
    ])
    assert decode(PodSandboxConfig, encode(config)) == config


def test_zero_scalars_are_omitted_and_unset_messages_absent() -> None:
    assert encode(PodSandboxConfig()) == b""
    assert encode(LinuxContainerResources(cpu_shares=0, memory_limit_in_bytes=0)) == b""
    # a present but empty message is written: proto3 presence
    assert encode(PodSandboxConfig(linux=LinuxPodSandboxConfig())) == bytes.fromhex("4200")


def test_decoding_tolerates_unknown_fields_unpacked_repeats_and_new_enum_values() -> None:
    data = bytes.fromhex(
        "0a0161"  # id
        "1802"  # state EXITED
        "3805"  # exit_code 5
        "a2060378797a"  # field 100 (unknown, length-delimited): skipped
        "c8060f"  # field 105 (unknown varint): skipped
    )
    status = decode(ContainerStatus, data)
    assert (status.id, status.state, status.exit_code) == ("a", ContainerState.CONTAINER_EXITED, 5)
    assert decode(PodSandboxIdRequest, bytes.fromhex("10501051")).port == [80, 81]  # unpacked repeats
    assert decode(PodSandboxIdRequest, bytes.fromhex("12025051")).port == [80, 81]  # packed
    assert decode(ContainerStatus, bytes.fromhex("1809")).state == 9  # an enum value newer than ours


def test_bytes_stay_bytes_and_negative_int32_round_trips() -> None:
    result = ExecSyncResult(stdout=b"\x00\xffhi\n", stderr=b"", exit_code=-1)
    assert decode(ExecSyncResult, encode(result)) == result


def test_uint64_wrappers_and_large_values() -> None:
    image = Image(id="sha256:x", size=(1 << 64) - 1, uid=0)
    decoded = decode(Image, encode(image))
    assert decoded.size == (1 << 64) - 1 and decoded.uid == 0
    assert decode(Image, encode(Image(id="x"))).uid is None


def test_malformed_input_raises() -> None:
    with pytest.raises(ProtoError):
        decode(ContainerStatus, bytes.fromhex("0a05616263"))  # a string longer than the message
    with pytest.raises(ProtoError):
        decode(ContainerStatus, bytes.fromhex("0a"))


@pytest.mark.parametrize(("endpoint", "target"), [
    ("/run/k3s/containerd/containerd.sock", "unix:///run/k3s/containerd/containerd.sock"),
    ("unix:///a/b.sock", "unix:///a/b.sock"),
    ("unix:/a/b.sock", "unix:///a/b.sock"),
])
def test_endpoints(endpoint: str, target: str) -> None:
    assert grpc_target(endpoint) == target


def test_tcp_endpoints_are_refused() -> None:
    with pytest.raises(ValueError, match="unix socket"):
        grpc_target("tcp://127.0.0.1:1234")
