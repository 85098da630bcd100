package com.iotanomaly.batching;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import com.iotanomaly.records.Readings;
import org.apache.flink.api.common.typeinfo.BasicArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.types.Row;

/**
 * Groups readings per bucket of devices into micro-batches in arrival order, so one element
 * crossing into the Python detectors carries many readings of many devices, without waiting for
 * event time.
 *
 * <p>Input: {@code Row(device_id, ts, Row[] sensors)}, each sensor a {@code Row(name, value)} (the
 * parse step's output, {@link com.iotanomaly.records.ParseAndSplit#readingType}; null arrays,
 * elements, names and values are skipped). Output, per bucket with buffered readings: {@code
 * Row(bucket, Row(String[] device_list, Long[] ts_list, String[] name_list, Double[] value_list,
 * Boolean urgent))}: one device and ts per reading, the batch's distinct sensor names in first-seen
 * order (k of them), and a dense n x k matrix, row-major (reading i's value of name j at {@code i *
 * k + j}), NaN where a reading did not report a name (valid readings are finite, so NaN is a free
 * marker). Devices may send any names: the type does not depend on them, and a batch carries only
 * the names its readings use. A device's bucket is {@link #bucketOf}: stable across runs, so a
 * device's detector state stays with its bucket's key. The outer row is the (key, value) pair
 * PyFlink's {@code key_by} would build with a Python map: built here, the batches reach the keyed
 * Python detectors with no extra crossing. Keyed by bucket, not by device, one element and one
 * keyed-state commit carry many devices: at 10,000 devices a device has about one reading per
 * batch, and PyFlink's per-element and per-key costs would otherwise be paid per reading.
 *
 * <p>A batch leaves when the subtask has buffered {@code maxReadings} readings or {@code
 * intervalMs} after its first reading (processing time), and always before a checkpoint barrier or
 * the end of input. A reading at or beyond a static threshold ({@code urgentLow} / {@code
 * urgentHigh} per sensor name: the loosest bounds no configured level lies inside, so a breach is
 * never held back; NaN or a name not listed: none) sends its bucket's batch at once: a threshold
 * alert does not wait for the interval; such a batch is marked {@code urgent} (see {@link
 * #isUrgent}), so the detection operator sends it to Python at once too ({@link
 * MicroBatchBundleOperator}). Whether it is a breach, and whether it alerts, the detectors decide
 * as always; an early batch only costs batching. A watermark that arrives while readings are
 * buffered is held back and forwarded right after them: downstream every reading arrives before any
 * watermark that passes it (event-time timers stay correct), yet watermarks do not cut batches
 * short in catch-up. The buffer is empty at every checkpoint: it needs no state, and a restore
 * loses nothing (what was buffered after the barrier is replayed from the source). Readings of one
 * device come from one shard, so they reach this (forward-chained) operator in order, and keep it.
 */
public class DeviceMicroBatcher extends AbstractStreamOperator<Row> implements OneInputStreamOperator<Row, Row> {

    private static final long serialVersionUID = 1L;
    private static final Double NOT_REPORTED = Double.NaN; // one shared box for the matrix's gaps
    private static final int SPARSITY = 4; // a batch leaves once its matrix has more cells per value
    private static final int URGENT = 4; // the batch's field: sent early for a static threshold breach

    private final int buckets;
    private final int maxReadings;
    private final long intervalMs;
    private final String[] urgentNames;
    private final double[] urgentLow;
    private final double[] urgentHigh;

    private transient Map<String, double[]> urgent; // name -> {low, high}; empty: no bounds at all
    private transient Map<Integer, Batch> buffer;
    private transient int buffered;
    private transient long timerAt; // processing time of the pending flush, -1: none
    private transient Watermark heldWatermark; // arrived while readings were buffered; follows them

    /**
     * One bucket's buffered readings. Values are kept sparse, as (column, value) runs per reading,
     * since k is only known when the batch leaves; {@link #emit} lays them out densely.
     */
    private static final class Batch {
        final List<String> devices = new ArrayList<>();
        final List<Long> ts = new ArrayList<>();
        final List<String> names = new ArrayList<>(); // first-seen order: column j
        final Map<String, Integer> columns = new HashMap<>();
        int[] start = new int[17]; // reading i's entries: [start[i], start[i + 1])
        int[] column = new int[64];
        double[] value = new double[64];
        int entries;
        long maxTs = Long.MIN_VALUE;

