package com.iotanomaly.aggregates;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.api.operators.KeyedProcessOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.apache.flink.types.Row;
import org.junit.Test;

/** Window statistics on Flink's keyed test harness: values, alignment, firing, restore. */
public class WindowStatisticsTest {

    private static final long MINUTE = 60_000L;
    private static final long T0 = 1_764_547_200_000L; // 2025-12-01T00:00:00Z, a minute boundary

    private static KeyedOneInputStreamOperatorTestHarness<Integer, Row, Row> harness() throws Exception {
        KeyedOneInputStreamOperatorTestHarness<Integer, Row, Row> h = new KeyedOneInputStreamOperatorTestHarness<>(
                new KeyedProcessOperator<>(new WindowStatistics(MINUTE)), WindowStatistics.byBucket(), Types.INT);
        h.open();
        return h;
    }

    /** A batch of one reading (name, value, name, value...), as DeviceMicroBatcher lays one out. */
    private static StreamRecord<Row> reading(String device, long ts, Object... nameValues) {
        String[] names = new String[nameValues.length / 2];
        Double[] values = new Double[names.length];
        for (int i = 0; i < names.length; i++) {
            names[i] = (String) nameValues[2 * i];
            values[i] = (Double) nameValues[2 * i + 1];
        }
        return batch(new String[] {device}, new Long[] {ts}, names, values);
    }

    private static StreamRecord<Row> batch(String[] devices, Long[] ts, String[] names, Double[] values) {
        return new StreamRecord<>(Row.of(7, Row.of(devices, ts, names, values, false)), ts[ts.length - 1]);
    }

    /** Rows out so far, by "device/sensor/start", then cleared. */
    private static Map<String, Row> drain(KeyedOneInputStreamOperatorTestHarness<Integer, Row, Row> h) {
        Map<String, Row> out = new TreeMap<>();
        for (StreamRecord<? extends Row> r : h.extractOutputStreamRecords()) {
            Row row = r.getValue();
            out.put(row.getField(0) + "/" + row.getField(1) + "/" + row.getField(2), row);
        }
        h.getOutput().clear();
        return out;
    }

    @Test
    public void aWindowLeavesWhenTheWatermarkPassesItsEndWithItsStatistics() throws Exception {
        KeyedOneInputStreamOperatorTestHarness<Integer, Row, Row> h = harness();
        h.processElement(reading("d-1", T0 + 1_000, "temperature", 10.0, "rpm", 5.0));
        h.processElement(reading("d-1", T0 + 2_000, "temperature", 20.0, "rpm", 5.0));
        h.processElement(reading("d-1", T0 + 3_000, "temperature", 60.0));
        h.processElement(reading("d-2", T0 + 4_000, "temperature", -1.0, "bad", null));
        h.processWatermark(new Watermark(T0 + MINUTE - 2));
        assertTrue(drain(h).isEmpty());
        h.processWatermark(new Watermark(T0 + MINUTE - 1));
        Map<String, Row> out = drain(h);
        assertEquals(3, out.size());
        Row t = out.get("d-1/temperature/" + T0);
        assertEquals(3L, t.getField(3));
        assertEquals(30.0, (double) t.getField(4), 1e-12);
        assertEquals(10.0, t.getField(5));
        assertEquals(60.0, t.getField(6));
        assertEquals(Math.sqrt((400.0 + 100.0 + 900.0) / 3), (double) t.getField(7), 1e-12);
        Row rpm = out.get("d-1/rpm/" + T0);
        assertEquals(2L, rpm.getField(3));
        assertEquals(0.0, rpm.getField(7)); // a constant series: exactly 0
        assertEquals(1L, out.get("d-2/temperature/" + T0).getField(3));
        h.close();
    }

