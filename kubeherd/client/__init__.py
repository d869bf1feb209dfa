"""The client library every component uses to reach the API (see each module's docstring)."""

from kubeherd.client.api import JSON_PATCH, MERGE, STRATEGIC, APIClient, APIStatusError, ResourceRef
from kubeherd.client.events import EventRecorder
from kubeherd.client.expectations import Expectations
from kubeherd.client.informer import Indexer, Informer, InformerFactory, object_key, split_key
from kubeherd.client.leaderelection import LeaderElector
from kubeherd.client.transport import HTTPTransport, Identity, InProcessTransport, KubeConfig, Transport
from kubeherd.client.workqueue import WorkQueue, run_workers

__all__ = [
    "JSON_PATCH", "MERGE", "STRATEGIC", "APIClient", "APIStatusError", "EventRecorder", "Expectations",
    "HTTPTransport", "Identity", "InProcessTransport", "Indexer", "Informer", "InformerFactory", "KubeConfig",
    "LeaderElector", "ResourceRef", "Transport", "WorkQueue", "object_key", "run_workers", "split_key",
]
