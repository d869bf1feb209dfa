"""The `kubeherd` command: `kubeherd server` starts a cluster's control plane."""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import logging
import os
import signal
import socket
import sys
from pathlib import Path

import yaml

from kubeherd.apiserver.admission import UserInfo
from kubeherd.apiserver.options import parse_kube_apiserver_args
from kubeherd.apiserver.server import APIServer, ServerConfig
from kubeherd.apiserver.services.network import ServiceNetworkConfig
from kubeherd.cli import image as image_cli
from kubeherd.cli import killall as killall_cli
from kubeherd.client import APIClient, HTTPTransport, Identity, InProcessTransport, KubeConfig
from kubeherd.controllers.manager import ControllerManager
from kubeherd.kubelet.config import KubeletConfig, parse_kubelet_args
from kubeherd.kubelet.kubelet import Kubelet, node_ip
from kubeherd.kubelet.registries import RegistriesConfig, default_registries_file
from kubeherd.kubelet.runtime import ContainerdLayout, start_runtime, write_registries
from kubeherd.kubelet.server import ServingTLS
from kubeherd.scheduler import KubeScheduler
from kubeherd.sim import SimulatedNodes
from kubeherd.storage.cache import DEFAULT_WINDOW
from kubeherd.storage.sqlite import SQLiteStore


def default_data_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/kubeherd")
    return Path.home() / ".kubeherd"


def kubeconfig(server_url: str, ca_pem: bytes, cert_pem: bytes, key_pem: bytes) -> str:
    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "default", "cluster": {"server": server_url, "certificate-authority-data": b64(ca_pem)}}],
        "contexts": [{"name": "default", "context": {"cluster": "default", "user": "default"}}],
        "current-context": "default",
        "preferences": {},
        "users": [{"name": "default", "user": {"client-certificate-data": b64(cert_pem),
                                                "client-key-data": b64(key_pem)}}],
    }
    return yaml.safe_dump(doc, sort_keys=False)


def write_kubeconfig(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT; installed first, so a signal during start-up is not lost."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def start_kubelet(server: APIServer, data_dir: Path, endpoint: str, config: KubeletConfig,
                        registries: RegistriesConfig | None = None) -> Kubelet:
    """The node agent of this server: our containerd (or ``endpoint``), then the kubelet,
    talking to the API in process as ``system:node:<hostname>``. Its HTTPS server (logs, exec,
    attach, port-forward for the apiserver) gets a serving certificate from the cluster CA.
    ``registries`` (the private registry file) becomes our containerd's registry host configs
    and the kubelet's node pull credentials."""
    registries = registries or RegistriesConfig()
    if not endpoint:
        write_registries(ContainerdLayout(data_dir), registries)
    elif registries.mirrors or registries.tls:
        logging.getLogger(__name__).warning("registry mirrors and TLS settings apply to kubeherd's own containerd "
                                            "only; configure the runtime at %s for them", endpoint)
    runtime = await start_runtime(data_dir, endpoint)
    node_name = socket.gethostname().lower()
    client = APIClient(InProcessTransport(server.dispatch_as, Identity(
        f"system:node:{node_name}", ("system:nodes", "system:masters"))))
    pair = server.pki.kubelet_serving(node_name, [node_ip(), "127.0.0.1"])
    serving = ServingTLS(pair.cert_path, pair.key_path, server.pki.ca.cert_path)
    kubelet = Kubelet(client, runtime, data_dir, node_name, config=config, serving=serving, registries=registries)
    await kubelet.start()
    return kubelet


