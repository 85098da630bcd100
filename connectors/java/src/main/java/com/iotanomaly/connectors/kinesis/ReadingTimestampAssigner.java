package com.iotanomaly.connectors.kinesis;

import com.iotanomaly.records.Readings;
import org.apache.flink.api.common.eventtime.SerializableTimestampAssigner;

/**
 * Event time of a JSON reading emitted by {@link KinesisStreamsSource}: its top-level {@code "ts"} as
 * the job's parse step reads it, against the wall clock ({@link Readings#eventTime}, where the rules
 * are: the same parser, so the watermark moves on exactly the times the readings are judged at). 0
 * for a record without a valid {@code ts}: a bounded-out-of-orderness watermark never advances on 0,
 * so a malformed record or a far-future clock cannot drag event time forward. Never throws.
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
