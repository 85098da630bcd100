package com.iotanomaly.batching;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import com.iotanomaly.records.ParseAndSplit;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.apache.flink.types.Row;
import org.junit.Test;

/** The micro-batcher on Flink's operator test harness: what leaves when, and in which order. */
public class DeviceMicroBatcherTest {

    // enough buckets that the few devices of a test each have their own ("d-1".."d-4" hash apart by 1)
    private static final int BUCKETS = 1024;

    private static OneInputStreamOperatorTestHarness<Row, Row> harness(int maxReadings, long intervalMs)
            throws Exception {
        return harness(BUCKETS, maxReadings, intervalMs);
    }

    private static OneInputStreamOperatorTestHarness<Row, Row> harness(
            int buckets, int maxReadings, long intervalMs) throws Exception {
        OneInputStreamOperatorTestHarness<Row, Row> h = new OneInputStreamOperatorTestHarness<>(
                new DeviceMicroBatcher(buckets, maxReadings, intervalMs));
        h.setProcessingTime(0);
        h.open();
        return h;
    }

    /** A reading of sensors "a" and "b"; a null value stays in the array (the batcher skips it). */
    private static StreamRecord<Row> reading(String device, long ts, Double a, Double b) {
        return new StreamRecord<>(Row.of(device, ts, new Row[] {Row.of("a", a), Row.of("b", b)}), ts);
    }

    /** A reading of any sensors: name, value, name, value... */
    private static StreamRecord<Row> reading(String device, long ts, Object... nameValues) {
        Row[] sensors = new Row[nameValues.length / 2];
        for (int i = 0; i < sensors.length; i++) {
            sensors[i] = Row.of(nameValues[2 * i], nameValues[2 * i + 1]);
        }
        return new StreamRecord<>(Row.of(device, ts, sensors), ts);
    }

    /** value_list with NaN (not reported) as null, so arrays compare with assertArrayEquals. */
    private static Double[] matrix(Row batch) {
        Double[] values = ((Double[]) batch.getField(3)).clone();
        for (int i = 0; i < values.length; i++) {
            values[i] = Double.isNaN(values[i]) ? null : values[i];
        }
        return values;
    }

    /** Batches and watermarks in output order: a Row is (bucket, batch), a Long a watermark. */
    private static List<Object> drain(OneInputStreamOperatorTestHarness<Row, Row> h) {
        List<Object> out = new ArrayList<>();
        for (Object o : h.getOutput()) {
            if (o instanceof Watermark) {
                out.add(((Watermark) o).getTimestamp());
            } else if (o instanceof StreamRecord) {
                out.add(((StreamRecord<?>) o).getValue());
            }
        }
        h.getOutput().clear();
        return out;
    }

    @Test
    public void readingsOfADeviceLeaveTogetherInArrivalOrderAfterTheInterval() throws Exception {
        OneInputStreamOperatorTestHarness<Row, Row> h = harness(1000, 200);
        h.processElement(reading("d-1", 5_000, 1.0, null));
        h.processElement(reading("d-2", 4_000, 7.0, 8.0));
        h.processElement(reading("d-1", 3_000, 2.0, 3.0)); // out of order: kept in arrival order
        h.setProcessingTime(199);
        assertTrue(drain(h).isEmpty());
        h.setProcessingTime(200);
        List<Object> out = drain(h);
        assertEquals(2, out.size());
        Row first = (Row) out.get(0);
        assertEquals(DeviceMicroBatcher.bucketOf("d-1", BUCKETS), first.getField(0));
        Row batch = (Row) first.getField(1);
        assertArrayEquals(new String[] {"d-1", "d-1"}, (String[]) batch.getField(0));
        assertArrayEquals(new Long[] {5_000L, 3_000L}, (Long[]) batch.getField(1));
        assertArrayEquals(new String[] {"a", "b"}, (String[]) batch.getField(2));
        assertArrayEquals(new Double[] {1.0, null, 2.0, 3.0}, matrix(batch)); // b not reported first: NaN
        assertEquals(DeviceMicroBatcher.bucketOf("d-2", BUCKETS), ((Row) out.get(1)).getField(0));
        h.close();
    }