async def run_server(args: argparse.Namespace) -> int:
    kubelet_config = None if args.disable_agent else parse_kubelet_args(
        args.kubelet_arg, KubeletConfig(cluster_dns=[args.cluster_dns] if args.cluster_dns else []))
    service_accounts = parse_kube_apiserver_args(args.kube_apiserver_arg)
    registries = None if args.disable_agent else RegistriesConfig.load(args.private_registry)
    stop = stop_on_signals()
    # Long-lived objects (the watch cache, informers) dominate the heap: collect young objects
    # less often, and leave what start-up loaded out of every later collection.
    gc.set_threshold(50_000, 20, 20)
    data_dir = Path(args.data_dir).resolve()
    (data_dir / "server" / "db").mkdir(parents=True, exist_ok=True)
    tokens = {}
    if args.token:
        tokens[args.token] = UserInfo("system:admin", ("system:masters", "system:authenticated"))
    config = ServerConfig(data_dir=data_dir, port=args.https_listen_port, bind_address=args.bind_address,
                          tokens=tokens, tls_sans=args.tls_san or [], watch_cache_size=args.default_watch_cache_size,
                          bookmark_interval=args.watch_bookmark_interval, service_accounts=service_accounts,
                          service_network=ServiceNetworkConfig(args.service_cidr, args.service_node_port_range,
                                                               args.cluster_dns, args.advertise_address))
    store = SQLiteStore(data_dir / "server" / "db" / "state.db")
    server = APIServer(config, store)
    await server.start()
    gc.collect()
    gc.freeze()
    manager = None
    if not args.disable_controllers:
        client = APIClient(InProcessTransport(server.dispatch_as,
                                              Identity("system:kube-controller-manager", ("system:masters",))))
        manager = ControllerManager(client, options={"node_monitor_grace_period": args.node_monitor_grace_period,
                                             "cluster_cidr": args.cluster_cidr,
                                             "node_cidr_mask_size": args.node_cidr_mask_size},
                                    ca_pem=server.pki.ca.cert_pem())
        manager.start()
        server.metrics_sources.append(manager.metrics)
    scheduler = None
    if not args.disable_scheduler:
        sched_client = APIClient(InProcessTransport(server.dispatch_as,
                                                    Identity("system:kube-scheduler", ("system:masters",))))
        scheduler = KubeScheduler(sched_client)
        scheduler.start()
    simulated = None
    if args.simulate_nodes:
        sim_client = APIClient(InProcessTransport(server.dispatch_as, Identity("kubeherd-sim", ("system:masters",))))
        # heartbeats well inside the grace period, however short a test makes it
        simulated = SimulatedNodes(sim_client, args.simulate_nodes,
                                   heartbeat=min(10.0, args.node_monitor_grace_period / 4))
        await simulated.start()
    kubelet = None
    if not args.disable_agent:
        assert kubelet_config is not None
        kubelet = await start_kubelet(server, data_dir, args.container_runtime_endpoint, kubelet_config,
                                      registries)
    host = "127.0.0.1" if args.bind_address in ("0.0.0.0", "::") else args.bind_address
    text = kubeconfig(f"https://{host}:{server.port}", server.pki.ca.cert_pem(), server.pki.admin.cert_pem(),
                      server.pki.admin.key_pem())
    mode = int(args.write_kubeconfig_mode, 8) if args.write_kubeconfig_mode else 0o600
    paths = [data_dir / "server" / "cred" / "admin.kubeconfig"]
    if args.write_kubeconfig:
        paths.append(Path(args.write_kubeconfig))
    for path in paths:
        write_kubeconfig(path, text, mode)
    print(f"kubeherd server listening on https://{args.bind_address}:{server.port}", flush=True)
    print(f"kubeconfig written to {paths[-1]}", flush=True)
    await stop.wait()
    print("kubeherd server shutting down", flush=True)
    if kubelet is not None:
        await kubelet.stop()  # pods keep running, as does our containerd; the next start adopts both
    if simulated is not None:
        await simulated.stop()
    if scheduler is not None:
        await scheduler.stop()
    if manager is not None:
        await manager.stop()
    await server.stop()
    return 0


