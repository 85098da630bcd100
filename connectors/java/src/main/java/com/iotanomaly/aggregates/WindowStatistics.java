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
 * standard deviation of each window, keyed by device, in the JVM.
 *
 * <p>Input: the parse step's on-time readings, {@code Row(device_id, ts, sensors)} with {@code
 * sensors} as {@code Row(sensor, v)} rows (any names; null names or values skipped), keyed by {@link
 * #byDevice}. Output ({@link #outputType}), one row per sensor a device reported in a window, when
 * the watermark passes the window's end: {@code (device_id, sensor, start_ms, n, mean, min_value,
 * max_value, stddev)}, the fields of {@code flink_job.core.outputs.WindowStats}, by name. Windows are
 * aligned to the epoch (UTC). Mean and variance are Welford's running ones (a constant series has a
 * standard deviation of exactly 0, not the rounding noise of a sum of squares).
 *
 * <p>State: per device, its open windows (start -> sensor -> {n, mean, M2, min, max}) and one
 * event-time timer per open window; a window's state is dropped when it fires. A reading whose
 * window already fired cannot reach this operator in order (the parse step lists readings at or
 * behind the watermark as late); were one to, it is ignored rather than reopening the window.
 */
public class WindowStatistics extends KeyedProcessFunction<String, Row, Row> {

    private static final long serialVersionUID = 1L;
    private static final int N = 0;
    private static final int MEAN = 1;
    private static final int M2 = 2;
    private static final int MIN = 3;
    private static final int MAX = 4;

    private final long windowMs;
    private transient MapState<Long, Map<String, double[]>> windows;

    public WindowStatistics(long windowMs) {
        if (windowMs < 1) {
            throw new IllegalArgumentException("windowMs must be >= 1, got " + windowMs);
        }
        this.windowMs = windowMs;
    }

    /** The key: a reading's device_id (field 0). */
    public static KeySelector<Row, String> byDevice() {
        return new DeviceKey();
    }

    private static final class DeviceKey implements KeySelector<Row, String> {
        private static final long serialVersionUID = 1L;

        @Override
        public String getKey(Row reading) {
            return (String) reading.getField(0);
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
        windows = getRuntimeContext().getMapState(new MapStateDescriptor<>(
                "windows", Types.LONG, Types.MAP(Types.STRING, PrimitiveArrayTypeInfo.DOUBLE_PRIMITIVE_ARRAY_TYPE_INFO)));
    }

    @Override
    public void processElement(Row reading, Context ctx, Collector<Row> out) throws Exception {
        long ts = (Long) reading.getField(1);
        long start = ts - Math.floorMod(ts, windowMs);
        long fireAt = start + windowMs - 1;
        if (fireAt <= ctx.timerService().currentWatermark()) {
            return; // its window has fired already (see the class doc)
        }
        Map<String, double[]> window = windows.get(start);
        if (window == null) {
            window = new HashMap<>();
            ctx.timerService().registerEventTimeTimer(fireAt);
        }
        Object sensors = reading.getField(2);
        if (sensors instanceof Object[]) {
            for (Object o : (Object[]) sensors) {
                if (!(o instanceof Row)) {
                    continue;
                }
                Object name = ((Row) o).getField(0);
                Object v = ((Row) o).getField(1);
                if (name instanceof String && v instanceof Number) {
                    add(window.computeIfAbsent((String) name, k -> new double[] {
                        0, 0, 0, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY}), ((Number) v).doubleValue());
                }
            }
        }
        windows.put(start, window);
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
        Map<String, double[]> window = windows.get(start);
        if (window == null) {
            return;
        }
        String device = ctx.getCurrentKey();
        for (Map.Entry<String, double[]> e : window.entrySet()) {
            double[] s = e.getValue();
            out.collect(Row.of(device, e.getKey(), start, (long) s[N], s[MEAN], s[MIN], s[MAX],
                    Math.sqrt(Math.max(0.0, s[M2] / s[N]))));
        }
        windows.remove(start);
    }
}