    @Test
    public void aBatchOfManyDevicesAndWindowsGivesWhatItsReadingsGiveOneByOne() throws Exception {
        double nan = Double.NaN;
        String[] devices = {"d-1", "d-2", "d-1", "d-2", "d-1", "d-3"};
        Long[] ts = {T0 + 1_000, T0 + 1_500, T0 + 2_000, T0 + MINUTE + 10, T0 + MINUTE + 20, T0 + 2_500};
        String[] names = {"a", "b"};
        Double[] values = {1.0, 2.0, nan, 4.0, 3.0, null, 5.0, 6.0, 7.0, nan, nan, 8.0};
        KeyedOneInputStreamOperatorTestHarness<Integer, Row, Row> together = harness();
        together.processElement(batch(devices, ts, names, values));
        together.processWatermark(new Watermark(T0 + 2 * MINUTE));
        KeyedOneInputStreamOperatorTestHarness<Integer, Row, Row> alone = harness();
        for (int i = 0; i < devices.length; i++) {
            alone.processElement(batch(new String[] {devices[i]}, new Long[] {ts[i]}, names,
                    new Double[] {values[2 * i], values[2 * i + 1]}));
        }
        alone.processWatermark(new Watermark(T0 + 2 * MINUTE));
        Map<String, Row> out = drain(together);
        assertEquals(drain(alone), out);
        assertEquals(7, out.size()); // d-1 a/b, d-2 b, d-3 b in the first minute; d-1 a, d-2 a/b in the next
        assertEquals(2L, out.get("d-1/a/" + T0).getField(3)); // 1.0 and 3.0; NaN and null not reported
        assertEquals(2.0, (double) out.get("d-1/a/" + T0).getField(4), 1e-12);
        assertEquals(7.0, out.get("d-1/a/" + (T0 + MINUTE)).getField(5));
        together.close();
        alone.close();
    }

    @Test
    public void windowsAreEpochAlignedAndSeparate() throws Exception {
        KeyedOneInputStreamOperatorTestHarness<Integer, Row, Row> h = harness();
        h.processElement(reading("d-1", T0 + MINUTE - 1, "a", 1.0));
        h.processElement(reading("d-1", T0 + MINUTE, "a", 3.0));
        h.processElement(reading("d-1", T0 + 2 * MINUTE + 30_000, "a", 7.0));
        h.processWatermark(new Watermark(T0 + 3 * MINUTE));
        Map<String, Row> out = drain(h);
        List<Long> starts = new ArrayList<>();
        for (Row r : out.values()) {
            starts.add((Long) r.getField(2));
            assertEquals(1L, r.getField(3));
        }
        starts.sort(null);
        assertEquals(List.of(T0, T0 + MINUTE, T0 + 2 * MINUTE), starts);
        h.close();
    }

    @Test
    public void aReadingForAWindowThatFiredIsIgnored() throws Exception {
        KeyedOneInputStreamOperatorTestHarness<Integer, Row, Row> h = harness();
        h.processElement(reading("d-1", T0 + 1_000, "a", 1.0));
        h.processWatermark(new Watermark(T0 + MINUTE));
        assertEquals(1, drain(h).size());
        h.processElement(reading("d-1", T0 + 2_000, "a", 2.0));
        h.processWatermark(new Watermark(T0 + 10 * MINUTE));
        assertTrue(drain(h).isEmpty());
        h.close();
    }

    @Test
    public void openWindowsSurviveASnapshotAndRestore() throws Exception {
        KeyedOneInputStreamOperatorTestHarness<Integer, Row, Row> h = harness();
        h.processElement(reading("d-1", T0 + 1_000, "a", 1.0));
        h.processElement(reading("d-1", T0 + 2_000, "a", 3.0));
        OperatorSubtaskState snapshot = h.snapshot(1L, 1L);
        h.close();
        KeyedOneInputStreamOperatorTestHarness<Integer, Row, Row> restored = new KeyedOneInputStreamOperatorTestHarness<>(
                new KeyedProcessOperator<>(new WindowStatistics(MINUTE)), WindowStatistics.byBucket(), Types.INT);
        restored.initializeState(snapshot);
        restored.open();
        restored.processElement(reading("d-1", T0 + 3_000, "a", 5.0));
        restored.processWatermark(new Watermark(T0 + MINUTE));
        Row a = drain(restored).get("d-1/a/" + T0);
        assertEquals(3L, a.getField(3));
        assertEquals(3.0, (double) a.getField(4), 1e-12);
        restored.close();
    }

    @Test
    public void aWindowShorterThanAMillisecondIsRefused() {
        try {
            new WindowStatistics(0);
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage().contains("windowMs"));
            return;
        }
        throw new AssertionError("accepted windowMs 0");
    }
}
