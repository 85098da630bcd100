"""Timestream for InfluxDB (InfluxDB 2.x HTTP API) writer: line protocol over /api/v2/write.

Authentication comes from a Secrets Manager secret (its ARN is a runtime property): an API token
when the secret holds ``token`` (the rotated token secret the infrastructure creates), otherwise the
``username``/``password`` that AWS generates for a new instance, exchanged for a session at
/api/v2/signin. On a 401 the writer reads the secret again (``reload``) and retries once: a rotation
that revoked the old token, or an expired session, costs one call, not a restart; a second 401
fails the task (the points stay in checkpointed state). Points the server
refuses (HTTP 4xx) come back with the reason for the dead letters; 429, 5xx, connection errors
and timeouts are retried with backoff (connectors.aws), then raised, so the job restarts from its
checkpoint. Rewriting a batch is safe: a point with the same series and time overwrites itself.
"""

from __future__ import annotations

import base64
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence

from connectors.aws import RetryPolicy, default_policy, is_transient

MAX_POINTS_PER_WRITE = 5_000  # InfluxDB's recommended batch size


def _escape(text: str, chars: str) -> str:
    for ch in ("\\", *chars):
        text = text.replace(ch, "\\" + ch)
    return text


def line(measurement: str, tags: Mapping[str, str], fields: Mapping[str, object], ts_ms: int) -> str:
    """One point in line protocol (millisecond precision); None fields are left out."""
    head = _escape(measurement, ", ")
    tag_part = "".join(f",{_escape(k, ',= ')}={_escape(v, ',= ')}" for k, v in sorted(tags.items()) if v)
    parts = []
    for k, v in fields.items():
        if v is None:
            continue
        if isinstance(v, bool):
            val = "true" if v else "false"
        elif isinstance(v, int):
            val = f"{v}i"
        elif isinstance(v, float):
            val = repr(v)
        else:
            val = '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
        parts.append(f"{_escape(k, ',= ')}={val}")
    if not parts:
        raise ValueError(f"point {measurement} at {ts_ms} has no fields")
    return f"{head}{tag_part} {','.join(parts)} {ts_ms}"


class InfluxWriter:
    """Writes line-protocol points to one bucket; returns the refused ones with a reason."""

    def __init__(
        self,
        endpoint: str,
        organization: str,
        bucket: str,
        credentials: Mapping[str, str],
        policy: RetryPolicy | None = None,
        reload: Callable[[], Mapping[str, str]] | None = None,
    ) -> None:
        self._base = endpoint.rstrip("/")
        self._query = urllib.parse.urlencode({"org": organization, "bucket": bucket, "precision": "ms"})
        self._credentials = credentials
        self._reload = reload
        self._policy = policy or default_policy()
        self._auth: dict[str, str] | None = None
        self.written = 0

    def _headers(self) -> dict[str, str]:
        if self._auth is None:
            token = self._credentials.get("token")
            if token:
                self._auth = {"Authorization": f"Token {token}"}
            elif not self._credentials.get("username"):
                raise RuntimeError("the InfluxDB secret holds neither a token nor a username/password "
                                   "(is its first rotation still pending?)")
            else:
                basic = base64.b64encode(
                    f"{self._credentials['username']}:{self._credentials['password']}".encode()
                ).decode()
                req = urllib.request.Request(
                    f"{self._base}/api/v2/signin", method="POST", headers={"Authorization": f"Basic {basic}"}
                )
                with urllib.request.urlopen(req, timeout=10) as resp:
                    cookie = resp.headers.get("Set-Cookie", "").split(";", 1)[0]
                if not cookie:
                    raise RuntimeError("InfluxDB sign-in returned no session cookie")
                self._auth = {"Cookie": cookie}
        return self._auth

    def write(self, points: Sequence[str]) -> list[tuple[str, str]]:
        refused: list[tuple[str, str]] = []
        for start in range(0, len(points), MAX_POINTS_PER_WRITE):
            batch = list(points[start : start + MAX_POINTS_PER_WRITE])
            reason = self._post("\n".join(batch).encode("utf-8"))
            if reason:
                refused.extend((p, reason) for p in batch)
            else:
                self.written += len(batch)
        return refused

    def _post(self, body: bytes) -> str | None:
        """None on success, else why the batch was refused; raises when retries run out."""
        backoff = self._policy.start(f"InfluxDB write to {self._base}")
        reauthenticated = False
        while True:
            try:
                headers = {"Content-Type": "text/plain; charset=utf-8", **self._headers()}
                req = urllib.request.Request(
                    f"{self._base}/api/v2/write?{self._query}", data=body, method="POST", headers=headers
                )
                with urllib.request.urlopen(req, timeout=30) as resp:
                    resp.read()
                    return None
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode("utf-8", "replace")[:300]
                if exc.code == 401 and not reauthenticated:
                    # a rotated (revoked) token or an expired session: read the secret again, once
                    if self._reload is not None:
                        self._credentials = self._reload()
                    self._auth = None
                    reauthenticated = True
                    continue
                if exc.code in (401, 403):  # credentials, not data: fail the job, keep the points
                    raise RuntimeError(f"InfluxDB at {self._base} refused the credentials: {detail}") from exc
                if not is_transient(exc):
                    return f"refused by InfluxDB (HTTP {exc.code}): {detail}"
                backoff.wait(f"HTTP {exc.code}: {detail}")
            except Exception as exc:
                if not is_transient(exc):
                    raise
                backoff.wait(exc)
