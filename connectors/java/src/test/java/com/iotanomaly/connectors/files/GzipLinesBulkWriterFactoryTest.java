package com.iotanomaly.connectors.files;

import org.apache.flink.api.common.serialization.BulkWriter;
import org.apache.flink.core.fs.FSDataOutputStream;

import org.junit.Test;

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.stream.Collectors;
import java.util.zip.GZIPInputStream;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;

public class GzipLinesBulkWriterFactoryTest {

    static final class MemoryStream extends FSDataOutputStream {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        boolean closed;

        @Override
        public long getPos() {
            return bytes.size();
        }

        @Override
        public void write(int b) {
            bytes.write(b);
        }

        @Override
        public void flush() {}

        @Override
        public void sync() {}

        @Override
        public void close() {
            closed = true;
        }
    }

    @Test
    public void writesOneUtf8LinePerElementAndLeavesStreamOpen() throws IOException {
        MemoryStream out = new MemoryStream();
        BulkWriter<String> writer = new GzipLinesBulkWriterFactory().create(out);
        writer.addElement("{\"a\": 1}");
        writer.flush();
        writer.addElement("{\"b\": \"värde\"}");
        writer.finish();
        assertFalse("finish() must not close the part file stream", out.closed);

        try (BufferedReader in = new BufferedReader(new InputStreamReader(
                new GZIPInputStream(new ByteArrayInputStream(out.bytes.toByteArray())),
                StandardCharsets.UTF_8))) {
            List<String> lines = in.lines().collect(Collectors.toList());
            assertEquals(List.of("{\"a\": 1}", "{\"b\": \"värde\"}"), lines);
        }
    }
}