        void add(String name, double v) {
            Integer j = columns.get(name);
            if (j == null) {
                j = names.size();
                columns.put(name, j);
                names.add(name);
            }
            if (entries == column.length) {
                column = Arrays.copyOf(column, entries * 2);
                value = Arrays.copyOf(value, entries * 2);
            }
            column[entries] = j;
            value[entries++] = v;
        }

        /** Closes reading {@code i} (the one just added): its entries end here. */
        void endReading(int i) {
            if (i + 2 > start.length) {
                start = Arrays.copyOf(start, start.length * 2);
            }
            start[i + 1] = entries;
        }
    }

    public DeviceMicroBatcher(int buckets, int maxReadings, long intervalMs) {
        this(buckets, maxReadings, intervalMs, null, null, null);
    }

    /**
     * @param buckets how many keys the devices are spread over (the detectors' parallel unit)
     * @param urgentNames the sensor names with urgent bounds (null: none); other names are never urgent
     * @param urgentLow parallel to urgentNames: a reading of that name at or below this sends its
     *     bucket's batch at once (NaN or a null array: never)
     * @param urgentHigh the same at or above
     */
    public DeviceMicroBatcher(
            int buckets, int maxReadings, long intervalMs, String[] urgentNames, double[] urgentLow,
            double[] urgentHigh) {
        if (buckets < 1 || maxReadings < 1 || intervalMs < 1) {
            throw new IllegalArgumentException("buckets, maxReadings and intervalMs must be >= 1, got "
                    + buckets + ", " + maxReadings + ", " + intervalMs);
        }
        int n = urgentNames == null ? 0 : urgentNames.length;
        if (urgentNames == null && (urgentLow != null || urgentHigh != null)) {
            throw new IllegalArgumentException("urgentLow/urgentHigh given without urgentNames");
        }
        if ((urgentLow != null && urgentLow.length != n) || (urgentHigh != null && urgentHigh.length != n)) {
            throw new IllegalArgumentException("urgentLow and urgentHigh need one bound per name of urgentNames ("
                    + n + ")");
        }
        for (int i = 0; i < n; i++) {
            if (urgentNames[i] == null) {
                throw new IllegalArgumentException("urgentNames[" + i + "] is null");
            }
            for (int j = 0; j < i; j++) {
                if (urgentNames[j].equals(urgentNames[i])) {
                    throw new IllegalArgumentException("urgentNames lists " + urgentNames[i] + " twice");
                }
            }
        }
        this.buckets = buckets;
        this.maxReadings = maxReadings;
        this.intervalMs = intervalMs;
        this.urgentNames = n == 0 ? new String[0] : urgentNames.clone();
        this.urgentLow = bounds(urgentLow, n);
        this.urgentHigh = bounds(urgentHigh, n);
    }

    private static double[] bounds(double[] given, int n) {
        double[] out = new double[n];
        Arrays.fill(out, Double.NaN);
        if (given != null) {
            System.arraycopy(given, 0, out, 0, n);
        }
        return out;
    }

    /**
     * A device's bucket: String.hashCode (fixed by the Java spec, so the same in every run) through
     * murmur3's 32-bit finaliser. The ids of a fleet (serial numbers: machine-0001, machine-0002, ...)
     * differ in their last characters, which a polynomial hash leaves in a few low bits: floorMod of
     * the bare hash gave 1,000 such devices 1 to 38 per bucket of 64, and one detection subtask 64%
     * of them. Mixed, they spread 9 to 25 per bucket, 503 to 497 across two subtasks.
     */
    public static int bucketOf(String device, int buckets) {
        return Math.floorMod(mix(device.hashCode()), buckets);
    }

    static int mix(int h) {
        h ^= h >>> 16;
        h *= 0x85ebca6b;
        h ^= h >>> 13;
        h *= 0xc2b2ae35;
        h ^= h >>> 16;
        return h;
    }

    /** The output type: (bucket, batch), see {@link #batchType}. */
    public static TypeInformation<Row> outputType() {
        return Types.ROW_NAMED(new String[] {"f0", "f1"}, Types.INT, batchType());
    }

