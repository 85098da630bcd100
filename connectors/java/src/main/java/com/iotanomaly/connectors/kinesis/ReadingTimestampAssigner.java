package com.iotanomaly.connectors.kinesis;

import com.iotanomaly.records.Readings;
import org.apache.flink.api.common.eventtime.SerializableTimestampAssigner;

/**
 * Event time of a JSON reading emitted by {@link KinesisStreamsSource}: the top-level {@code "ts"}
 * field as the job's parse step reads it ({@link Readings#eventTime}: the same parser and rules, so
 * the watermark moves on exactly the times the readings are judged at): a number of epoch
 * milliseconds (integer or decimal; a decimal is truncated) or an ISO-8601 string WITH a zone offset
 * or {@code Z} ({@code 2026-12-01T10:00:00.123Z}, {@code 2026-12-01T10:00:00+01:00}).
 *
 * <p>Returns 0 for everything else: not strict JSON (including duplicate keys), not an object, no
 * {@code ts}, a boolean/null/object {@code ts}, a time before 2000-01-01T00:00:00Z or more than
 * {@code maxFutureMs} ahead of the wall clock, and binary-framed records ({@link RecordText}) whose
 * bytes are not UTF-8 text. A
 * bounded-out-of-orderness watermark never advances on 0, so a broken or far-future clock cannot
 * drag event time forward (such records are rejected downstream as dead letters anyway). Never
 * throws.
 */
public class ReadingTimestampAssigner implements SerializableTimestampAssigner<String> {

    private static final long serialVersionUID = 1L;

    private final long maxFutureMs;

    public ReadingTimestampAssigner(long maxFutureMs) {
        if (maxFutureMs < 0) {
            throw new IllegalArgumentException("maxFutureMs must be >= 0, got " + maxFutureMs);
        }
        this.maxFutureMs = maxFutureMs;
    }

    @Override
    public long extractTimestamp(String element, long recordTimestamp) {
        return Readings.eventTime(element, System.currentTimeMillis(), maxFutureMs);
    }
}
