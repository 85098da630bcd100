package com.iotanomaly.connectors.kinesis;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;

import org.junit.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.charset.StandardCharsets;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;

public class ReadingTimestampAssignerTest {

    private static final long HOUR = 3_600_000L;
    private final ReadingTimestampAssigner assigner = new ReadingTimestampAssigner(300_000L);

    private long ts(String json) {
        return assigner.extractTimestamp(json, 123L);
    }

    @Test
    public void epochMillisNumbers() {
        assertEquals(1764057600000L, ts("{\"device_id\":\"d\",\"ts\":1764057600000,\"seq\":1}"));
        assertEquals(1764057600123L, ts("{\"ts\": 1764057600123.9}"));
        assertEquals(1764057600000L, ts("{\"ts\": 1.7640576E12}"));
        assertEquals(1764057600000L, ts("  {\"nested\": {\"ts\": 5, \"a\": [1, {\"ts\": 6}]}, \"ts\": 1764057600000} "));
        // framed UTF-8 text is read as the parse step reads it: {"ts":1764057600000}
        assertEquals(1764057600000L, ts(RecordText.BINARY_PREFIX + "eyJ0cyI6MTc2NDA1NzYwMDAwMH0="));
    }

    @Test
    public void isoStringsWithZone() {
        assertEquals(1796119200123L, ts("{\"ts\":\"2026-12-01T10:00:00.123Z\"}"));
        assertEquals(1796115600000L, ts("{\"ts\":\"2026-12-01T10:00:00+01:00\"}"));
        assertEquals(1796115600000L, ts("{\"ts\":\"2026-12-01 10:00:00+01:00\"}"));
    }

    @Test
    public void everythingElseIsZero() {
        String[] bad = {
            null, "", "not json", "[1,2]", "42", "\"ts\"", "{}", "{\"ts\":true}", "{\"ts\":null}",
            "{\"ts\":{\"v\":1764057600000}}", "{\"ts\":[1764057600000]}",
            "{\"ts\":\"2026-12-01T10:00:00\"}", // no zone
            "{\"ts\":\"yesterday\"}", "{\"ts\":\"\"}",
            "{\"ts\":946684799999}", // before 2000-01-01
            "{\"ts\":-1}", "{\"ts\":99999999999999999999999}", "{\"ts\":1e300}",
            "{\"ts\":1764057600000", // truncated
            "{\"ts\":1764057600000} {\"x\":1}", // trailing document
            "{\"ts\":1764057600000,\"ts\":1764057600001}", // duplicate key
            "{\"ts\":1764057600000,\"a\":{\"b\":1,\"b\":2}}", // duplicate key at depth
            "{\"ts\":NaN}",
            RecordText.BINARY_PREFIX + "/w==", // framed bytes that are not UTF-8
        };
        for (String s : bad) {
            assertEquals(String.valueOf(s), 0L, ts(s));
        }
    }

    @Test
    public void futureBeyondMaxFutureIsZero() {
        long now = System.currentTimeMillis();
        assertEquals(0L, ts("{\"ts\":" + (now + HOUR) + "}"));
        long soon = now + 60_000L;
        assertEquals(soon, ts("{\"ts\":" + soon + "}"));
        assertEquals(now + HOUR, new ReadingTimestampAssigner(2 * HOUR)
                .extractTimestamp("{\"ts\":" + (now + HOUR) + "}", 0L));
    }

    @Test
    public void neverThrowsOnGarbage() {
        java.util.Random random = new java.util.Random(7);
        for (int i = 0; i < 2000; i++) {
            byte[] b = new byte[random.nextInt(64)];
            random.nextBytes(b);
            ts(new String(b, StandardCharsets.ISO_8859_1));
            ts("{\"ts\":" + new String(b, StandardCharsets.ISO_8859_1));
        }
        StringBuilder deep = new StringBuilder();
        for (int i = 0; i < 100_000; i++) {
            deep.append("{\"a\":");
        }
        assertEquals(0L, ts(deep.toString()));
    }

    @Test
    public void serializableAndStrategyBuilds() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(assigner);
        }
        ReadingTimestampAssigner copy;
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            copy = (ReadingTimestampAssigner) in.readObject();
        }
        assertEquals(1764057600000L, copy.extractTimestamp("{\"ts\":1764057600000}", 0L));

        WatermarkStrategy<String> withIdleness = ReadingWatermarks.strategy(1000L, 5000L, 300_000L);
        WatermarkStrategy<String> withoutIdleness = ReadingWatermarks.strategy(1000L, 0L, 300_000L);
        assertNotNull(withIdleness);
        assertNotNull(withoutIdleness);
        assertEquals(1764057600000L, withoutIdleness.createTimestampAssigner(null)
                .extractTimestamp("{\"ts\":1764057600000}", 0L));
    }
}
