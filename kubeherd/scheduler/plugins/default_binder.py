"""DefaultBinder: bind through the API — POST a Binding to the pod's `binding` subresource."""

from __future__ import annotations

from kubeherd.scheduler.framework import BindPlugin, CycleState
from kubeherd.scheduler.podinfo import PodInfo
from kubeherd.scheduler.types import Code, Status

NAME = "DefaultBinder"


def binding_for(pod: PodInfo, node_name: str) -> dict[str, object]:
    """The v1 Binding object upstream's binder sends."""
    return {"apiVersion": "v1", "kind": "Binding",
            "metadata": {"name": pod.name, "namespace": pod.namespace, "uid": pod.uid},
            "target": {"kind": "Node", "name": node_name}}


class DefaultBinder(BindPlugin):
    name = NAME

    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        api = self.handle.api
        if api is None:
            return Status(Code.ERROR, "no API to bind with")
        try:
            await api.bind(pod, binding_for(pod, node_name))
        except Exception as exc:
            return Status(Code.ERROR, str(exc))
        return None
