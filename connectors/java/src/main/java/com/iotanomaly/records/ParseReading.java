package com.iotanomaly.records;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.functions.ScalarFunction;
import org.apache.flink.types.Row;

/**
 * The job's parse/validate step as a SQL scalar function, in the JVM: {@code parse_reading(line,
 * max_future_ms)} gives one row per record, a valid reading or a dead letter (see {@link Readings}).
 * Registered by {@code flink_job/pipeline/graph.py}; no record crosses into Python for it.
 */
public class ParseReading extends ScalarFunction {

    private static final long serialVersionUID = 1L;

    /** Columns, by name: the graph reads them so. {@code payload} is the canonical line or the dead letter. */
    public static final String RESULT_TYPE = "ROW<error STRING, payload STRING, device_id STRING, ts BIGINT, "
            + "temperature DOUBLE, pressure DOUBLE, vibration DOUBLE>";

    public @DataTypeHint(RESULT_TYPE) Row eval(String line, Long maxFutureMs) {
        long now = System.currentTimeMillis();
        Readings.Result r = Readings.parse(line, now, maxFutureMs == null ? 300_000L : maxFutureMs);
        if (!r.ok()) {
            return Row.of(r.error, Readings.deadLetter(r, line, now), null, null, null, null, null);
        }
        return Row.of(null, r.canonical, r.deviceId, r.tsMs, r.values[0], r.values[1], r.values[2]);
    }

    @Override
    public boolean isDeterministic() {
        return false; // reads the wall clock
    }
}
