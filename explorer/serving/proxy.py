"""Several app servers behind one address: haproxy's configuration, written here, run by haproxy.

Streamlit keeps each tab's session in the process that opened it: the websocket, the uploads
(`PUT /_stcore/upload_file/<session>/…`) and a reconnect after a dropped connection must all
reach that process. haproxy does this with a cookie it adds to the first answer
(`EXPLORER_SERVER=s2`); the browser sends it back with every later request, the websocket
upgrade included. A request without the cookie (a new tab) goes to the process with the
fewest connections. Every answer also names its process (`X-Explorer-Server`), which the
tests and the load benchmark read.

The same text serves one machine (`explorer app --processes N`: N local servers) and a
department (deploy/haproxy.cfg: servers on several machines); only the `server` lines differ.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["READY_FILE_ENV", "Backend", "haproxy_config"]

#: A server started with this set writes the file once it has opened every page once
#: (components/server.py); the supervisor opens the proxy when every server's file is there.
READY_FILE_ENV = "EXPLORER_READY_FILE"


@dataclass(frozen=True)
class Backend:
    """One app server: its name in the cookie, and where it listens."""

    name: str
    host: str
    port: int


def haproxy_config(address: str, port: int, backends: list[Backend], *,
                   stats_port: int | None = None) -> str:  # fmt: skip
    """haproxy.cfg text: listen on `address:port`, send each tab to one of `backends` and keep
    it there (see the module's docstring); `stats_port` adds haproxy's own status page on
    127.0.0.1 (connections per server)."""
    if not backends:
        raise ValueError("at least one app server is needed behind the proxy")
    lines = [
        "# Written by explorer (explorer/serving/proxy.py); haproxy 2.x.",
        "global",
        "    maxconn 4096",
        "",
        "defaults",
        "    mode http",
        "    timeout connect 5s",
        "    timeout client 60s",
        "    timeout server 60s",
        "    # a websocket stays open for the whole lesson",
        "    timeout tunnel 8h",
        "    timeout client-fin 30s",
        "",
        "frontend explorer",
        f"    bind {_bind(address)}:{port}",
        "    default_backend app_servers",
        "",
        "backend app_servers",
        "    balance leastconn",
        "    # a tab's requests all reach the process that holds its session",
        "    cookie EXPLORER_SERVER insert indirect nocache httponly",
        "    http-response set-header X-Explorer-Server %s",
        "    option httpchk GET /_stcore/health",
    ]
    lines += [
        f"    server {b.name} {_bind(b.host)}:{b.port} check cookie {b.name}" for b in backends
    ]
    if stats_port is not None:
        lines += [
            "",
            "listen stats",
            f"    bind 127.0.0.1:{stats_port}",
            "    stats enable",
            "    stats uri /",
        ]
    return "\n".join(lines) + "\n"


def _bind(host: str) -> str:
    """An IPv6 address in brackets, as haproxy writes addresses with a port."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
