"""A fault-injecting HTTP reverse proxy on loopback, in front of the moto server (or any HTTP server).

Each request is attributed to a service (the SigV4 credential scope ``.../<region>/<service>/aws4_request``
of the Authorization header, else the X-Amz-Target prefix, else the path: ``/api/v2/`` is InfluxDB).
For the services given a fault rate, a seeded schedule (one random stream per service, so the n-th
request of a service always meets the same fate) replaces some requests with a fault:

``500`` / ``503``  the service's own error body (InternalFailure / ServiceUnavailable)
``throttle``       the service's throttling error: SNS/CloudWatch ``Throttling``, Timestream
                   ``ThrottlingException`` (JSON, x-amzn-ErrorType), S3 503 ``SlowDown``, InfluxDB 429
``reset``          the connection is reset (RST) before the request reaches the server
``drop``           the request reaches the server, then the connection is reset instead of answering
                   (the client cannot know it succeeded: the case that makes delivery at-least-once)
``delay``          the request is held ``delay_s`` seconds (default 2), then forwarded normally

Faulty requests take the configured kinds in turn (from a seeded start), so a handful of faults
covers every kind. An *outage* (``outages={service: (after_n_requests, seconds)}``, or
:meth:`FaultProxy.start_outage` at a moment of the caller's choosing) fails every request of a
service with 503 for a while, counted as kind ``outage``: longer than a writer's retry budget, it
forces the job through a restart. ``latency={service: seconds}`` holds every request of a service
(a slow service, not a fault; not counted).

Bodies are streamed both ways (Content-Length, chunked, close-delimited; ``Expect: 100-continue``
answered here), so S3 multipart uploads pass. Counts of requests and injected faults per service
and kind are kept in memory (:meth:`FaultProxy.counts`), served at ``GET /__faultproxy__/stats``
and, with ``stats_path``, rewritten to a JSON file after every fault.

In-process::

    with FaultProxy(upstream, rates={"sns": 0.3}, seed=1) as proxy:
        client = boto3.client("sns", endpoint_url=proxy.endpoint, ...)

As a process: ``python -m localdev.faultproxy --upstream URL --rate sns=0.3 ...`` (see ``--help``),
or :func:`start_process` / :func:`stop_process` by PID.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

KINDS = ("500", "503", "throttle", "reset", "drop", "delay")
STATS_PATH = "/__faultproxy__/stats"
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "trailers",
    "upgrade",
    "expect",  # answered by this proxy; the upstream gets the body straight away
    "transfer-encoding",  # re-framed by this proxy
}
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
# X-Amz-Target prefixes of the JSON / CBOR services (the credential scope normally decides first)
_TARGETS = {
    "timestream_": "timestream",
    "graniteserviceversion20100801": "monitoring",
    "kinesis_": "kinesis",
    "amazonsqs": "sqs",
    "secretsmanager": "secretsmanager",
    "firehose_": "firehose",
    "trentservice": "kms",
}
_THROTTLE_CODE = {
    "sns": "Throttling",
    "monitoring": "Throttling",
    "sqs": "ThrottlingException",
    "timestream": "ThrottlingException",
    "kinesis": "ProvisionedThroughputExceededException",
}


def service_of(method: str, path: str, headers: Mapping[str, str]) -> str:
    """The AWS service a request is for (SigV4 scope, X-Amz-Target, path); '' if unknown."""
    auth = headers.get("Authorization") or ""
    m = _SCOPE.search(auth)
    if m:
        return m.group(1).lower()
    query = urllib.parse.urlparse(path).query
    if "X-Amz-Credential=" in query:  # a presigned URL
        parts = urllib.parse.parse_qs(query).get("X-Amz-Credential", [""])[0].split("/")
        if len(parts) >= 5:
            return parts[3].lower()
    target = (headers.get("X-Amz-Target") or "").lower()
    for prefix, service in _TARGETS.items():
        if target.startswith(prefix):
            return service
    cbor_path = re.match(r"/service/([^/]+)/operation/", path)
    if cbor_path:
        name = cbor_path.group(1).lower()
        for prefix, service in _TARGETS.items():
            if name.startswith(prefix):
                return service
    if path.startswith("/api/v2/"):
        return "influx"
    return ""


def _cbor_text(text: str) -> bytes:
    data = text.encode("utf-8")
    n = len(data)
    if n < 24:
        head = bytes([0x60 + n])
    elif n < 256:
        head = bytes([0x78, n])
    else:
        head = b"\x79" + struct.pack(">H", n)
    return head + data


def _cbor_map(items: Mapping[str, str]) -> bytes:
    """A CBOR map of text to text (all an rpc-v2-cbor error body needs)."""
    return bytes([0xA0 + len(items)]) + b"".join(_cbor_text(k) + _cbor_text(v) for k, v in items.items())


def error_response(service: str, kind: str, headers: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a ``500`` / ``503`` / ``throttle`` fault in the service's own format."""
    request_id = str(uuid.uuid4())
    if service == "influx":
        status = {"500": 500, "503": 503, "throttle": 429}[kind]
        code = {"500": "internal error", "503": "unavailable", "throttle": "too many requests"}[kind]
        body = json.dumps({"code": code, "message": f"injected fault: {kind}"}).encode()
        extra = {"Retry-After": "1"} if kind == "throttle" else {}
        return status, {"Content-Type": "application/json", **extra}, body
    if kind == "throttle":
        code = "SlowDown" if service == "s3" else _THROTTLE_CODE.get(service, "ThrottlingException")
        status, sender = (503, "Receiver") if service == "s3" else (400, "Sender")
        message = "Please reduce your request rate." if service == "s3" else "Rate exceeded"
    elif kind == "500":
        code = "InternalError" if service == "s3" else "InternalFailure"
        status, sender, message = 500, "Receiver", "We encountered an internal error. Please try again."
    else:
        code, status, sender, message = "ServiceUnavailable", 503, "Receiver", "Service is unavailable."
    content_type = (headers.get("Content-Type") or "").lower()
    base = {"x-amzn-RequestId": request_id, "x-amz-request-id": request_id}
    if service == "s3":
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
        return status, {**base, "Content-Type": "application/xml"}, body
    if "cbor" in content_type or headers.get("smithy-protocol"):
        body = _cbor_map({"__type": code, "message": message})
        out = {**base, "Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}
        out["x-amzn-query-error"] = f"{code};{sender}"  # CloudWatch is awsQueryCompatible
        return status, out, body
    if "x-amz-json" in content_type:
        body = json.dumps({"__type": code, "message": message}).encode()
        out = {**base, "Content-Type": content_type.split(";")[0], "x-amzn-ErrorType": code}
        out["x-amzn-query-error"] = f"{code};{sender}"
        return status, out, body
    xmlns = {"sns": "http://sns.amazonaws.com/doc/2010-03-31/"}.get(
        service, "http://monitoring.amazonaws.com/doc/2010-08-01/"
    )
    body = (
        f'<ErrorResponse xmlns="{xmlns}"><Error><Type>{sender}</Type><Code>{code}</Code>'
        f"<Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()
    return status, {**base, "Content-Type": "text/xml"}, body


class Schedule:
    """Seeded fault decisions, one random stream per service; thread-safe; counts what it decided."""

    def __init__(
        self,
        rates: Mapping[str, float],
        kinds: Iterable[str] | Mapping[str, Iterable[str]] = KINDS,
        seed: int = 0,
        outages: Mapping[str, tuple[int, float]] | None = None,
    ) -> None:
        self.rates = dict(rates)
        # service -> (after this many requests, for this many seconds): every request fails (503)
        self.outages = dict(outages or {})
        self._outage_started: dict[str, float] = {}
        if isinstance(kinds, Mapping):
            self.kinds = {svc: tuple(k) for svc, k in kinds.items()}
        else:
            self.kinds = {svc: tuple(kinds) for svc in self.rates}
        for svc, ks in self.kinds.items():
            unknown = set(ks) - set(KINDS)
            if unknown or not ks:
                raise ValueError(f"fault kinds for {svc}: {sorted(unknown) or 'none given'} (known: {KINDS})")
        for svc, rate in self.rates.items():
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"fault rate for {svc} must be within [0, 1], got {rate}")
        self.seed = seed
        self._rngs: dict[str, random.Random] = {}
        self._turn: dict[str, int] = {}
        self._lock = threading.Lock()
        self.requests: dict[str, int] = {}
        self.faults: dict[str, dict[str, int]] = {}
        self.enabled = True

    def decide(self, service: str) -> str | None:
        """The fault for the next request of ``service``, or None (forward it)."""
        with self._lock:
            self.requests[service] = self.requests.get(service, 0) + 1
            if not self.enabled:
                return None
            if service in self.outages:
                after, seconds = self.outages[service]
                if self.requests[service] > after:
                    started = self._outage_started.setdefault(service, time.monotonic())
                    if time.monotonic() - started < seconds:
                        per = self.faults.setdefault(service, {})
                        per["outage"] = per.get("outage", 0) + 1
                        return "503"
            rate = self.rates.get(service, 0.0)
            if not rate:
                return None
            rng = self._rngs.get(service)
            if rng is None:
                rng = self._rngs[service] = random.Random(f"{self.seed}/{service}")
                self._turn[service] = rng.randrange(len(self.kinds.get(service, KINDS)))
            if rng.random() >= rate:
                return None
            # kinds take turns (from a seeded start), so a few faults already cover every kind
            kinds = self.kinds.get(service, KINDS)
            kind = kinds[self._turn[service] % len(kinds)]
            self._turn[service] += 1
            per = self.faults.setdefault(service, {})
            per[kind] = per.get(kind, 0) + 1
            return kind

    def start_outage(self, service: str, seconds: float) -> None:
        """From now on, every request of ``service`` fails (503) for ``seconds``."""
        with self._lock:
            self.outages[service] = (self.requests.get(service, 0), seconds)
            self._outage_started.pop(service, None)

    def counts(self) -> dict:
        with self._lock:
            return {
                "requests": dict(self.requests),
                "faults": {svc: dict(k) for svc, k in self.faults.items()},
            }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and 100-continue, as the SDKs expect
    server: _ProxyServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
        if self.server.verbose:
            super().log_message(format, *args)

    def _upstream(self) -> http.client.HTTPConnection:
        conn = getattr(self, "_conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(
                self.server.upstream_host, self.server.upstream_port, timeout=120
            )
            self._conn = conn
        return conn

    def _body_chunks(self) -> Iterator[bytes]:
        """The request body as it arrives (de-chunked when chunked)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return
                remaining = size
                while remaining:
                    piece = self.rfile.read(min(remaining, 65536))
                    if not piece:
                        raise ConnectionError("client closed mid-chunk")
                    remaining -= len(piece)
                    yield piece
                self.rfile.readline(3)
        else:
            remaining = int(self.headers.get("Content-Length") or 0)
            while remaining:
                piece = self.rfile.read(min(remaining, 65536))
                if not piece:
                    raise ConnectionError("client closed mid-body")
                remaining -= len(piece)
                yield piece

    def _reset(self) -> None:
        """Close the client connection with a RST and no response."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def _handle(self) -> None:
        if self.path == STATS_PATH and self.command == "GET":
            self._send_local(
                200, {"Content-Type": "application/json"}, json.dumps(self.server.counts()).encode()
            )
            return
        service = service_of(self.command, self.path, self.headers)
        fault = self.server.schedule.decide(service) if service else None
        if fault:
            self.server.fault_injected()
        if fault == "reset":
            self._reset()
            return
        if fault in ("500", "503", "throttle"):
            for _ in self._body_chunks():  # drain, so the connection can be reused
                pass
            status, headers, body = error_response(service, fault, self.headers)
            self._send_local(status, headers, body)
            return
        if fault == "delay":
            time.sleep(self.server.delay_s)
        elif service in self.server.latency:
            time.sleep(self.server.latency[service])
        try:
            self._forward(drop=fault == "drop")
        except (ConnectionError, http.client.HTTPException, OSError) as exc:
            conn = getattr(self, "_conn", None)
            if conn is not None:
                conn.close()
                self._conn = None
            if not getattr(self, "_started_response", False):
                try:
                    self._send_local(502, {"Content-Type": "text/plain"}, f"proxy: {exc}".encode())
                except OSError:
                    self.close_connection = True
            else:
                self.close_connection = True

    def _send_local(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _forward(self, drop: bool) -> None:
        self._started_response = False
        has_body = (
            "Content-Length" in self.headers
            or "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        )
        chunked_in = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        conn = self._upstream()
        for attempt in range(2):  # a kept-alive upstream connection may have been closed meanwhile
            try:
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for k, v in self.headers.items():
                    if k.lower() not in _HOP_BY_HOP:
                        conn.putheader(k, v)
                if chunked_in:
                    conn.putheader("Transfer-Encoding", "chunked")
                conn.endheaders()
                break
            except (ConnectionError, http.client.HTTPException, OSError):
                conn.close()
                if attempt:
                    raise
        if has_body:
            for piece in self._body_chunks():
                conn.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked_in else piece)
            if chunked_in:
                conn.send(b"0\r\n\r\n")
        resp = conn.getresponse()
        if drop:
            resp.read()
            self._reset()
            return
        self._started_response = True
        self.send_response_only(resp.status, resp.reason)
        length = resp.getheader("Content-Length")
        no_body = self.command == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200
        chunked_out = not no_body and length is None
        for k, v in resp.getheaders():
            if k.lower() not in _HOP_BY_HOP:
                self.send_header(k, v)
        if chunked_out:
            self.send_header("Transfer-Encoding", "chunked")
        if resp.will_close:
            conn.close()
            self._conn = None
        self.end_headers()
        if no_body:
            resp.read()
            return
        while True:
            piece = resp.read1(65536) if chunked_out else resp.read(65536)
            if not piece:
                break
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked_out else piece)
        if chunked_out:
            self.wfile.write(b"0\r\n\r\n")

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _handle  # noqa: N815

    def finish(self) -> None:
        conn = getattr(self, "_conn", None)
        if conn is not None:
            conn.close()
        with contextlib.suppress(OSError):
            super().finish()


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        port: int,
        upstream: str,
        schedule: Schedule,
        delay_s: float,
        stats_path: str,
        latency: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        parsed = urllib.parse.urlparse(upstream)
        if parsed.scheme != "http" or not parsed.hostname:
            raise ValueError(f"upstream must be an http:// URL, got {upstream!r}")
        self.upstream_host = parsed.hostname
        self.upstream_port = parsed.port or 80
        self.schedule = schedule
        self.delay_s = delay_s
        self.latency = dict(latency or {})
        self.stats_path = stats_path
        self.verbose = False
        self._stats_lock = threading.Lock()

    def counts(self) -> dict:
        return self.schedule.counts()

    def fault_injected(self) -> None:
        if not self.stats_path:
            return
        with self._stats_lock:
            tmp = f"{self.stats_path}.tmp"
            Path(tmp).write_text(json.dumps(self.counts(), indent=2))
            os.replace(tmp, self.stats_path)


class FaultProxy:
    """The proxy as a thread of this process; a context manager (started on enter, stopped on exit)."""

    def __init__(
        self,
        upstream: str,
        rates: Mapping[str, float] | None = None,
        kinds: Iterable[str] | Mapping[str, Iterable[str]] = KINDS,
        seed: int = 0,
        delay_s: float = 2.0,
        port: int = 0,
        stats_path: str | os.PathLike = "",
        outages: Mapping[str, tuple[int, float]] | None = None,
        latency: Mapping[str, float] | None = None,
    ) -> None:
        self.schedule = Schedule(rates or {}, kinds, seed, outages)
        self._server = _ProxyServer(port, upstream, self.schedule, delay_s, str(stats_path or ""), latency)
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def counts(self) -> dict:
        """``{"requests": {service: n}, "faults": {service: {kind: n}}}``."""
        return self.schedule.counts()

    def start_outage(self, service: str, seconds: float) -> None:
        """Fail every request of ``service`` (503, counted as ``outage``) for the next ``seconds``."""
        self.schedule.start_outage(service, seconds)

    def pause(self) -> None:
        """Forward everything untouched (requests still counted) until :meth:`resume`."""
        self.schedule.enabled = False

    def resume(self) -> None:
        self.schedule.enabled = True

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(target=self._server.serve_forever, name="faultproxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def fetch_counts(endpoint: str, timeout_s: float = 5.0) -> dict:
    """The counters of a proxy running elsewhere (e.g. started by :func:`start_process`)."""
    with urllib.request.urlopen(f"{endpoint}{STATS_PATH}", timeout=timeout_s) as resp:
        return json.loads(resp.read())


def _parse_rates(values: list[str]) -> dict[str, float]:
    rates = {}
    for value in values:
        service, sep, rate = value.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"--rate takes SERVICE=RATE, got {value!r}")
        rates[service.strip().lower()] = float(rate)
    return rates


def _parse_outages(values: list[str]) -> dict[str, tuple[int, float]]:
    outages = {}
    for value in values:
        service, sep, rest = value.partition("=")
        after, sep2, seconds = rest.partition(":")
        if not (sep and sep2):
            raise argparse.ArgumentTypeError(f"--outage takes SERVICE=AFTER:SECONDS, got {value!r}")
        outages[service.strip().lower()] = (int(after), float(seconds))
    return outages


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m localdev.faultproxy",
        description="Fault-injecting HTTP reverse proxy on 127.0.0.1 in front of the moto server (or any "
        "HTTP server, e.g. an InfluxDB stand-in). Requests are attributed to a service by their SigV4 "
        "credential scope (sns, timestream, monitoring = CloudWatch, s3, kinesis, sqs, ...), X-Amz-Target, "
        "or path (/api/v2/ = influx); only services given a --rate get faults. Prints the endpoint on "
        "its first line and runs until SIGTERM/SIGINT.",
        epilog="example: python -m localdev.faultproxy --upstream http://127.0.0.1:5000 --rate sns=0.3 "
        "--rate timestream=0.2 --kinds throttle,500,reset --seed 7 --stats-file /tmp/faults.json",
    )
    parser.add_argument("--upstream", required=True, help="the server to proxy, e.g. http://127.0.0.1:5000")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument(
        "--rate",
        action="append",
        default=[],
        metavar="SERVICE=RATE",
        help="fault probability per request for one service, 0..1 (repeatable); no --rate: no faults",
    )
    parser.add_argument(
        "--kinds",
        default=",".join(KINDS),
        help=f"fault kinds, comma-separated, taken in turn (default and choices: {','.join(KINDS)})",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault schedule (default 0)")
    parser.add_argument(
        "--delay-s", type=float, default=2.0, help="how long a 'delay' fault holds (default 2)"
    )
    parser.add_argument(
        "--outage",
        action="append",
        default=[],
        metavar="SERVICE=AFTER:SECONDS",
        help="after AFTER requests of SERVICE, answer all of them 503 for SECONDS (repeatable)",
    )
    parser.add_argument(
        "--latency",
        action="append",
        default=[],
        metavar="SERVICE=SECONDS",
        help="hold every request of SERVICE this long (a slow service, not a fault; repeatable)",
    )
    parser.add_argument("--stats-file", default="", help="JSON file rewritten after every injected fault")
    parser.add_argument("--ready-file", default="", help="write the endpoint here once listening")
    parser.add_argument("--verbose", action="store_true", help="log every request on stderr")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    try:
        proxy = FaultProxy(
            args.upstream,
            _parse_rates(args.rate),
            kinds,
            seed=args.seed,
            delay_s=args.delay_s,
            port=args.port,
            stats_path=args.stats_file,
            outages=_parse_outages(args.outage),
            latency=_parse_rates(args.latency),
        )
    except (ValueError, argparse.ArgumentTypeError) as exc:
        print(f"faultproxy: {exc}", file=sys.stderr)
        return 2
    proxy._server.verbose = args.verbose
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=proxy._server.shutdown).start())
    print(proxy.endpoint, flush=True)
    if args.ready_file:
        Path(args.ready_file).write_text(proxy.endpoint)
    try:
        proxy.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        proxy._server.server_close()
        if args.stats_file:
            Path(args.stats_file).write_text(json.dumps(proxy.counts(), indent=2))
    return 0


def start_process(
    upstream: str, args: Iterable[str] = (), log_path: Path | None = None, timeout_s: float = 15.0
) -> tuple[str, int]:
    """Start the proxy as a child process (own process group); returns (endpoint, pid)."""
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [sys.executable, "-m", "localdev.faultproxy", "--upstream", upstream, *args],
        stdout=subprocess.PIPE,
        stderr=log,
        start_new_session=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    deadline = time.monotonic() + timeout_s
    assert proc.stdout is not None
    line = b""
    while time.monotonic() < deadline and not line:
        line = proc.stdout.readline()
        if proc.poll() is not None and not line:
            break
    endpoint = line.decode().strip()
    if not endpoint.startswith("http://127."):
        stop_process(proc.pid)
        raise RuntimeError(f"fault proxy did not start (exit code {proc.poll()})")
    return endpoint, proc.pid


def stop_process(pid: int, timeout_s: float = 10.0) -> bool:
    """Stop a proxy started by :func:`start_process`; True if it was running."""
    from localdev.emulator import stop_pid

    return stop_pid(pid, timeout_s)


if __name__ == "__main__":
    sys.exit(main())
