package com.iotanomaly.batching;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.typeinfo.BasicArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.types.Row;

/**
 * Groups readings per bucket of devices into micro-batches in arrival order, so one element crossing
 * into the Python detectors carries many readings of many devices, without waiting for event time.
 *
 * <p>Input: {@code Row(device_id, ts, <one DOUBLE per sensor, null when not reported>)}. Output, per
 * bucket with buffered readings: {@code Row(bucket, Row(String[] device_list, Long[] ts_list, Double[]
 * <sensor>_list...))}, one entry per reading, NaN where a sensor was not reported (valid readings are
 * finite, so NaN is a free marker). A device's bucket is {@link #bucketOf}: stable across runs, so a
 * device's detector state stays with its bucket's key. The outer row is the (key, value) pair PyFlink's
 * {@code key_by} would build with a Python map: built here, the batches reach the keyed Python
 * detectors with no extra crossing. Keyed by bucket, not by device, one element and one keyed-state
 * commit carry many devices: at 10,000 devices a device has about one reading per batch, and PyFlink's
 * per-element and per-key costs would otherwise be paid per reading.
 *
 * <p>A batch leaves when the subtask has buffered {@code maxReadings} readings or {@code intervalMs}
 * after its first reading (processing time), and always before a checkpoint barrier or the end of
 * input. A reading at or beyond a static threshold ({@code urgentLow} / {@code urgentHigh} per
 * sensor: the loosest bounds no configured level lies inside, so a breach is never held back, NaN:
 * none) sends its bucket's batch at once: a threshold alert does not wait for the interval. Whether
 * it is a breach, and whether it alerts, the detectors decide as always; an early batch only costs
 * batching. A watermark that arrives while readings are buffered is held back and forwarded right after
 * them: downstream every reading arrives before any watermark that passes it (event-time timers stay
 * correct), yet watermarks do not cut batches short in catch-up. The buffer is empty at every
 * checkpoint: it needs no state, and a restore loses nothing (what was buffered after the barrier is
 * replayed from the source).
 * Readings of one device come from one shard, so they reach this (forward-chained) operator in
 * order, and keep it.
 */
public class DeviceMicroBatcher extends AbstractStreamOperator<Row> implements OneInputStreamOperator<Row, Row> {

    private static final long serialVersionUID = 1L;

    private final int sensors;
    private final int buckets;
    private final int maxReadings;
    private final long intervalMs;
    private final double[] urgentLow;
    private final double[] urgentHigh;

    private transient Map<Integer, Batch> buffer;
    private transient int buffered;
    private transient long timerAt; // processing time of the pending flush, -1: none
    private transient Watermark heldWatermark; // arrived while readings were buffered; follows them

    private static final class Batch {
        final List<String> devices = new ArrayList<>();
        final List<Long> ts = new ArrayList<>();
        final List<Double>[] values;
        long maxTs = Long.MIN_VALUE;

        @SuppressWarnings("unchecked")
        Batch(int sensors) {
            values = new List[sensors];
            for (int i = 0; i < sensors; i++) {
                values[i] = new ArrayList<>();
            }
        }
    }

    public DeviceMicroBatcher(int sensors, int buckets, int maxReadings, long intervalMs) {
        this(sensors, buckets, maxReadings, intervalMs, null, null);
    }

    /**
     * @param buckets how many keys the devices are spread over (the detectors' parallel unit)
     * @param urgentLow per sensor, a reading at or below this sends its bucket's batch at once (NaN or
     *     a null array: never)
     * @param urgentHigh the same at or above
     */
    public DeviceMicroBatcher(
            int sensors, int buckets, int maxReadings, long intervalMs, double[] urgentLow,
            double[] urgentHigh) {
        if (sensors < 1 || buckets < 1 || maxReadings < 1 || intervalMs < 1) {
            throw new IllegalArgumentException("sensors, buckets, maxReadings and intervalMs must be >= 1");
        }
        if ((urgentLow != null && urgentLow.length != sensors)
                || (urgentHigh != null && urgentHigh.length != sensors)) {
            throw new IllegalArgumentException("urgentLow and urgentHigh need one bound per sensor");
        }
        this.sensors = sensors;
        this.buckets = buckets;
        this.maxReadings = maxReadings;
        this.intervalMs = intervalMs;
        this.urgentLow = bounds(urgentLow, sensors);
        this.urgentHigh = bounds(urgentHigh, sensors);
    }

    private static double[] bounds(double[] given, int sensors) {
        double[] out = new double[sensors];
        Arrays.fill(out, Double.NaN);
        if (given != null) {
            System.arraycopy(given, 0, out, 0, sensors);
        }
        return out;
    }

