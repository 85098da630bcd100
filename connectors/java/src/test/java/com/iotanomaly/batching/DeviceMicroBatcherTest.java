package com.iotanomaly.batching;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

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
                new DeviceMicroBatcher(2, buckets, maxReadings, intervalMs));
        h.setProcessingTime(0);
        h.open();
        return h;
    }

    private static StreamRecord<Row> reading(String device, long ts, Double a, Double b) {
        return new StreamRecord<>(Row.of(device, ts, a, b), ts);
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
        Double[] a = (Double[]) batch.getField(2);
        Double[] b = (Double[]) batch.getField(3);
        assertArrayEquals(new Double[] {1.0, 2.0}, a);
        assertTrue(Double.isNaN(b[0]) && b[1] == 3.0); // not reported: NaN
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
        assertArrayEquals(new Double[] {1.0, 7.0, 2.0}, (Double[]) batch.getField(2));
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
                new DeviceMicroBatcher(2, BUCKETS, 1000, 1_000, new double[] {Double.NaN, 2.0},
                        new double[] {100.0, Double.NaN}));
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
        h.processElement(reading("d-3", 4, null, 1.5)); // at or below the low bound of b
        assertEquals(DeviceMicroBatcher.bucketOf("d-3", BUCKETS), ((Row) drain(h).get(0)).getField(0));
        h.processElement(reading("d-4", 5, null, null)); // nothing reported: never urgent
        assertTrue(drain(h).isEmpty());
        h.setProcessingTime(1_000);
        assertEquals(2, drain(h).size()); // d-2 and d-4 at the interval, as always
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
    public void theOutputTypeIsTheKeyAndBatchPairPyFlinkExpects() {
        assertEquals("Row(f0: Integer, f1: Row(device_list: BasicArrayTypeInfo<String>, ts_list: BasicArrayTypeInfo<Long>, a_list: BasicArrayTypeInfo<Double>, "
                + "b_list: BasicArrayTypeInfo<Double>))",
                DeviceMicroBatcher.outputType(new String[] {"a", "b"}).toString());
    }
}
