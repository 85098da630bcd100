"""Placeholder Flink entry script, deployed only when build/dist/iot-anomaly-flink.zip is missing.

It lets `make synth` and the infra tests run on a fresh clone. The stack does not start an
application that uses it. Build the real zip with `make package` and deploy again.
"""

raise SystemExit("placeholder application code: run `make package` and redeploy the stack")