    @Test
    public void devicesOfOneBucketShareABatchWithEachReadingNamingItsDevice() throws Exception {
        OneInputStreamOperatorTestHarness<Row, Row> h = harness(1, 1000, 200);
        h.processElement(reading("d-1", 5_000, 1.0, null));
        h.processElement(reading("d-2", 4_000, 7.0, 8.0));
        h.processElement(reading("d-1", 6_000, 2.0, 3.0));
        h.setProcessingTime(200);
        List<Object> out = drain(h);
        assertEquals(1, out.size());
        Row pair = (Row) out.get(0);
        assertEquals(0, pair.getField(0));
        Row batch = (Row) pair.getField(1);
        assertArrayEquals(new String[] {"d-1", "d-2", "d-1"}, (String[]) batch.getField(0));
        assertArrayEquals(new Long[] {5_000L, 4_000L, 6_000L}, (Long[]) batch.getField(1));
        assertArrayEquals(new String[] {"a", "b"}, (String[]) batch.getField(2));
        assertArrayEquals(new Double[] {1.0, null, 7.0, 8.0, 2.0, 3.0}, matrix(batch));
        h.close();
    }

    @Test
    public void aDevicesBucketIsTheSameInEveryRunAndWithinRange() throws Exception {
        // the shared vectors the Python detectors are held to (device_bucket in flink_job/pipeline/detect.py)
        int checked = 0;
        for (String line : Files.readAllLines(Paths.get("tests", "vectors", "device_buckets.tsv"))) {
            if (line.startsWith("#")) {
                continue;
            }
            String[] f = line.split("\t");
            assertEquals(line, Integer.parseInt(f[2]), DeviceMicroBatcher.bucketOf(f[0], Integer.parseInt(f[1])));
            checked++;
        }
        assertTrue("too few vectors: " + checked, checked > 50);
        for (int i = 0; i < 10_000; i++) {
            int b = DeviceMicroBatcher.bucketOf("dev-" + i, 7);
            assertTrue(b >= 0 && b < 7);
        }
    }

    @Test
    public void aFullBufferLeavesAtOnce() throws Exception {
        OneInputStreamOperatorTestHarness<Row, Row> h = harness(3, 10_000);
        h.processElement(reading("d-1", 1, 1.0, 1.0));
        h.processElement(reading("d-2", 2, 1.0, 1.0));
        assertTrue(drain(h).isEmpty());
        h.processElement(reading("d-1", 3, 1.0, 1.0));
        assertEquals(2, drain(h).size());
        h.close();
    }

    @Test
    public void aWatermarkWaitsForTheBufferedReadingsAndThenFollowsThem() throws Exception {
        OneInputStreamOperatorTestHarness<Row, Row> h = harness(1000, 500);
        h.processWatermark(new Watermark(10)); // nothing buffered: passes at once
        assertEquals(List.of(10L), drain(h));
        h.processElement(reading("d-1", 100, 1.0, 1.0));
        h.processWatermark(new Watermark(50));
        h.processWatermark(new Watermark(90));
        assertTrue("held while readings are buffered", drain(h).isEmpty());
        h.setProcessingTime(500);
        List<Object> out = drain(h);
        assertEquals(2, out.size());
        assertTrue(out.get(0) instanceof Row);
        assertEquals(90L, out.get(1)); // the newest held watermark, after the batch
        h.close();
    }

    @Test
    public void nothingIsBufferedAtACheckpointOrAtTheEnd() throws Exception {
        OneInputStreamOperatorTestHarness<Row, Row> h = harness(1000, 60_000);
        h.processElement(reading("d-1", 1, 1.0, 1.0));
        h.prepareSnapshotPreBarrier(1);
        assertEquals(1, drain(h).size());
        h.processElement(reading("d-2", 2, 1.0, 1.0));
        h.endInput();
        h.getOneInputOperator().finish();
        assertEquals(1, drain(h).size());
        h.close();
    }

