package com.iotanomaly.connectors.kinesis;

import org.apache.flink.api.common.eventtime.SerializableTimestampAssigner;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonFactory;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonParser;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonToken;

import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;

/**
 * Event time of a JSON reading emitted by {@link KinesisStreamsSource}: the top-level {@code "ts"}
 * field, either a number of epoch milliseconds (integer or decimal; a decimal is truncated) or an
 * ISO-8601 string WITH a zone offset or {@code Z} ({@code 2026-12-01T10:00:00.123Z},
 * {@code 2026-12-01T10:00:00+01:00}).
 *
 * <p>Returns 0 for everything else: not strict JSON (including duplicate keys), not an object, no
 * {@code ts}, a boolean/null/object {@code ts}, a time before 2000-01-01T00:00:00Z or more than
 * {@code maxFutureMs} ahead of the wall clock, and binary-framed records ({@link RecordText}). A
 * bounded-out-of-orderness watermark never advances on 0, so a broken or far-future clock cannot
 * drag event time forward (such records are rejected downstream as dead letters anyway). Never
 * throws.
 */
public class ReadingTimestampAssigner implements SerializableTimestampAssigner<String> {

    private static final long serialVersionUID = 1L;

    /** 2000-01-01T00:00:00Z: older readings are treated as invalid. */
    public static final long MIN_TS_MS = 946_684_800_000L;

    private static final int MAX_ISO_LENGTH = 64;

    private final long maxFutureMs;
    /** Created lazily per instance: thread-safe and cheap to share, but not worth serializing. */
    private transient JsonFactory factory;

    public ReadingTimestampAssigner(long maxFutureMs) {
        if (maxFutureMs < 0) {
            throw new IllegalArgumentException("maxFutureMs must be >= 0, got " + maxFutureMs);
        }
        this.maxFutureMs = maxFutureMs;
    }

    @Override
    public long extractTimestamp(String element, long recordTimestamp) {
        try {
            long ts = parseTs(element);
            if (ts < MIN_TS_MS || ts - maxFutureMs > System.currentTimeMillis()) {
                return 0L;
            }
            return ts;
        } catch (Throwable e) { // a timestamp must never fail the job: 0 means "no event time"
            return 0L;
        }
    }

    /** The epoch-millisecond {@code ts} of a strict JSON object, or 0. */
    long parseTs(String text) throws Exception {
        if (text == null || text.isEmpty() || text.charAt(0) == '\u0000') {
            return 0L; // empty, or binary-framed (RecordText.BINARY_PREFIX)
        }
        if (factory == null) {
            factory = new JsonFactory();
        }
        long ts = 0L;
        boolean seen = false;
        try (JsonParser parser = factory.createParser(text)) {
            parser.enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                return 0L;
            }
            JsonToken token;
            while ((token = parser.nextToken()) == JsonToken.FIELD_NAME) {
                String name = parser.currentName();
                JsonToken value = parser.nextToken();
                if ("ts".equals(name) && !seen) {
                    seen = true;
                    ts = valueOf(parser, value);
                } else {
                    parser.skipChildren();
                }
            }
            if (token != JsonToken.END_OBJECT || parser.nextToken() != null) {
                return 0L; // trailing content: not one JSON document
            }
        }
        return ts;
    }

    private static long valueOf(JsonParser parser, JsonToken value) throws Exception {
        switch (value) {
            case VALUE_NUMBER_INT:
                if (parser.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
                    return 0L;
                }
                return parser.getLongValue();
            case VALUE_NUMBER_FLOAT:
                double d = parser.getDoubleValue();
                if (Double.isNaN(d) || Double.isInfinite(d) || Math.abs(d) > 9.0e15) {
                    return 0L;
                }
                return (long) d;
            case VALUE_STRING:
                return parseIso(parser.getText());
            default:
                parser.skipChildren();
                return 0L;
        }
    }

    private static long parseIso(String s) {
        if (s.length() < 11 || s.length() > MAX_ISO_LENGTH) {
            return 0L;
        }
        if (s.charAt(10) == ' ') {
            s = s.substring(0, 10) + 'T' + s.substring(11); // as Python's datetime.fromisoformat
        }
        try {
            return OffsetDateTime.parse(s, DateTimeFormatter.ISO_OFFSET_DATE_TIME).toInstant().toEpochMilli();
        } catch (RuntimeException e) {
            return 0L;
        }
    }
}
