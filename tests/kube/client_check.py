#!/usr/bin/env python3
"""Checks the Kubernetes API stand-in of the tests with the official
Python client (`kubernetes` from PyPI): lists pods as typed objects, then
watches from the list's resource version and prints what it sees as JSON
lines: {"list": [...names...], "rv": "..."} then one {"event": TYPE,
"name": NAME} per event, until the watch times out.

    python3 client_check.py http://127.0.0.1:PORT NAMESPACE SECONDS

With `kinds` instead of SECONDS it reads every kind the discovery roles
use (nodes, namespaces, services, endpoints, endpoint slices, ingresses,
replica sets)
as typed objects and prints {"kind": names} for each: the client's models
refuse objects that lack a required field.
"""
import json
import sys

from kubernetes import client, watch

url, ns, secs = sys.argv[1], sys.argv[2], sys.argv[3]
cfg = client.Configuration()
cfg.host = url
api = client.CoreV1Api(client.ApiClient(cfg))
if secs == "kinds":
    disc = client.DiscoveryV1Api(client.ApiClient(cfg))
    net = client.NetworkingV1Api(client.ApiClient(cfg))
    apps = client.AppsV1Api(client.ApiClient(cfg))
    for kind, answer in [
        ("nodes", api.list_node()),
        ("namespaces", api.list_namespace()),
        ("pods", api.list_namespaced_pod(ns)),
        ("services", api.list_namespaced_service(ns)),
        ("endpoints", api.list_namespaced_endpoints(ns)),
        ("endpointslices", disc.list_namespaced_endpoint_slice(ns)),
        ("ingresses", net.list_namespaced_ingress(ns)),
        ("replicasets", apps.list_namespaced_replica_set(ns)),
    ]:
        print(json.dumps({kind: [o.metadata.name for o in answer.items]}), flush=True)
    sys.exit(0)
secs = int(secs)
pods = api.list_namespaced_pod(ns)
print(json.dumps({
    "list": [p.metadata.name for p in pods.items],
    "rv": pods.metadata.resource_version,
    "ready": [c.status for p in pods.items for c in (p.status.conditions or []) if c.type == "Ready"],
    "ports": [port.container_port for p in pods.items for c in p.spec.containers for port in (c.ports or [])],
}), flush=True)
w = watch.Watch()
for ev in w.stream(api.list_namespaced_pod, ns, resource_version=pods.metadata.resource_version,
                   timeout_seconds=secs, allow_watch_bookmarks=True):
    obj = ev["object"]
    name = obj.metadata.name if hasattr(obj, "metadata") and obj.metadata else None
    print(json.dumps({"event": ev["type"], "name": name}), flush=True)