    private static OneInputStreamOperatorTestHarness<Row, Row> urgentHarness() throws Exception {
        // sensor a: urgent at or above 100; sensor b: at or below 2 (NaN: no bound on that side)
        OneInputStreamOperatorTestHarness<Row, Row> h = new OneInputStreamOperatorTestHarness<>(
                new DeviceMicroBatcher(BUCKETS, 1000, 1_000, new String[] {"a", "b"},
                        new double[] {Double.NaN, 2.0}, new double[] {100.0, Double.NaN}));
        h.setProcessingTime(0);
        h.open();
        return h;
    }

    @Test
    public void aReadingAtAThresholdSendsItsBucketsBatchAtOnceAndNoOtherBuckets() throws Exception {
        OneInputStreamOperatorTestHarness<Row, Row> h = urgentHarness();
        h.processElement(reading("d-1", 1, 50.0, 5.0));
        h.processElement(reading("d-2", 2, 99.9, 2.1)); // inside both bounds: waits
        h.processElement(reading("d-1", 3, 100.0, null)); // at the high bound: urgent
        List<Object> out = drain(h);
        assertEquals(1, out.size());
        Row batch = (Row) ((Row) out.get(0)).getField(1);
        assertArrayEquals(new String[] {"d-1", "d-1"}, (String[]) batch.getField(0));
        assertArrayEquals(new Long[] {1L, 3L}, (Long[]) batch.getField(1)); // the device's earlier reading too
        assertEquals(Boolean.TRUE, batch.getField(4));
        assertTrue(DeviceMicroBatcher.isUrgent((Row) out.get(0))); // the detection operator's test
        h.processElement(reading("d-3", 4, null, 1.5)); // at or below the low bound of b
        Row low = (Row) drain(h).get(0);
        assertEquals(DeviceMicroBatcher.bucketOf("d-3", BUCKETS), low.getField(0));
        assertTrue(DeviceMicroBatcher.isUrgent(low));
        h.processElement(reading("d-4", 5, null, null)); // nothing reported: never urgent
        assertTrue(drain(h).isEmpty());
        h.setProcessingTime(1_000);
        List<Object> atInterval = drain(h);
        assertEquals(2, atInterval.size()); // d-2 and d-4 at the interval, as always, not urgent
        for (Object pair : atInterval) {
            assertEquals(Boolean.FALSE, ((Row) ((Row) pair).getField(1)).getField(4));
            assertFalse(DeviceMicroBatcher.isUrgent((Row) pair));
        }
        assertFalse(DeviceMicroBatcher.isUrgent(Row.of(1, Row.of(null, null, null, null)))); // no flag: not urgent
        h.close();
    }

    @Test
    public void anUrgentBatchThatEmptiesTheBufferReleasesTheHeldWatermark() throws Exception {
        OneInputStreamOperatorTestHarness<Row, Row> h = urgentHarness();
        h.processElement(reading("d-1", 100, 50.0, 5.0));
        h.processWatermark(new Watermark(90));
        assertTrue(drain(h).isEmpty());
        h.processElement(reading("d-1", 110, 150.0, 5.0));
        List<Object> out = drain(h);
        assertEquals(2, out.size());
        assertTrue(out.get(0) instanceof Row);
        assertEquals(90L, out.get(1));
        h.setProcessingTime(1_000); // the interval's timer finds nothing left
        assertTrue(drain(h).isEmpty());
        h.close();
    }

