"""Discovery: the resources a server serves, read as client-go's ServerPreferredResources does."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from kubeherd.client.api import APIClient, APIStatusError, ResourceRef


@dataclass(frozen=True, slots=True)
class APIResource:
    ref: ResourceRef
    verbs: frozenset[str]


@dataclass
class Discovery:
    """The preferred version of every resource the server serves, as discovery describes them."""

    resources: list[APIResource] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # group version → why it could not be read
    unparsable: list[str] = field(default_factory=list)  # group versions that are not `group/version`

    def failure_message(self) -> str:
        groups = ", ".join(f"{gv}: {err}" for gv, err in sorted(self.failed.items()))
        return f"unable to retrieve the complete list of server APIs: {groups}"


async def discover(client: APIClient) -> Discovery:
    """Read /api and /apis and each preferred group version (what ServerPreferredResources does).

    A group version that cannot be read is recorded in `failed` and the rest still returned;
    failing to read /api or /apis themselves raises.
    """
    core = await client.request("GET", "/api")
    groups = await client.request("GET", "/apis")
    versions = [str(v) for v in (core.get("versions") or [])[:1]]
    for group in groups.get("groups") or []:
        preferred = (group.get("preferredVersion") or {}).get("groupVersion")
        if not preferred and group.get("versions"):
            preferred = group["versions"][0].get("groupVersion")
        if preferred:
            versions.append(str(preferred))
    result = Discovery()

    async def read(gv: str) -> None:
        if gv.count("/") > 1 or not gv.strip("/"):
            result.unparsable.append(gv)
            return
        path = f"/apis/{gv}" if "/" in gv else f"/api/{gv}"
        try:
            listing = await client.request("GET", path)
        except (APIStatusError, OSError) as exc:
            result.failed[gv] = str(exc)
            return
        for item in listing.get("resources") or []:
            name = str(item.get("name", ""))
            if not name or "/" in name:
                continue  # subresources
            ref = ResourceRef(gv, name, bool(item.get("namespaced")), str(item.get("kind", "")))
            result.resources.append(APIResource(ref, frozenset(item.get("verbs") or [])))

    await asyncio.gather(*(read(gv) for gv in versions))
    return result
