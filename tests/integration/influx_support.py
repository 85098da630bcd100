"""A loopback stand-in for the InfluxDB 2.x HTTP API: the calls our writer and the token rotation make.

No InfluxDB 2.x can be installed on this machine (Debian ships 1.6, without the v2 API). This one
keeps real state and enforces it as InfluxDB does: one admin user (basic auth at /api/v2/signin ->
session cookie, as for the username/password in a new Timestream for InfluxDB instance's secret),
one organization and bucket, authorizations with a status and read/write permissions on buckets;
an inactive, deleted or unknown token gets 401, a token without the permission 403.

Endpoints: POST /api/v2/signin; POST /api/v2/write; GET /api/v2/orgs?org=; GET /api/v2/buckets?name=;
GET /api/v2/buckets/{id}; POST /api/v2/authorizations; PATCH and DELETE /api/v2/authorizations/{id}.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

ORG, ORG_ID, BUCKET, BUCKET_ID = "iot-anomaly", "0000000000000001", "readings", "00000000000000b1"
SESSION = "influxdb-oss-session"


class InfluxStandIn:
    """``with InfluxStandIn(user, password) as influx:`` serves on 127.0.0.1 at ``influx.url``."""

    def __init__(self, username: str, password: str) -> None:
        self.username, self.password = username, password
        self.points: list[str] = []
        self.queries: list[dict] = []
        self.authorizations: dict[str, dict] = {}  # id -> {"token", "status", "permissions"}
        self.sessions: set[str] = set()
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> InfluxStandIn:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def who(self, headers) -> tuple[str, dict | None]:  # noqa: ANN001 - http.client headers
        """("admin"|"token"|"", the authorization): who sends these headers."""
        cookie = headers.get("Cookie", "")
        if cookie.startswith(SESSION + "=") and cookie.split("=", 1)[1] in self.sessions:
            return "admin", None
        auth = headers.get("Authorization", "")
        if auth.startswith("Token "):
            for a in self.authorizations.values():
                if a["token"] == auth[6:] and a["status"] == "active":
                    return "token", a
        return "", None


def _may(auth: dict | None, action: str, bucket_id: str) -> bool:
    return auth is None or any(
        p["action"] == action and p["resource"].get("id") == bucket_id for p in auth["permissions"]
    )


def _handler(influx: InfluxStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def _send(self, status: int, body: dict | None = None, headers: dict | None = None) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length", 0)))

        def _route(self, method: str) -> None:
            url = urlparse(self.path)
            query, path, body = parse_qs(url.query), url.path, self._body()
            with influx.lock:
                if method == "POST" and path == "/api/v2/signin":
                    basic = base64.b64encode(f"{influx.username}:{influx.password}".encode()).decode()
                    if self.headers.get("Authorization") != f"Basic {basic}":
                        return self._send(401, {"code": "unauthorized", "message": "bad credentials"})
                    session = secrets.token_hex(8)
                    influx.sessions.add(session)
                    return self._send(204, headers={"Set-Cookie": f"{SESSION}={session}; Path=/; HttpOnly"})
                who, auth = influx.who(self.headers)
                if not who:
                    return self._send(401, {"code": "unauthorized", "message": "unauthorized access"})
                if method == "POST" and path == "/api/v2/write":
                    if query.get("bucket") != [BUCKET] or query.get("org") != [ORG]:
                        return self._send(404, {"code": "not found", "message": "bucket not found"})
                    if not _may(auth, "write", BUCKET_ID):
                        return self._send(403, {"code": "forbidden", "message": "no write permission"})
                    influx.queries.append(query)
                    influx.points.extend(body.decode().splitlines())
                    return self._send(204)
                if method == "GET" and path == "/api/v2/orgs":
                    orgs = [{"id": ORG_ID, "name": ORG}] if query.get("org") == [ORG] else []
                    return self._send(200, {"orgs": orgs})
                if method == "GET" and path == "/api/v2/buckets":
                    hit = query.get("name") == [BUCKET] and _may(auth, "read", BUCKET_ID)
                    return self._send(200, {"buckets": [{"id": BUCKET_ID, "name": BUCKET}] if hit else []})
                if method == "GET" and path == f"/api/v2/buckets/{BUCKET_ID}":
                    if not _may(auth, "read", BUCKET_ID):
                        return self._send(403, {"code": "forbidden", "message": "no read permission"})
                    return self._send(200, {"id": BUCKET_ID, "name": BUCKET, "orgID": ORG_ID})
                if who != "admin":
                    return self._send(403, {"code": "forbidden", "message": "admin only"})
                if method == "POST" and path == "/api/v2/authorizations":
                    req = json.loads(body)
                    auth_id = secrets.token_hex(8)
                    influx.authorizations[auth_id] = {
                        "token": secrets.token_urlsafe(32),
                        "status": req.get("status", "active"),
                        "permissions": req["permissions"],
                    }
                    return self._send(201, {"id": auth_id, **influx.authorizations[auth_id]})
                if path.startswith("/api/v2/authorizations/"):
                    auth_id = path.rsplit("/", 1)[1]
                    if auth_id not in influx.authorizations:
                        return self._send(404, {"code": "not found", "message": "authorization not found"})
                    if method == "PATCH":
                        influx.authorizations[auth_id]["status"] = json.loads(body)["status"]
                        return self._send(200, {"id": auth_id, **influx.authorizations[auth_id]})
                    if method == "DELETE":
                        del influx.authorizations[auth_id]
                        return self._send(204)
                return self._send(404, {"code": "not found", "message": f"{method} {path}"})

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self._route("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._route("POST")

        def do_PATCH(self) -> None:  # noqa: N802
            self._route("PATCH")

        def do_DELETE(self) -> None:  # noqa: N802
            self._route("DELETE")

    return Handler