    @Test
    public void heterogeneousNamesGiveADenseMatrixInFirstSeenNameOrder() throws Exception {
        OneInputStreamOperatorTestHarness<Row, Row> h = harness(1, 1000, 200);
        h.processElement(reading("d-1", 1, "x", 1.0, "y", 2.0));
        h.processElement(reading("d-2", 2, "z", 3.0));
        h.processElement(reading("d-1", 3, "y", 4.0, "x", 5.0)); // its own order: laid out by name
        h.processElement(new StreamRecord<>(Row.of("d-3", 4L, null), 4)); // no sensors array at all
        h.processElement(reading("d-2", 5, "w", null, null, 6.0)); // null value, null name: skipped
        h.processElement(new StreamRecord<>(Row.of("d-2", 6L, new Row[] {null, Row.of("z", 7)}), 6));
        h.setProcessingTime(200);
        List<Object> out = drain(h);
        assertEquals(1, out.size());
        Row batch = (Row) ((Row) out.get(0)).getField(1);
        assertArrayEquals(new String[] {"d-1", "d-2", "d-1", "d-3", "d-2", "d-2"}, (String[]) batch.getField(0));
        assertArrayEquals(new String[] {"x", "y", "z"}, (String[]) batch.getField(2));
        assertArrayEquals(new Double[] {
            1.0, 2.0, null,
            null, null, 3.0,
            5.0, 4.0, null,
            null, null, null,
            null, null, null,
            null, null, 7.0}, matrix(batch));
        h.close();
    }

    @Test
    public void aBucketWhoseDevicesShareNoNamesIsSentBeforeItsMatrixIsMostlyGaps() throws Exception {
        // each reading has 8 names of its own: one batch of 200 would be 200 x 1,600 cells for 1,600 values
        OneInputStreamOperatorTestHarness<Row, Row> h = harness(1, 1000, 200);
        for (int i = 0; i < 200; i++) {
            Object[] nv = new Object[16];
            for (int j = 0; j < 8; j++) {
                nv[2 * j] = "m" + i + "_" + j;
                nv[2 * j + 1] = (double) (i * 8 + j);
            }
            h.processElement(reading("d-" + i, i, nv));
        }
        h.setProcessingTime(200);
        List<Object> out = drain(h);
        assertTrue("cut into many batches, got " + out.size(), out.size() >= 20);
        double expected = 0;
        for (Object o : out) {
            Row batch = (Row) ((Row) o).getField(1);
            Double[] cells = matrix(batch);
            int values = 0;
            for (Double v : cells) {
                if (v != null) {
                    assertEquals(expected++, v, 0.0); // every value once, in arrival order
                    values++;
                }
            }
            assertTrue(cells.length + " cells for " + values + " values", cells.length <= 8 * values);
        }
        assertEquals(1600.0, expected, 0.0);
        h.close();
    }

    @Test
    public void theNextBatchOfABucketStartsItsOwnNameList() throws Exception {
        OneInputStreamOperatorTestHarness<Row, Row> h = harness(1, 1000, 200);
        h.processElement(reading("d-1", 1, "x", 1.0));
        h.setProcessingTime(200);
        drain(h);
        h.processElement(reading("d-1", 2, "y", 2.0));
        h.setProcessingTime(400);
        Row batch = (Row) ((Row) drain(h).get(0)).getField(1);
        assertArrayEquals(new String[] {"y"}, (String[]) batch.getField(2));
        assertArrayEquals(new Double[] {2.0}, matrix(batch));
        h.close();
    }

    @Test
    public void urgentBoundsApplyByNameOnly() throws Exception {
        // "temp" urgent at or above 100; "rpm" listed with NaN on both sides: never urgent
        OneInputStreamOperatorTestHarness<Row, Row> h = new OneInputStreamOperatorTestHarness<>(
                new DeviceMicroBatcher(BUCKETS, 1000, 1_000, new String[] {"temp", "rpm"},
                        new double[] {Double.NaN, Double.NaN}, new double[] {100.0, Double.NaN}));
        h.setProcessingTime(0);
        h.open();
        h.processElement(reading("d-1", 1, "other", 1e6, "rpm", 1e9)); // beyond 100, but not "temp"
        h.processElement(reading("d-1", 2, "temp", 99.0));
        assertTrue(drain(h).isEmpty());
        h.processElement(reading("d-1", 3, "rpm", -1e9, "temp", 100.0));
        List<Object> out = drain(h);
        assertEquals(1, out.size());
        Row batch = (Row) ((Row) out.get(0)).getField(1);
        assertArrayEquals(new Long[] {1L, 2L, 3L}, (Long[]) batch.getField(1));
        assertArrayEquals(new String[] {"other", "rpm", "temp"}, (String[]) batch.getField(2));
        assertArrayEquals(new Double[] {1e6, 1e9, null, null, null, 99.0, null, -1e9, 100.0}, matrix(batch));
        h.close();
    }

