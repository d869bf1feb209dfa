"""Making sure a container's image is on the node, as upstream's kubelet image manager does.

For each container about to start, :meth:`ImageManager.ensure_image`:

1. parses the reference (``InvalidImageName`` if it does not parse) and appends ``:latest``
   when it names neither tag nor digest;
2. applies the pull policy (the container's, else the API default: ``Always`` for ``:latest``,
   ``IfNotPresent`` otherwise): a present image is used as is unless the policy is ``Always``;
   ``Never`` with no image is ``ErrImageNeverPull``;
3. pulls through CRI, trying each matching credential in turn — the pod's imagePullSecrets
   (ServiceAccount pull secrets are already in the pod: admission adds them) and then the
   node's own (``configs.*.auth`` of the private registry file, scoped to their host) — or
   none when nothing matches;
4. on failure reports ``ErrImagePull`` with the runtime's error and starts a back-off per pod
   and image (10 s, doubling to 300 s, forgotten after 600 s without a failure); while it
   runs the container waits in ``ImagePullBackOff`` and no pull is tried.

Each step records the events upstream records, with its reasons and messages (``Pulling``,
``Pulled``, ``Failed``, ``BackOff``, ``ErrImageNeverPull``, ``InspectFailed``,
``FailedToRetrieveImagePullSecret``), so ``kubectl describe pod`` reads as on any cluster.
The result carries the image id the container is created from (as upstream, so a tag moved
during the start cannot change what runs) or the waiting reason and message for the status,
and when a retry is worth a sync.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc

from .cri import AuthConfig, CRIClient, CRIError, ImageSpec, PodSandboxConfig
from .imageref import InvalidImageName, default_pull_policy, go_quote, parse_image_name, with_default_tag
from .keyring import Credential, CredentialError, keyring_from_secrets
from .registries import RegistriesConfig

log = logging.getLogger(__name__)
Obj = dict[str, Any]
Getter = Callable[[str, str, str], Awaitable[Obj | None]]  # (plural, namespace, name) → object or None
Recorder = Callable[[Obj, str, str, str], None]  # (involved object, type, reason, message)

BACKOFF_INITIAL = 10.0
BACKOFF_MAX = 300.0
PULL_TIMEOUT = 1800.0  # upstream sets none; this only keeps a wedged runtime from holding a pod forever

# waiting reasons (pkg/kubelet/images/types.go)
ERR_IMAGE_PULL = "ErrImagePull"
IMAGE_PULL_BACKOFF = "ImagePullBackOff"
ERR_IMAGE_NEVER_PULL = "ErrImageNeverPull"
INVALID_IMAGE_NAME = "InvalidImageName"
IMAGE_INSPECT_ERROR = "ImageInspectError"

_GO_CODES = {  # grpc-go's names of the status codes, as they appear in upstream's messages
    grpc.StatusCode.OK: "OK", grpc.StatusCode.CANCELLED: "Canceled", grpc.StatusCode.UNKNOWN: "Unknown",
    grpc.StatusCode.INVALID_ARGUMENT: "InvalidArgument", grpc.StatusCode.DEADLINE_EXCEEDED: "DeadlineExceeded",
    grpc.StatusCode.NOT_FOUND: "NotFound", grpc.StatusCode.ALREADY_EXISTS: "AlreadyExists",
    grpc.StatusCode.PERMISSION_DENIED: "PermissionDenied", grpc.StatusCode.RESOURCE_EXHAUSTED: "ResourceExhausted",
    grpc.StatusCode.FAILED_PRECONDITION: "FailedPrecondition", grpc.StatusCode.ABORTED: "Aborted",
    grpc.StatusCode.OUT_OF_RANGE: "OutOfRange", grpc.StatusCode.UNIMPLEMENTED: "Unimplemented",
    grpc.StatusCode.INTERNAL: "Internal", grpc.StatusCode.UNAVAILABLE: "Unavailable",
    grpc.StatusCode.DATA_LOSS: "DataLoss", grpc.StatusCode.UNAUTHENTICATED: "Unauthenticated",
}


def rpc_error(exc: CRIError) -> str:
    """A CRI error as upstream's kubelet prints it: ``rpc error: code = NotFound desc = …``."""
    return f"rpc error: code = {_GO_CODES.get(exc.code, exc.code.name)} desc = {exc.details}"


