"""Static checks of build.gradle (Gradle 4.4 + 8.x compatible) and, if built, of the uber jar."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = (REPO / "build.gradle").read_text(encoding="utf-8")
JAR = REPO / "build" / "libs" / "pyflink-dependencies.jar"
CODE = "\n".join(line.split("//")[0] for line in BUILD.splitlines() if not line.lstrip().startswith("*"))


def test_no_configurations_or_apis_removed_in_gradle_7_or_8():
    assert not re.search(r"^\s*(compile|runtime|testCompile|testRuntime)\s*[\"'(]", CODE, re.M)
    assert "plugins {" not in CODE, "plugin portal / plugins block not allowed (offline Gradle 4.4)"
    assert re.findall(r"apply plugin: '([^']+)'", CODE) == ["java"]
    assert "<<" not in CODE
    assert "tasks.register" not in CODE  # Gradle 4.9+


def test_archive_naming_is_branched_on_gradle_version():
    assert "GradleVersion.current()" in CODE
    assert "archiveFileName.set('pyflink-dependencies.jar')" in CODE
    assert "archiveName = 'pyflink-dependencies.jar'" in CODE
    assert "duplicatesStrategy = DuplicatesStrategy.EXCLUDE" in CODE


@pytest.mark.skipif(not JAR.exists(), reason="build/libs/pyflink-dependencies.jar not built (gradle uberJar)")
def test_uber_jar_content():
    with zipfile.ZipFile(JAR) as jar:
        names = jar.namelist()
        assert len(names) == len(set(names)), "duplicate entries"
        assert "com/iotanomaly/connectors/kinesis/KinesisStreamsSource.class" in names
        assert "com/iotanomaly/connectors/files/GzipLinesBulkWriterFactory.class" in names
        assert "software/amazon/awssdk/services/kinesis/KinesisClient.class" in names
        assert not [n for n in names if re.fullmatch(r"META-INF/[^/]+\.(SF|DSA|RSA|EC)", n)]
        for provided in ("org/apache/flink/", "org/slf4j/", "io/netty/", "software/amazon/awssdk/http/nio/"):
            assert not [n for n in names if n.startswith(provided)], provided
        http = jar.read("META-INF/services/software.amazon.awssdk.http.SdkHttpService").decode().split()
        assert http == ["software.amazon.awssdk.http.urlconnection.UrlConnectionSdkHttpService"]
    assert JAR.stat().st_size < 15 * 1024 * 1024