    @Test
    public void aReadingWith64MeasurementsRoundTripsFromTheParseStep() throws Exception {
        long now = System.currentTimeMillis();
        StringBuilder json = new StringBuilder("{\"device_id\":\"d-1\",\"ts\":").append(now)
                .append(",\"temperature\":64.2,\"pressure\":null,\"vibration\":-0.5,\"measurements\":{");
        for (int i = 0; i < 62; i++) {
            json.append(i == 0 ? "" : ",").append("\"m").append(i).append("\":").append(i * 1.5);
        }
        String record = json.append("}}").toString();
        OneInputStreamOperatorTestHarness<String, Row> parse =
                new OneInputStreamOperatorTestHarness<>(new ParseAndSplit(300_000L));
        parse.open();
        parse.processElement(new StreamRecord<>(record, now));
        assertEquals(1, parse.extractOutputStreamRecords().size());
        StreamRecord<? extends Row> out = parse.extractOutputStreamRecords().get(0);
        StreamRecord<Row> parsed = new StreamRecord<>(out.getValue(), out.getTimestamp());
        assertEquals(64, ((Row[]) parsed.getValue().getField(2)).length);
        parse.close();
        OneInputStreamOperatorTestHarness<Row, Row> h = harness(1000, 200);
        h.processElement(parsed);
        h.setProcessingTime(200);
        Row batch = (Row) ((Row) drain(h).get(0)).getField(1);
        String[] names = (String[]) batch.getField(2);
        Double[] values = (Double[]) batch.getField(3);
        assertEquals(64, names.length);
        assertEquals(64, values.length);
        assertEquals("temperature", names[0]);
        assertEquals(64.2, values[0], 0);
        assertEquals("vibration", names[1]);
        assertEquals(-0.5, values[1], 0);
        for (int i = 0; i < 62; i++) {
            assertEquals("m" + i, names[i + 2]);
            assertEquals(i * 1.5, values[i + 2], 0);
        }
        h.close();
    }

    @Test
    public void badArgumentsAreRefusedWithAReason() {
        assertRefused("buckets, maxReadings and intervalMs must be >= 1", () -> new DeviceMicroBatcher(0, 1, 1));
        assertRefused("buckets, maxReadings and intervalMs must be >= 1", () -> new DeviceMicroBatcher(1, 1, 0));
        assertRefused("without urgentNames",
                () -> new DeviceMicroBatcher(1, 1, 1, null, new double[] {1}, null));
        assertRefused("one bound per name",
                () -> new DeviceMicroBatcher(1, 1, 1, new String[] {"a"}, new double[] {1, 2}, null));
        assertRefused("is null", () -> new DeviceMicroBatcher(1, 1, 1, new String[] {null}, null, null));
        assertRefused("twice", () -> new DeviceMicroBatcher(1, 1, 1, new String[] {"a", "a"}, null, null));
        new DeviceMicroBatcher(1, 1, 1, new String[] {"a"}, null, new double[] {1}); // one side only: fine
    }

    private static void assertRefused(String reason, Runnable make) {
        try {
            make.run();
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains(reason));
            return;
        }
        throw new AssertionError("accepted, expected: " + reason);
    }

    @Test
    public void theOutputTypeIsTheKeyAndBatchPairPyFlinkExpects() {
        assertEquals("Row(f0: Integer, f1: Row(device_list: BasicArrayTypeInfo<String>, ts_list: BasicArrayTypeInfo<Long>, "
                + "name_list: BasicArrayTypeInfo<String>, value_list: BasicArrayTypeInfo<Double>, urgent: Boolean))",
                DeviceMicroBatcher.outputType().toString());
    }
}
