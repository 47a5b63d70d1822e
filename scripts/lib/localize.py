"""Runs a deployment config outside Compose or Kubernetes: rewrites where things are, nothing else.

The one mechanism scripts/dev, scripts/check-deploy and the tests use to run the files Compose
and the chart run: Envoy's edge config, Jaeger's config and Prometheus's scrape config.

envoy: the edge's envoy.yaml names its upstreams by Compose host names (svc-auth:50051, jaeger:4317)
or, rendered by the chart, by cluster DNS names, listens on fixed ports and reads the
descriptor set from /etc/envoy. To run that same file on one machine (the tests, a machine
without Docker), this rewrites exactly:

  --cluster NAME=HOST:PORT   the endpoints of the cluster called NAME (by cluster name, so the
                             Compose file and the chart's render map alike): one per time NAME
                             is given (replicas), each a copy of the file's first endpoint; a
                             name the config lacks is an error, a cluster not named is left as
                             it is
  --listener NAME=HOST:PORT  the address of the listener called NAME
  --admin HOST:PORT          the admin interface's address
  --descriptor PATH          every grpc_json_transcoder's proto_descriptor
  --dns-resolver HOST:PORT   the DNS server clusters resolve their names with (c-ares), in place
                             of the machine's (tests that play a cluster's DNS)

and prints the result. Everything else (routes, filters, timeouts) is passed through untouched.
YAML merge keys (`<<:`) are kept as ordinary keys rather than merged, so that Envoy, whose YAML
reader has none, rejects a config that uses them, exactly as it would the original file.

jaeger: observability/jaeger.yaml listens on fixed ports of every interface:

  --endpoint NAME=HOST:PORT  NAME one of otlp-grpc, otlp-http, query-http, query-grpc, health,
                             metrics (Jaeger's own)

prometheus: observability/prometheus.yml scrapes Compose host names:

  --target JOB=HOST:PORT     the one target of the scrape job called JOB

Usage: localize.py envoy SOURCE [--from-helm] [--cluster ...] [--listener ...] [--admin ...]
                                [--descriptor ...] [--dns-resolver ...]
       localize.py jaeger SOURCE [--endpoint ...]
       localize.py prometheus SOURCE [--target ...]
       With --from-helm, SOURCE is `helm template` output and the edge ConfigMap's envoy.yaml is
       the config rewritten. The result goes to standard output.
"""

import argparse
import copy
import sys

import yaml


class _EnvoyYamlLoader(yaml.SafeLoader):
    """A safe loader that, like Envoy's, does not merge `<<` keys."""

    def flatten_mapping(self, node):
        pass


_EnvoyYamlLoader.add_constructor("tag:yaml.org,2002:merge", lambda _loader, _node: "<<")


def load_envoy_yaml(text):
    return yaml.load(text, Loader=_EnvoyYamlLoader)


def rendered_envoy_yaml(rendered_path):
    """The envoy.yaml text of the edge ConfigMap in a `helm template` output."""
    with open(rendered_path) as rendered:
        for doc in yaml.safe_load_all(rendered):
            if doc and doc.get("kind") == "ConfigMap" and "envoy.yaml" in doc.get("data", {}):
                return doc["data"]["envoy.yaml"]
    sys.exit(f"{rendered_path}: no ConfigMap with envoy.yaml")


def host_port(value, what):
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit():
        sys.exit(f"localize.py: {what} {value!r} is not HOST:PORT")
    return {"address": host.strip("[]"), "port_value": int(port)}


def named(pairs, what):
    mapping = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            sys.exit(f"localize.py: {what} {pair!r} is not NAME=HOST:PORT")
        mapping[name] = host_port(value, what)
    return mapping


def named_lists(pairs, what):
    """NAME=HOST:PORT pairs, a NAME given more than once collecting every address."""
    mapping = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            sys.exit(f"localize.py: {what} {pair!r} is not NAME=HOST:PORT")
        mapping.setdefault(name, []).append(host_port(value, what))
    return mapping


def transcoders(node):
    """Every grpc_json_transcoder typed_config below node."""
    if isinstance(node, dict):
        if str(node.get("@type", "")).endswith(".GrpcJsonTranscoder"):
            yield node
        for value in node.values():
            yield from transcoders(value)
    elif isinstance(node, list):
        for value in node:
            yield from transcoders(value)


