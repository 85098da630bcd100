"""CDK v2 app for the IoT anomaly-detection pipeline (issue 4).

The package is called ``iot_anomaly_infra`` so it cannot clash with the project's top-level
``flink_job``, ``connectors`` and ``localdev`` packages.
"""
