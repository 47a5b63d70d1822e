"""Consistency checks between deployment files that no single tool can make.

1. The Envoy config rendered by the Helm chart and deploy/envoy/envoy.yaml (compose) route
   and transcode identically: same routes, same transcoder settings, same filter chain.
2. Every metric a Grafana dashboard queries is one the services define (a string literal in
   the Rust sources), and every data source a panel names is provisioned.
3. docker-compose.yml publishes only what a developer opens, and only on 127.0.0.1.

Usage: deploy_consistency.py envoy <compose-envoy.yaml> <helm-rendered.yaml>
       deploy_consistency.py dashboards <provisioning-dir> <dashboards-dir> <rust-source-dir>...
       deploy_consistency.py compose <docker-compose.yml>
"""

import json
import pathlib
import re
import sys

import yaml

from localize import load_envoy_yaml, rendered_envoy_yaml


def typed_config(node, type_suffix):
    """The first typed_config mapping below node whose @type ends with type_suffix."""
    if isinstance(node, dict):
        if str(node.get("@type", "")).endswith("." + type_suffix):
            return node
        for value in node.values():
            found = typed_config(value, type_suffix)
            if found is not None:
                return found
    elif isinstance(node, list):
        for value in node:
            found = typed_config(value, type_suffix)
            if found is not None:
                return found
    return None


def edge_contract(config):
    manager = typed_config(config, "HttpConnectionManager")
    host = manager["route_config"]["virtual_hosts"][0]
    host = {k: v for k, v in host.items() if k != "typed_per_filter_config"}
    routes = []
    for route in host["routes"]:
        route = json.loads(json.dumps(route))
        # The auth rate limit's bucket sizes and client count come from Helm values.
        limit = route.get("typed_per_filter_config", {}).get("envoy.filters.http.local_ratelimit", {})
        limit.pop("token_bucket", None)
        limit.pop("max_dynamic_descriptors", None)
        for descriptor in limit.get("descriptors", []):
            descriptor.pop("token_bucket", None)
        routes.append(route)
    return {
        "routes": routes,
        "request_headers_to_add": host.get("request_headers_to_add"),
        "use_remote_address": manager.get("use_remote_address"),
        "filters": [f["name"] for f in manager["http_filters"]],
        "transcoder": typed_config(manager, "GrpcJsonTranscoder"),
        "clusters": sorted(c["name"] for c in config["static_resources"]["clusters"] if c["name"] != "otlp"),
    }


def check_envoy(compose_path, rendered_path):
    compose = load_envoy_yaml(open(compose_path).read())
    helm_config = load_envoy_yaml(rendered_envoy_yaml(rendered_path))
    ours, theirs = edge_contract(compose), edge_contract(helm_config)
    for key in ours:
        if ours[key] != theirs[key]:
            sys.exit(
                f"deploy/envoy/envoy.yaml and the chart's edge config differ in {key}:\n"
                f"  compose: {json.dumps(ours[key])[:2000]}\n  helm:    {json.dumps(theirs[key])[:2000]}"
            )
    print(f"deploy_consistency: compose and Helm edge configs agree ({len(ours['routes'])} routes)")


def check_dashboards(provisioning, dashboards, sources):
    provisioned = set()
    for path in pathlib.Path(provisioning).rglob("*.yml"):
        for source in (yaml.safe_load(open(path)) or {}).get("datasources", []):
            provisioned.add(source["uid"])
    defined = set()
    for root in sources:
        for path in pathlib.Path(root).rglob("*.rs"):
            defined.update(re.findall(r'"([a-z][a-z0-9_]*)"', path.read_text()))
    functions = {"sum", "rate", "by", "histogram_quantile", "topk", "le", "job", "kind", "grpc_code", "grpc_method", "irate", "increase", "avg", "max", "min", "without"}
    problems = []
    count = 0
    for path in sorted(pathlib.Path(dashboards).glob("*.json")):
        dashboard = json.load(open(path))
        panels = [p for p in dashboard["panels"] if p.get("type") != "row"]
        for panel in panels:
            for target in panel.get("targets", []):
                uid = (target.get("datasource") or panel.get("datasource") or {}).get("uid")
                if uid not in provisioned:
                    problems.append(f"{path.name}: panel {panel['title']!r} uses data source {uid!r}, not provisioned")
                expr = re.sub(r'\{[^}]*\}|"[^"]*"|\[[^\]]*\]', "", target["expr"])
                for name in re.findall(r"[a-z_][a-z0-9_]*", expr):
                    if name in functions:
                        continue
                    count += 1
                    base = re.sub(r"_(bucket|sum|count)$", "", name)
                    if base not in defined:
                        problems.append(f"{path.name}: panel {panel['title']!r} queries {name}, which no service defines")
    if problems:
        sys.exit("\n".join(problems))
    print(f"deploy_consistency: dashboards query {count} metric references, all defined by the services")


# What a developer opens: the web client, the REST edge, the Jaeger UI, Prometheus, Grafana,
# each service's gRPC port for grpcurl. Databases, metrics endpoints and Envoy's admin stay on the Compose network.
COMPOSE_PUBLISHED = {
    "web": {8081},
    "envoy": {8080},
    "jaeger": {16686},
    "prometheus": {9090},
    "grafana": {3000},
    "svc-auth": {50051},
    "svc-user": {50052},
    "svc-tweet": {50053},
    "svc-timeline": {50054},
}


def check_compose(compose_path):
    compose = yaml.safe_load(open(compose_path))
    problems = []
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            host_ip, _, rest = str(port).partition(":")
            published = int(rest.partition(":")[0]) if rest else None
            if host_ip != "127.0.0.1" or published is None:
                problems.append(f"{name}: port {port!r} is not bound to 127.0.0.1")
            elif published not in COMPOSE_PUBLISHED.get(name, set()):
                problems.append(f"{name}: publishes {published}, which developers do not open")
    if problems:
        sys.exit("docker-compose.yml:\n  " + "\n  ".join(problems))
    print("deploy_consistency: docker-compose.yml publishes only developer ports, on 127.0.0.1")


if __name__ == "__main__":
    if sys.argv[1:2] == ["envoy"] and len(sys.argv) == 4:
        check_envoy(sys.argv[2], sys.argv[3])
    elif sys.argv[1:2] == ["compose"] and len(sys.argv) == 3:
        check_compose(sys.argv[2])
    elif sys.argv[1:2] == ["dashboards"] and len(sys.argv) >= 5:
        check_dashboards(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        sys.exit(__doc__)
