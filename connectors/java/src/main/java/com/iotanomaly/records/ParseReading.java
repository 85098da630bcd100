package com.iotanomaly.records;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.functions.ScalarFunction;
import org.apache.flink.types.Row;

/**
 * The job's parse/validate step as a SQL scalar function, in the JVM: {@code parse_reading(line,
 * max_future_ms)} gives one row per record, a valid reading or a dead letter (see {@link Readings}).
 * A reading's measurements are one {@code sensors} array of (name, value) rows in record order, so
 * the row type does not depend on which names devices send. Registered by {@code
 * flink_job/pipeline/graph.py}; no record crosses into Python for it.
 */
public class ParseReading extends ScalarFunction {

    private static final long serialVersionUID = 1L;

    /**
     * Columns, by name: the graph reads them so. {@code payload} is the canonical line or the dead
     * letter; a dead letter's device_id, ts and sensors are null.
     */
    public static final String RESULT_TYPE = "ROW<error STRING, payload STRING, device_id STRING, ts BIGINT, "
            + "sensors ARRAY<ROW<sensor STRING, v DOUBLE>>>";

    public @DataTypeHint(RESULT_TYPE) Row eval(String line, Long maxFutureMs) {
        long now = System.currentTimeMillis();
        Readings.Result r = Readings.parse(line, now, maxFutureMs == null ? 300_000L : maxFutureMs);
        if (!r.ok()) {
            return Row.of(r.error, Readings.deadLetter(r, line, now), null, null, null);
        }
        Row[] sensors = new Row[r.names.length];
        for (int i = 0; i < sensors.length; i++) {
            sensors[i] = Row.of(r.names[i], r.values[i]);
        }
        return Row.of(null, r.canonical, r.deviceId, r.tsMs, sensors);
    }

    @Override
    public boolean isDeterministic() {
        return false; // reads the wall clock
    }
}
