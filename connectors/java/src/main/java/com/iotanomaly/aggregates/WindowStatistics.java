package com.iotanomaly.aggregates;

import java.util.HashMap;
import java.util.Map;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.types.Row;
import org.apache.flink.util.Collector;

/**
 * Tumbling event-time statistics per series (device, sensor): count, mean, min, max and population
 * standard deviation of each window, in the JVM, computed from the detection micro-batches.
 *
 * <p>Input: {@link com.iotanomaly.batching.DeviceMicroBatcher}'s output, {@code Row(bucket, batch)}
 * with the batch's aligned arrays (device_list, ts_list, name_list, value_list: one row of values per
 * reading, NaN or null where a reading did not report a name), keyed by {@link #byBucket}. Keyed by
 * device, every reading crossed a shuffle of its own and updated its device's state (a state read
 * and write per reading, serialised on RocksDB); the batches already hold a bucket's readings, so one
 * element and one state update per window carry them all. Output ({@link #outputType}), one row per
 * sensor a device reported in a window, when the watermark passes the window's end: {@code
 * (device_id, sensor, start_ms, n, mean, min_value, max_value, stddev)}, the fields of {@code
 * flink_job.core.outputs.WindowStats}, by name. Windows are aligned to the epoch (UTC). Mean and
 * variance are Welford's running ones (a constant series has a standard deviation of exactly 0, not
 * the rounding noise of a sum of squares).
 *
 * <p>State: per bucket, its open windows (start -> device -> sensor -> {n, mean, M2, min, max}) and
 * one event-time timer per open window; a window's state is dropped when it fires. The batcher holds
 * a watermark until the readings before it have left, and the parse step lists readings at or behind
 * the watermark as late, so a reading whose window already fired cannot arrive; were one to, it is
 * ignored rather than reopening the window.
 */
public class WindowStatistics extends KeyedProcessFunction<Integer, Row, Row> {

    private static final long serialVersionUID = 1L;
    private static final int N = 0;
    private static final int MEAN = 1;
    private static final int M2 = 2;
    private static final int MIN = 3;
    private static final int MAX = 4;

    private final long windowMs;
    private transient MapState<Long, Map<String, Map<String, double[]>>> windows;

    public WindowStatistics(long windowMs) {
        if (windowMs < 1) {
            throw new IllegalArgumentException("windowMs must be >= 1, got " + windowMs);
        }
        this.windowMs = windowMs;
    }

    /** The key: a batch's bucket (field 0 of the batcher's {@code Row(bucket, batch)}). */
    public static KeySelector<Row, Integer> byBucket() {
        return new BucketKey();
    }

    private static final class BucketKey implements KeySelector<Row, Integer> {
        private static final long serialVersionUID = 1L;

        @Override
        public Integer getKey(Row pair) {
            return (Integer) pair.getField(0);
        }
    }

    /** (device_id, sensor, start_ms, n, mean, min_value, max_value, stddev). */
    public static TypeInformation<Row> outputType() {
        return Types.ROW_NAMED(
                new String[] {"device_id", "sensor", "start_ms", "n", "mean", "min_value", "max_value", "stddev"},
                Types.STRING, Types.STRING, Types.LONG, Types.LONG, Types.DOUBLE, Types.DOUBLE, Types.DOUBLE,
                Types.DOUBLE);
    }

    @Override
    public void open(OpenContext openContext) throws Exception {
        windows = getRuntimeContext().getMapState(new MapStateDescriptor<>("windows", Types.LONG,
                Types.MAP(Types.STRING, Types.MAP(Types.STRING, PrimitiveArrayTypeInfo.DOUBLE_PRIMITIVE_ARRAY_TYPE_INFO))));
    }

    @Override
    public void processElement(Row pair, Context ctx, Collector<Row> out) throws Exception {
        Object batch = pair.getField(1);
        if (!(batch instanceof Row)) {
            return;
        }
        Row b = (Row) batch;
        String[] devices = (String[]) b.getField(0);
        Long[] ts = (Long[]) b.getField(1);
        String[] names = (String[]) b.getField(2);
        Double[] values = (Double[]) b.getField(3);
        if (devices == null || ts == null || names == null || values == null) {
            return;
        }
        int k = names.length;
        long watermark = ctx.timerService().currentWatermark();
        long openStart = 0;
        Map<String, Map<String, double[]>> open = null; // the window of the last reading, written once
        for (int i = 0; i < ts.length && i < devices.length && (i + 1) * k <= values.length; i++) {
            if (ts[i] == null || devices[i] == null) {
                continue;
            }
            long t = ts[i];
            long start = t - Math.floorMod(t, windowMs);
            long fireAt = start + windowMs - 1;
            if (fireAt <= watermark) {
                continue; // its window has fired already (see the class doc)
            }
            if (open == null || start != openStart) {
                if (open != null) {
                    windows.put(openStart, open);
                }
                open = windows.get(start);
                if (open == null) {
                    open = new HashMap<>();
                    ctx.timerService().registerEventTimeTimer(fireAt);
                }
                openStart = start;
            }
            Map<String, double[]> series = open.computeIfAbsent(devices[i], d -> new HashMap<>());
            for (int j = 0; j < k; j++) {
                Double v = values[i * k + j];
                if (v != null && !v.isNaN() && names[j] != null) {
                    add(series.computeIfAbsent(names[j], n -> new double[] {
                        0, 0, 0, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY}), v);
                }
            }
        }
        if (open != null) {
            windows.put(openStart, open);
        }
    }

    private static void add(double[] s, double x) {
        s[N] += 1;
        double d = x - s[MEAN];
        s[MEAN] += d / s[N];
        s[M2] += d * (x - s[MEAN]);
        s[MIN] = Math.min(s[MIN], x);
        s[MAX] = Math.max(s[MAX], x);
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<Row> out) throws Exception {
        long start = timestamp + 1 - windowMs;
        Map<String, Map<String, double[]>> window = windows.get(start);
        if (window == null) {
            return;
        }
        for (Map.Entry<String, Map<String, double[]>> device : window.entrySet()) {
            for (Map.Entry<String, double[]> e : device.getValue().entrySet()) {
                double[] s = e.getValue();
                out.collect(Row.of(device.getKey(), e.getKey(), start, (long) s[N], s[MEAN], s[MIN], s[MAX],
                        Math.sqrt(Math.max(0.0, s[M2] / s[N]))));
            }
        }
        windows.remove(start);
    }
}