    /**
     * A batch: device_list and ts_list (one entry per reading), name_list (k names), value_list
     * (n * k values, reading-major), and urgent (sent early for a reading beyond a static threshold).
     */
    public static TypeInformation<Row> batchType() {
        return Types.ROW_NAMED(
                new String[] {"device_list", "ts_list", "name_list", "value_list", "urgent"},
                BasicArrayTypeInfo.STRING_ARRAY_TYPE_INFO,
                BasicArrayTypeInfo.LONG_ARRAY_TYPE_INFO,
                BasicArrayTypeInfo.STRING_ARRAY_TYPE_INFO,
                BasicArrayTypeInfo.DOUBLE_ARRAY_TYPE_INFO,
                Types.BOOLEAN);
    }

    /**
     * A bucket's state flush ({@code Row(bucket, empty batch)}): not a batch of this operator's but
     * the detection operator's ({@link MicroBatchBundleOperator}) before a checkpoint, telling the
     * Python detectors to write the bucket's changed device state now.
     */
    public static Row stateFlush(Object bucket) {
        return Row.of(bucket, Row.of(new String[0], new Long[0], new String[0], new Double[0], false));
    }

    /** Whether an output element ({@code Row(bucket, batch)}) is a batch sent early for a breach. */
    public static boolean isUrgent(Row pair) {
        Object batch = pair.getArity() > 1 ? pair.getField(1) : null;
        return batch instanceof Row && ((Row) batch).getArity() > URGENT
                && Boolean.TRUE.equals(((Row) batch).getField(URGENT));
    }

    @Override
    public void open() throws Exception {
        super.open();
        urgent = new HashMap<>();
        for (int i = 0; i < urgentNames.length; i++) {
            if (!Double.isNaN(urgentLow[i]) || !Double.isNaN(urgentHigh[i])) {
                urgent.put(urgentNames[i], new double[] {urgentLow[i], urgentHigh[i]});
            }
        }
        buffer = new LinkedHashMap<>();
        buffered = 0;
        timerAt = -1;
    }

    @Override
    public void processElement(StreamRecord<Row> element) throws Exception {
        Row r = element.getValue();
        String device = (String) r.getField(0);
        int bucket = bucketOf(device, buckets);
        Batch b = buffer.computeIfAbsent(bucket, k -> new Batch());
        long ts = (Long) r.getField(1);
        int i = b.ts.size();
        b.devices.add(device);
        b.ts.add(ts);
        b.maxTs = Math.max(b.maxTs, ts);
        boolean urgentReading = false;
        Object sensors = r.getField(2);
        if (sensors instanceof Object[]) {
            for (Object o : (Object[]) sensors) {
                if (!(o instanceof Row)) {
                    continue;
                }
                Row s = (Row) o;
                Object name = s.getField(0);
                Object v = s.getField(1);
                if (!(name instanceof String) || !(v instanceof Number)) {
                    continue;
                }
                double x = ((Number) v).doubleValue();
                b.add((String) name, x);
                if (!urgent.isEmpty()) {
                    double[] bound = urgent.get(name);
                    urgentReading |= bound != null && (x <= bound[0] || x >= bound[1]); // false for NaN
                }
            }
        }
        b.endReading(i);
        buffered++;
        // Devices that report different names share a batch's columns: the dense matrix outgrows its
        // values. Sent once it holds more than SPARSITY cells per value, memory and the Python side's
        // work stay proportional to the readings, whatever the mix of names in a bucket.
        long cells = (long) b.ts.size() * b.names.size();
        if (urgentReading || cells > (long) SPARSITY * b.entries + Readings.MAX_SENSORS) {
            emit(bucket, buffer.remove(bucket), urgentReading);
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
            emit(e.getKey(), e.getValue(), false);
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

    private void emit(int bucket, Batch b, boolean urgent) {
        int n = b.ts.size();
        int k = b.names.size();
        Double[] matrix = new Double[n * k];
        Arrays.fill(matrix, NOT_REPORTED);
        for (int i = 0; i < n; i++) {
            for (int e = b.start[i]; e < b.start[i + 1]; e++) {
                matrix[i * k + b.column[e]] = b.value[e]; // a name twice in one reading: the last wins
            }
        }
        Row batch = Row.of(b.devices.toArray(new String[0]), b.ts.toArray(new Long[0]),
                b.names.toArray(new String[0]), matrix, urgent);
        output.collect(new StreamRecord<>(Row.of(bucket, batch), b.maxTs));
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