    /** A device's bucket: String.hashCode is fixed by the Java spec, so it is the same in every run. */
    public static int bucketOf(String device, int buckets) {
        return Math.floorMod(device.hashCode(), buckets);
    }

    /** The output type: (bucket, batch), see {@link #batchType}. */
    public static TypeInformation<Row> outputType(String[] sensorNames) {
        return Types.ROW_NAMED(new String[] {"f0", "f1"}, Types.INT, batchType(sensorNames));
    }

    /** A batch: device_list, ts_list and one value list per sensor name, one entry per reading. */
    public static TypeInformation<Row> batchType(String[] sensorNames) {
        String[] names = new String[sensorNames.length + 2];
        TypeInformation<?>[] types = new TypeInformation<?>[sensorNames.length + 2];
        names[0] = "device_list";
        types[0] = BasicArrayTypeInfo.STRING_ARRAY_TYPE_INFO;
        names[1] = "ts_list";
        types[1] = BasicArrayTypeInfo.LONG_ARRAY_TYPE_INFO;
        for (int i = 0; i < sensorNames.length; i++) {
            names[i + 2] = sensorNames[i] + "_list";
            types[i + 2] = BasicArrayTypeInfo.DOUBLE_ARRAY_TYPE_INFO;
        }
        return Types.ROW_NAMED(names, types);
    }

    @Override
    public void open() throws Exception {
        super.open();
        buffer = new LinkedHashMap<>();
        buffered = 0;
        timerAt = -1;
    }

    @Override
    public void processElement(StreamRecord<Row> element) throws Exception {
        Row r = element.getValue();
        String device = (String) r.getField(0);
        int bucket = bucketOf(device, buckets);
        Batch b = buffer.computeIfAbsent(bucket, k -> new Batch(sensors));
        long ts = (Long) r.getField(1);
        b.devices.add(device);
        b.ts.add(ts);
        b.maxTs = Math.max(b.maxTs, ts);
        boolean urgent = false;
        for (int i = 0; i < sensors; i++) {
            Object v = r.getField(2 + i);
            double x = v == null ? Double.NaN : ((Number) v).doubleValue();
            b.values[i].add(x);
            urgent |= x <= urgentLow[i] || x >= urgentHigh[i]; // false for NaN on either side
        }
        buffered++;
        if (urgent) {
            emit(bucket, buffer.remove(bucket));
            buffered -= b.ts.size();
        }
        if (buffered >= maxReadings || buffered == 0) { // 0: only a held watermark is left to forward
            flush();
        } else if (timerAt < 0) {
            timerAt = getProcessingTimeService().getCurrentProcessingTime() + intervalMs;
            getProcessingTimeService().registerTimer(timerAt, this::onTimer);
        }
    }

    private void onTimer(long time) {
        if (time == timerAt) {
            timerAt = -1;
            flush();
        }
    }

    private void flush() {
        if (buffered == 0 && heldWatermark == null) {
            return;
        }
        for (Map.Entry<Integer, Batch> e : buffer.entrySet()) {
            emit(e.getKey(), e.getValue());
        }
        buffer.clear();
        buffered = 0;
        timerAt = -1; // a timer still pending finds nothing to do (its time no longer matches)
        if (heldWatermark != null) {
            Watermark mark = heldWatermark;
            heldWatermark = null;
            try {
                super.processWatermark(mark);
            } catch (Exception e) {
                throw new IllegalStateException("forwarding a held watermark", e);
            }
        }
    }

    private void emit(int bucket, Batch b) {
        Object[] fields = new Object[sensors + 2];
        fields[0] = b.devices.toArray(new String[0]);
        fields[1] = b.ts.toArray(new Long[0]);
        for (int i = 0; i < sensors; i++) {
            fields[i + 2] = b.values[i].toArray(new Double[0]);
        }
        output.collect(new StreamRecord<>(Row.of(bucket, Row.of(fields)), b.maxTs));
    }

    @Override
    public void processWatermark(Watermark mark) throws Exception {
        if (buffered == 0) {
            super.processWatermark(mark);
        } else {
            heldWatermark = mark; // watermarks only grow: the newest one stands for all held ones
        }
    }

    @Override
    public void prepareSnapshotPreBarrier(long checkpointId) throws Exception {
        flush();
        super.prepareSnapshotPreBarrier(checkpointId);
    }

    @Override
    public void finish() throws Exception {
        flush();
        super.finish();
    }
}
