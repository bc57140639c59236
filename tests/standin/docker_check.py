"""Checks the Docker Engine stand-in with the official Python SDK (docker):
the SDK negotiates the API version, lists containers (with filters),
networks, and a swarm's services, tasks and nodes, and decodes errors.
Prints one JSON object with what it saw; exits non-zero on a surprise.

Usage: docker_check.py BASE_URL   (tcp://127.0.0.1:PORT or unix:///path)
"""

import json
import sys

import docker


def main() -> None:
    base = sys.argv[1]
    client = docker.DockerClient(base_url=base, version="auto", timeout=10)
    out = {"ping": client.ping(), "api_version": client.api.api_version}
    out["version"] = client.version()["Version"]
    out["containers"] = sorted(
        c.attrs["Names"][0].lstrip("/") for c in client.containers.list(sparse=True)
    )
    out["labelled"] = sorted(
        c["Names"][0]
        for c in client.api.containers(filters={"label": "prometheus-job=web"})
    )
    out["networks"] = sorted(n.name for n in client.networks.list())
    try:
        client.api.containers(filters={"bogus": "x"})
        out["bad_filter"] = None
    except docker.errors.APIError as e:
        out["bad_filter"] = [e.status_code, e.explanation]
    out["services"] = sorted(s.name for s in client.services.list())
    out["tasks"] = sorted(t["ID"] for t in client.api.tasks(filters={"desired-state": "running"}))
    out["nodes"] = sorted(n.attrs["Description"]["Hostname"] for n in client.nodes.list())
    # an older version pinned: the paths carry it
    old = docker.DockerClient(base_url=base, version="1.41", timeout=10)
    out["old"] = len(old.containers.list(sparse=True))
    too_new = docker.APIClient(base_url=base, version="1.99", timeout=10)
    try:
        too_new.containers()
        out["too_new"] = None
    except docker.errors.APIError as e:
        out["too_new"] = [e.status_code, e.explanation]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
