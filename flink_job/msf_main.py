"""Entry script of the MSF zip: ``make package`` copies it to the zip's root as ``main.py``.

MSF runs it with the run options ``python=main.py``, ``jarfile=lib/pyflink-dependencies.jar`` and
``pyFiles=python_deps/``. It only makes the zip's own packages importable and hands over to
``flink_job.main``; if even that import fails (a package or dependency missing from the zip), it
says so on stdout and stderr before exiting, instead of a bare "exits with code 1".

Locally: ``IOT_ANOMALY_LOCAL=true python main.py --properties application_properties.json`` in the
unzipped folder (the run options' jar and pyFiles are used when ``local.jars`` is not set).
"""

import os
import sys
import traceback

APP_ROOT = os.path.dirname(os.path.abspath(__file__))


def _fail(message: str) -> int:
    for stream in (sys.stdout, sys.stderr):
        print(message, file=stream, flush=True)
    return 1


if __name__ == "__main__":
    if APP_ROOT not in sys.path:
        sys.path.insert(0, APP_ROOT)
    try:
        from flink_job.main import main
    except Exception as exc:  # noqa: BLE001 - report whatever keeps the job from importing
        sys.exit(
            _fail(
                f"iot-anomaly: cannot import the job from {APP_ROOT}: {type(exc).__name__}: {exc}\n"
                f"sys.path={sys.path}\n{traceback.format_exc()}"
            )
        )
    sys.exit(main(app_root=APP_ROOT))