def go_duration(seconds: float) -> str:
    """A duration truncated to milliseconds, written as Go writes it: ``523ms``, ``1.594s``, ``2m5.1s``."""
    ms = int(seconds * 1000)
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs = f"{rest // 1000}.{rest % 1000:03d}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{secs}"
    if minutes:
        return f"{minutes}m{secs}"
    return secs


def aggregate(messages: list[str]) -> str:
    """Several errors as one, as upstream's error aggregate prints them."""
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


@dataclass(frozen=True)
class ImageResult:
    """What the pod worker needs: the image to create the container from, or why it must wait."""

    image_ref: str = ""
    waiting: tuple[str, str] | None = None  # (reason, message) for the container's status
    retry_in: float | None = None  # seconds after which a new sync may get further


@dataclass
class _Backoff:
    duration: float
    last_update: float
    message: str = ""  # the last pull error, for the back-off's status message (upstream 1.32+)


class ImageManager:
    def __init__(self, cri: CRIClient, get: Getter, record: Recorder | None = None,
                 registries: RegistriesConfig | None = None, *, clock: Callable[[], float] = time.monotonic,
                 pull_timeout: float = PULL_TIMEOUT) -> None:
        self.cri = cri
        self.get = get
        self.record = record
        self.registries = registries or RegistriesConfig()
        self.clock = clock
        self.pull_timeout = pull_timeout
        self._backoff: dict[tuple[str, str], _Backoff] = {}

    # ------------------------------------------------------------------ events
    def _event(self, pod: Obj, event_type: str, reason: str, message: str) -> None:
        if self.record is not None:
            self.record({"kind": "Pod", "apiVersion": "v1", "metadata": pod.get("metadata") or {}},
                        event_type, reason, message)

    def _wait(self, pod: Obj, reason: str, message: str, retry_in: float | None = None) -> ImageResult:
        # the container runtime manager's own event for every start that cannot go on
        self._event(pod, "Warning", "Failed", f"Error: {reason}")
        return ImageResult(waiting=(reason, message), retry_in=retry_in)

    # ------------------------------------------------------------------ back-off
    def _in_backoff(self, key: tuple[str, str], now: float) -> float:
        entry = self._backoff.get(key)
        if entry is None:
            return 0.0
        return max(0.0, entry.last_update + entry.duration - now)

    def _next_backoff(self, key: tuple[str, str], now: float) -> float:
        entry = self._backoff.get(key)
        if entry is None or now - entry.last_update > 2 * BACKOFF_MAX:
            entry = self._backoff[key] = _Backoff(BACKOFF_INITIAL, now)
        else:
            entry.duration = min(entry.duration * 2, BACKOFF_MAX)
            entry.last_update = now
        return entry.duration

    def _gc(self, now: float) -> None:
        for key in [k for k, e in self._backoff.items() if now - e.last_update > 2 * BACKOFF_MAX]:
            del self._backoff[key]

    def forget_pod(self, uid: str) -> None:
        """Drop the back-off state of a pod that is gone."""
        for key in [k for k in self._backoff if k[0] == uid]:
            del self._backoff[key]

    # ------------------------------------------------------------------ credentials
    async def _pull_secrets(self, pod: Obj) -> list[Obj]:
        namespace = pod["metadata"].get("namespace", "")
        secrets, missing = [], []
        for ref in (pod.get("spec") or {}).get("imagePullSecrets") or []:
            name = (ref or {}).get("name") or ""
            if not name:
                continue
            try:
                secret = await self.get("secrets", namespace, name)
            except Exception as exc:  # the API is away: as a missing secret, the pull may still work
                log.info("reading pull secret %s/%s: %s", namespace, name, exc)
                secret = None
            if secret is None:
                missing.append(name)
            else:
                secrets.append(secret)
        if missing:
            self._event(pod, "Warning", "FailedToRetrieveImagePullSecret",
                        f"Unable to retrieve some image pull secrets ({', '.join(missing)}); attempting to pull "
                        "the image may not succeed.")
        return secrets

    def _node_credentials(self, registry: str) -> list[Credential]:
        return [Credential(username=auth.username, password=auth.password, identity_token=auth.identity_token,
                           server_address=server, source="node")
                for server, auth in self.registries.credentials_for(registry)]

    # ------------------------------------------------------------------ the decision
    async def ensure_image(self, pod: Obj, container: Obj,
                           sandbox_config: PodSandboxConfig | None = None) -> ImageResult:
        requested = str(container.get("image") or "")
        try:
            image = with_default_tag(requested)
            ref = parse_image_name(image)
        except InvalidImageName as exc:
            message = f"Failed to apply default image tag {go_quote(requested)}: {exc}"
            self._event(pod, "Warning", "InspectFailed", message)
            return self._wait(pod, INVALID_IMAGE_NAME, message)
        policy = container.get("imagePullPolicy") or default_pull_policy(requested)
        if policy != "Always":
            try:
                present = await self.cri.image_status(image)
            except CRIError as exc:
                message = f"Failed to inspect image {go_quote(requested)}: {rpc_error(exc)}"
                self._event(pod, "Warning", "InspectFailed", message)
                return self._wait(pod, IMAGE_INSPECT_ERROR, message, retry_in=BACKOFF_INITIAL)
            if present is not None:
                self._event(pod, "Normal", "Pulled", f"Container image {go_quote(requested)} already present on machine")
                return ImageResult(image_ref=present.id)
            if policy == "Never":
                message = f"Container image {go_quote(requested)} is not present with pull policy of Never"
                self._event(pod, "Warning", ERR_IMAGE_NEVER_PULL, message)
                return self._wait(pod, ERR_IMAGE_NEVER_PULL, message)
        now = self.clock()
        self._gc(now)  # back-offs of pods long gone or pulls long fixed
        key = (pod["metadata"].get("uid", ""), requested)
        remaining = self._in_backoff(key, now)
        if remaining > 0:
            self._event(pod, "Normal", "BackOff", f"Back-off pulling image {go_quote(requested)}")
            message = f"Back-off pulling image {go_quote(requested)}"
            previous = self._backoff[key].message
            return self._wait(pod, IMAGE_PULL_BACKOFF, f"{message}: {previous}" if previous else message,
                              retry_in=remaining)
        return await self._pull(pod, requested, image, ref.name, ref.domain, key, sandbox_config)

    async def _pull(self, pod: Obj, requested: str, image: str, name: str, registry: str, key: tuple[str, str],
                    sandbox_config: PodSandboxConfig | None) -> ImageResult:
        try:
            credentials = keyring_from_secrets(await self._pull_secrets(pod)).lookup(name)
        except CredentialError as exc:
            return self._failed(pod, requested, key, str(exc))
        credentials += self._node_credentials(registry)
        self._event(pod, "Normal", "Pulling", f"Pulling image {go_quote(requested)}")
        started = self.clock()
        errors: list[str] = []
        image_ref = ""
        attempts: list[Credential | None] = list(credentials) or [None]
        for credential in attempts:
            auth = None if credential is None else AuthConfig(
                username=credential.username, password=credential.password,
                identity_token=credential.identity_token, registry_token=credential.registry_token,
                server_address=credential.server_address)
            try:
                image_ref = await self.cri.pull_image(ImageSpec(image=image), auth=auth, sandbox_config=sandbox_config,
                                                      timeout=self.pull_timeout)
                break
            except CRIError as exc:
                errors.append(rpc_error(exc))
        if not image_ref:
            return self._failed(pod, requested, key, aggregate(errors))
        took = self.clock() - started
        size = 0
        try:
            status = await self.cri.image_status(image_ref)
            size = status.size if status is not None else 0
        except CRIError as exc:
            log.debug("size of %s: %s", image_ref, exc)
        self._event(pod, "Normal", "Pulled", f"Successfully pulled image {go_quote(requested)} in {go_duration(took)} "
                                             f"({go_duration(took)} including waiting). Image size: {size} bytes.")
        return ImageResult(image_ref=image_ref)

    def _failed(self, pod: Obj, requested: str, key: tuple[str, str], error: str) -> ImageResult:
        self._event(pod, "Warning", "Failed", f"Failed to pull image {go_quote(requested)}: {error}")
        delay = self._next_backoff(key, self.clock())
        self._backoff[key].message = f"{ERR_IMAGE_PULL}: {error}"
        return self._wait(pod, ERR_IMAGE_PULL, error, retry_in=delay)