async def run_sim(args: argparse.Namespace) -> int:
    stop = stop_on_signals()
    client = APIClient(HTTPTransport(KubeConfig.load(args.kubeconfig), user_agent="kubeherd-sim"))
    simulated = SimulatedNodes(client, args.nodes, prefix=args.prefix, heartbeat=args.heartbeat)
    await simulated.start()
    print(f"kubeherd sim: {args.nodes} simulated nodes registered ({args.prefix}0 …)", flush=True)
    await stop.wait()
    await simulated.stop()
    await client.transport.close()
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kubeherd", description="Kubernetes, written in Python.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("server", help="run the control plane (and, later, a node agent)")
    s.add_argument("--data-dir", "-d", default=str(default_data_dir()), help="where state, certificates and "
                   "kubeconfig live (default: /var/lib/kubeherd as root, ~/.kubeherd otherwise)")
    s.add_argument("--https-listen-port", type=int, default=6443, help="HTTPS port of the API server")
    s.add_argument("--bind-address", default="0.0.0.0", help="address the API server listens on")
    s.add_argument("--write-kubeconfig", "-o", default="", help="also write the admin kubeconfig here")
    s.add_argument("--write-kubeconfig-mode", default="", help="file mode of written kubeconfigs, e.g. 644")
    s.add_argument("--token", "-t", default=os.environ.get("KUBEHERD_TOKEN", ""),
                   help="a bearer token accepted as cluster admin")
    s.add_argument("--tls-san", action="append", help="an extra name or IP for the serving certificate")
    s.add_argument("--disable-agent", action="store_true",
                   help="run no kubelet (and no containerd) on this machine: a control plane only")
    s.add_argument("--container-runtime-endpoint", default="",
                   help="the CRI socket of an existing runtime (default: start containerd under the data dir)")
    s.add_argument("--private-registry", default=str(default_registries_file()), metavar="FILE",
                   help="registry mirrors, TLS and credentials in k3s's registries.yaml format, applied at every "
                        "start (default: %(default)s; a missing file configures nothing)")
    s.add_argument("--kubelet-arg", action="append", metavar="KEY=VALUE",
                   help="a kubelet setting by its upstream flag name, e.g. eviction-hard=memory.available<200Mi "
                        "or port=10250 (repeatable)")
    s.add_argument("--kube-apiserver-arg", action="append", metavar="KEY=VALUE",
                   help="a kube-apiserver flag by its upstream name, e.g. service-account-issuer=https://example "
                        "or api-audiences=a,b (repeatable)")
    s.add_argument("--default-watch-cache-size", type=int, default=DEFAULT_WINDOW,
                   help="events kept per resource for resuming watches; older resource versions get 410 Gone")
    s.add_argument("--watch-bookmark-interval", type=float, default=60.0, help=argparse.SUPPRESS)
    s.add_argument("--simulate-nodes", type=int, default=0, metavar="N",
                   help="register N simulated nodes (no containers) that run the pods bound to them")
    s.add_argument("--cluster-cidr", default="10.42.0.0/16", help="the pod network; each node gets a slice")
    s.add_argument("--service-cidr", default="10.43.0.0/16",
                   help="the addresses Services' cluster IPs come from; the first is the kubernetes Service's")
    s.add_argument("--service-node-port-range", default="30000-32767", metavar="FIRST-LAST",
                   help="the ports NodePort and LoadBalancer Services get their node ports from")
    s.add_argument("--cluster-dns", default="10.43.0.10",
                   help="the cluster IP of the DNS Service, inside --service-cidr")
    s.add_argument("--advertise-address", default="",
                   help="the address the kubernetes Service's endpoints name (default: --bind-address, or the "
                        "host's default-route address when that is a wildcard or loopback)")
    s.add_argument("--node-cidr-mask-size", type=int, default=24,
                   help="prefix length of each node's pod CIDR (a /16 of /24s has room for 256 nodes)")
    s.add_argument("--node-monitor-grace-period", type=float, default=50.0, metavar="SECONDS",
                   help="how long a node may go without a heartbeat before it is marked Unknown")
    s.add_argument("--disable-controllers", action="store_true",
                   help="run no controllers in this server (another server or process runs them)")
    s.add_argument("--disable-scheduler", action="store_true",
                   help="run no scheduler in this server (another server or process schedules pods)")
    sim = sub.add_parser("sim", help="run simulated nodes against a cluster")
    sim.add_argument("--kubeconfig", required=True, help="kubeconfig of the cluster to join")
    sim.add_argument("--nodes", type=int, default=1, help="how many nodes to simulate")
    sim.add_argument("--prefix", default="sim-node-", help="node names are this prefix plus a number")
    sim.add_argument("--heartbeat", type=float, default=10.0, help="seconds between a node's Lease renewals")
    sim.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    s.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    image_cli.add_parser(sub)
    killall_cli.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "server":
        try:
            import uvloop
            return uvloop.run(run_server(args))
        except (OSError, ValueError) as exc:
            print(f"kubeherd: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 0
    if args.command == "sim":
        try:
            import uvloop
            return uvloop.run(run_sim(args))
        except (OSError, ValueError) as exc:
            print(f"kubeherd sim: {exc}", file=sys.stderr)
            return 1
    if args.command == "image":
        return image_cli.run(args)
    if args.command == "killall":
        return killall_cli.run(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