def localize_envoy(config, clusters, listeners, admin, descriptor, dns_resolver):
    resources = config.get("static_resources", {})
    for cluster in resources.get("clusters", []):
        addresses = clusters.pop(cluster.get("name"), None)
        if addresses is None:
            continue
        groups = cluster["load_assignment"]["endpoints"]
        template = groups[0]["lb_endpoints"][0]
        endpoints = []
        for address in addresses:
            endpoint = copy.deepcopy(template)
            endpoint["endpoint"]["address"]["socket_address"] = dict(address)
            endpoints.append(endpoint)
        cluster["load_assignment"]["endpoints"] = [{**groups[0], "lb_endpoints": endpoints}]
    for listener in resources.get("listeners", []):
        address = listeners.pop(listener.get("name"), None)
        if address is not None:
            listener["address"]["socket_address"] = address
    if clusters or listeners:
        sys.exit(f"localize.py: the config has no cluster or listener named {sorted({**clusters, **listeners})}")
    if admin is not None:
        config["admin"]["address"]["socket_address"] = admin
    if descriptor is not None:
        for transcoder in transcoders(config):
            transcoder["proto_descriptor"] = descriptor
    if dns_resolver is not None:
        config["typed_dns_resolver_config"] = {
            "name": "envoy.network.dns_resolver.cares",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig",
                "resolvers": [{"socket_address": dns_resolver}],
                "dns_resolver_options": {"no_default_search_domain": True},
            },
        }
    return config


JAEGER_ENDPOINTS = {
    "otlp-grpc": ("receivers", "otlp", "protocols", "grpc"),
    "otlp-http": ("receivers", "otlp", "protocols", "http"),
    "query-http": ("extensions", "jaeger_query", "http"),
    "query-grpc": ("extensions", "jaeger_query", "grpc"),
    "health": ("extensions", "healthcheckv2", "http"),
}


def localize_jaeger(config, endpoints):
    for name, address in endpoints.items():
        endpoint = f"{address['address']}:{address['port_value']}"
        if name == "metrics":
            exporter = config["service"]["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"]["prometheus"]
            exporter["host"], exporter["port"] = address["address"], address["port_value"]
            continue
        if name not in JAEGER_ENDPOINTS:
            sys.exit(f"localize.py: no Jaeger endpoint called {name!r} (one of {sorted(JAEGER_ENDPOINTS)}, metrics)")
        node = config
        for key in JAEGER_ENDPOINTS[name]:
            node = node[key]
        node["endpoint"] = endpoint
    return config


def localize_prometheus(config, targets):
    for job in config.get("scrape_configs", []):
        address = targets.pop(job["job_name"], None)
        if address is not None:
            job["static_configs"] = [{"targets": [f"{address['address']}:{address['port_value']}"]}]
    if targets:
        sys.exit(f"localize.py: the config has no scrape job named {sorted(targets)}")
    return config


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["envoy", "jaeger", "prometheus"])
    parser.add_argument("source")
    parser.add_argument("--from-helm", action="store_true")
    parser.add_argument("--cluster", action="append", default=[])
    parser.add_argument("--listener", action="append", default=[])
    parser.add_argument("--admin")
    parser.add_argument("--descriptor")
    parser.add_argument("--dns-resolver")
    parser.add_argument("--endpoint", action="append", default=[])
    parser.add_argument("--target", action="append", default=[])
    args = parser.parse_args()
    if args.from_helm:
        text = rendered_envoy_yaml(args.source)
    else:
        with open(args.source) as source:
            text = source.read()
    if args.kind == "envoy":
        config = localize_envoy(
            load_envoy_yaml(text),
            named_lists(args.cluster, "--cluster"),
            named(args.listener, "--listener"),
            host_port(args.admin, "--admin") if args.admin else None,
            args.descriptor,
            host_port(args.dns_resolver, "--dns-resolver") if args.dns_resolver else None,
        )
    elif args.kind == "jaeger":
        config = localize_jaeger(yaml.safe_load(text), named(args.endpoint, "--endpoint"))
    else:
        config = localize_prometheus(yaml.safe_load(text), named(args.target, "--target"))
    yaml.safe_dump(config, sys.stdout, sort_keys=False, width=1 << 16)


if __name__ == "__main__":
    main()
