package com.iotanomaly.records;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.types.Row;
import org.apache.flink.util.OutputTag;

/**
 * The job's parse/validate step, in the JVM: each raw record is parsed once ({@link Readings}, the
 * twin of {@code flink_job/core/records.py}) and routed, with no Table API row conversions around it.
 *
 * <ul>
 *   <li>main output: every valid reading not behind the watermark, as {@code Row(device_id, ts,
 *       sensors)} ({@link #readingType}; sensors are {@code Row(sensor, v)} in record order), with
 *       its {@code ts} as the element's event time: the input of the micro-batcher and the
 *       aggregates;
 *   <li>{@link #VALID_LINES}: every valid reading's canonical JSON line, late ones too (the raw archive
 *       keeps every reading);
 *   <li>{@link #DEAD_LETTERS}: the dead-letter JSON line of every record that failed (reason, record,
 *       when received);
 *   <li>{@link #LATE}: the late/ line of a valid reading at or behind the watermark (the windows would
 *       drop it without a trace): reason with the lag in whole seconds, the canonical record, when
 *       received (UTC, {@code yyyy-MM-dd HH:mm:ss.SSS}).
 * </ul>
 *
 * <p>The watermark is the input's, per split from the source; this operator only forwards it. It
 * keeps no state.
 */
public class ParseAndSplit extends AbstractStreamOperator<Row> implements OneInputStreamOperator<String, Row> {

    private static final long serialVersionUID = 1L;

    public static final OutputTag<String> VALID_LINES = new OutputTag<>("valid-lines", Types.STRING);
    public static final OutputTag<String> DEAD_LETTERS = new OutputTag<>("dead-letters", Types.STRING);
    public static final OutputTag<String> LATE = new OutputTag<>("late-readings", Types.STRING);

    private static final DateTimeFormatter RECEIVED_AT =
            DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS").withZone(ZoneOffset.UTC);

    private final long maxFutureMs;
    private transient long watermark;

    public ParseAndSplit(long maxFutureMs) {
        if (maxFutureMs < 0) {
            throw new IllegalArgumentException("maxFutureMs must be >= 0, got " + maxFutureMs);
        }
        this.maxFutureMs = maxFutureMs;
    }

    /** A valid reading: (device_id, ts epoch ms, sensors as (sensor, v) rows in record order). */
    public static TypeInformation<Row> readingType() {
        return Types.ROW_NAMED(new String[] {"device_id", "ts", "sensors"}, Types.STRING, Types.LONG,
                Types.OBJECT_ARRAY(Types.ROW_NAMED(new String[] {"sensor", "v"}, Types.STRING, Types.DOUBLE)));
    }

    @Override
    public void open() throws Exception {
        super.open();
        watermark = Long.MIN_VALUE;
    }

    @Override
    public void processElement(StreamRecord<String> element) {
        String line = element.getValue();
        long now = System.currentTimeMillis();
        Readings.Result r = Readings.parse(line, now, maxFutureMs);
        if (!r.ok()) {
            output.collect(DEAD_LETTERS, element.replace(Readings.deadLetter(r, line, now)));
            return;
        }
        output.collect(VALID_LINES, new StreamRecord<>(r.canonical, r.tsMs));
        if (r.tsMs <= watermark) {
            output.collect(LATE, new StreamRecord<>(lateLine(r, watermark, now), r.tsMs));
            return;
        }
        Row[] sensors = new Row[r.names.length];
        for (int i = 0; i < sensors.length; i++) {
            sensors[i] = Row.of(r.names[i], r.values[i]);
        }
        output.collect(new StreamRecord<>(Row.of(r.deviceId, r.tsMs, sensors), r.tsMs));
    }

    static String lateLine(Readings.Result r, long watermarkMs, long nowMs) {
        StringBuilder sb = new StringBuilder(160 + r.canonical.length());
        sb.append("{\"reason\":");
        StrictJson.quote("late: " + (watermarkMs - r.tsMs) / 1000
                + " s behind the watermark; not in detection or aggregates", sb);
        sb.append(",\"record\":");
        StrictJson.quote(r.canonical, sb);
        sb.append(",\"received_at\":");
        StrictJson.quote(RECEIVED_AT.format(Instant.ofEpochMilli(nowMs)), sb);
        return sb.append('}').toString();
    }

    @Override
    public void processWatermark(Watermark mark) throws Exception {
        watermark = mark.getTimestamp();
        super.processWatermark(mark);
    }
}
