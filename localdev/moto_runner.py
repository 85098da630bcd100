"""``moto_server`` with a sturdier ``/moto-api/data.json``.

moto's model dump answers HTTP 500 as soon as one tracked attribute raises anything but a
TypeError while being read (S3 multipart uploads do), so the whole dump is lost. This runner
skips such attributes and accepts ``?service=NAME`` to dump one service only.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def _model_data(self: Any, request: Any, full_url: str, headers: Any) -> tuple[int, dict, str]:
    from urllib.parse import parse_qs, urlparse

    from moto.core.model_instances import model_data

    wanted = parse_qs(urlparse(full_url).query).get("service")
    results: dict[str, dict[str, list[Any]]] = {}
    for service in sorted(model_data):
        if wanted and service not in wanted:
            continue
        results[service] = {}
        for name, model in sorted(model_data[service].items()):
            instances = results[service][name] = []
            for instance in model.instances_tracked:
                item = {}
                for attr in dir(instance):
                    if attr.startswith("_"):
                        continue
                    try:
                        value = getattr(instance, attr)
                        json.dumps(value)
                    except Exception:  # noqa: BLE001 - any unreadable attribute is skipped
                        continue
                    item[attr] = value
                instances.append(item)
    return 200, {"Content-Type": "application/json"}, json.dumps(results)


def main(argv: list[str] | None = None) -> None:
    from moto.moto_api._internal.responses import MotoAPIResponse

    MotoAPIResponse.model_data = _model_data  # before moto.server binds its routes
    from moto.server import main as moto_main

    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
