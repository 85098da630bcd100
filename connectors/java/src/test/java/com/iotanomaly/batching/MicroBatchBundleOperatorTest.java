package com.iotanomaly.batching;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.api.java.tuple.Tuple3;
import org.apache.flink.api.java.typeutils.RowTypeInfo;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.python.PythonFunctionRunner;
import org.apache.flink.python.PythonOptions;
import org.apache.flink.streaming.api.functions.python.DataStreamPythonFunctionInfo;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.apache.flink.table.functions.python.PythonEnv;
import org.apache.flink.table.functions.python.PythonFunction;
import org.apache.flink.types.Row;
import org.junit.Test;

/**
 * When the detection operator ends its bundles, on Flink's test harness (processing time under the
 * test's control) with a runner that stands in for the Python worker and counts flushes.
 */
public class MicroBatchBundleOperatorTest {

    private static final long LINGER = 20;
    private static final long GAP = 100;

    /**
     * Counts what the operator hands the worker; a flush returns at once, with no output. (The
     * operator waits for results until the flush has returned; a Beam runner then sends an
     * end-of-results marker, this one sends the marker every few milliseconds instead.)
     */
    private static final class CountingRunner implements PythonFunctionRunner {
        volatile int elements;
        volatile int flushes;
        volatile int elementsAtLastFlush;

        @Override public void open(ReadableConfig config) {}
        @Override public void close() {}
        @Override public void process(byte[] data) { elements++; }
        @Override public void processTimer(byte[] timerData) {}
        @Override public void drainUnregisteredTimers() {}
        @Override public Tuple3<String, byte[], Integer> pollResult() { return null; }
        @Override public Tuple3<String, byte[], Integer> takeResult() throws InterruptedException {
            Thread.sleep(2);
            return Tuple3.of(null, new byte[0], 0);
        }
        @Override public void flush() { flushes++; elementsAtLastFlush = elements; }
    }

    /** The operator with the counting runner in place of a Python worker. */
    private static final class Operator extends MicroBatchBundleOperator<Row> {
        private static final long serialVersionUID = 1L;
        transient CountingRunner runner;

        Operator(Configuration config) {
            super(config, new DataStreamPythonFunctionInfo(new NoFunction(), 0),
                    new RowTypeInfo(Types.INT, DeviceMicroBatcher.batchType()), new RowTypeInfo(Types.INT), LINGER,
                    GAP);
        }

        @Override
        public PythonFunctionRunner createPythonFunctionRunner() {
            runner = new CountingRunner();
            return runner;
        }

        /** The keys set, in order: the harness sets each element's, the operator its flushes'. */
        transient java.util.List<Object> keys;

        @Override
        public void setCurrentKey(Object key) {
            if (keys == null) {
                keys = new java.util.ArrayList<>();
            }
            keys.add(key);
            super.setCurrentKey(key);
        }
    }

    private static final class NoFunction implements PythonFunction {
        private static final long serialVersionUID = 1L;
        @Override public byte[] getSerializedPythonFunction() { return new byte[0]; }
        @Override public PythonEnv getPythonEnv() { return new PythonEnv(PythonEnv.ExecType.PROCESS); }
    }

    private static final class BucketOf implements KeySelector<Row, Row> {
        private static final long serialVersionUID = 1L;
        @Override public Row getKey(Row value) { return Row.of(value.getField(0)); }
    }

    private Operator operator;

    /** The operator on the harness, with a bundle time (1 h) no test reaches: only its own ends count. */
    private KeyedOneInputStreamOperatorTestHarness<Row, Row, Row> harness() throws Exception {
        Configuration config = new Configuration();
        config.set(PythonOptions.MAX_BUNDLE_SIZE, 100_000);
        config.set(PythonOptions.MAX_BUNDLE_TIME_MILLS, 3_600_000L);
        operator = new Operator(config);
        KeyedOneInputStreamOperatorTestHarness<Row, Row, Row> h = new KeyedOneInputStreamOperatorTestHarness<>(
                operator, new BucketOf(), new RowTypeInfo(Types.INT));
        h.setProcessingTime(0);
        h.open();
        return h;
    }

    /** (bucket, batch) with an empty batch, sent at the batcher's interval or early for a breach. */
    private static StreamRecord<Row> batch(int bucket, boolean urgent) {
        return new StreamRecord<>(Row.of(bucket, Row.of(new String[0], new Long[0], new String[0], new Double[0], urgent)));
    }

    private static StreamRecord<Row> batch(int bucket) {
        return batch(bucket, false);
    }

    @Test
    public void aBundleEndsLingerAfterItsFirstBatchNotAtTheBundleTime() throws Exception {
        try (KeyedOneInputStreamOperatorTestHarness<Row, Row, Row> h = harness()) {
            h.setProcessingTime(1_000);
            h.processElement(batch(1));
            h.setProcessingTime(1_010);
            h.processElement(batch(2)); // the rest of the wave joins the same bundle
            h.setProcessingTime(1_000 + LINGER - 1);
            assertEquals(0, operator.runner.flushes);
            h.setProcessingTime(1_000 + LINGER);
            assertEquals(1, operator.runner.flushes);
            assertEquals(2, operator.runner.elements);
            assertTrue(operator.isBundleFinished());
        }
    }

    /** A batch at 1,000 ms: its bundle ends at 1,020 (the linger). */
    private void oneBundleEndsAt1020(KeyedOneInputStreamOperatorTestHarness<Row, Row, Row> h) throws Exception {
        h.setProcessingTime(1_000);
        h.processElement(batch(1));
        h.setProcessingTime(1_000 + LINGER);
        assertEquals(1, operator.runner.flushes);
    }

    @Test
    public void bundleEndsAreAtLeastTheGapApart() throws Exception {
        try (KeyedOneInputStreamOperatorTestHarness<Row, Row, Row> h = harness()) {
            oneBundleEndsAt1020(h);
            // another batch right after: its bundle waits for the gap, not just the linger
            h.setProcessingTime(1_030);
            h.processElement(batch(3));
            h.setProcessingTime(1_020 + GAP - 1);
            assertEquals(1, operator.runner.flushes);
            h.setProcessingTime(1_020 + GAP);
            assertEquals(2, operator.runner.flushes);
        }
    }

    private static StreamRecord<Row> urgent(int bucket) {
        return batch(bucket, true);
    }

    @Test
    public void anUrgentBatchEndsItsBundleAtOnceWithTheWaveSoFar() throws Exception {
        try (KeyedOneInputStreamOperatorTestHarness<Row, Row, Row> h = harness()) {
            oneBundleEndsAt1020(h);
            // right after that end, within the gap: no wait for the gap, nor for the next wave
            h.setProcessingTime(1_030);
            h.processElement(batch(2));
            h.processElement(urgent(3));
            assertEquals(2, operator.runner.flushes);
            assertEquals(3, operator.runner.elements);
            assertTrue(operator.isBundleFinished());
            // the timer scheduled for batch 2's bundle finds it ended: no empty bundle
            h.setProcessingTime(1_020 + GAP);
            assertEquals(2, operator.runner.flushes);
        }
    }

    @Test
    public void urgentEndsAreBoundedByABurstThenOnePerGap() throws Exception {
        try (KeyedOneInputStreamOperatorTestHarness<Row, Row, Row> h = harness()) {
            h.setProcessingTime(1_000);
            for (int i = 0; i < MicroBatchBundleOperator.URGENT_BURST; i++) {
                h.processElement(urgent(i));
            }
            assertEquals(MicroBatchBundleOperator.URGENT_BURST, operator.runner.flushes);
            // a flood of breaches: the next urgent batch waits for the gap like any other
            h.processElement(urgent(9));
            h.processElement(urgent(10));
            assertEquals(MicroBatchBundleOperator.URGENT_BURST, operator.runner.flushes);
            h.setProcessingTime(1_000 + GAP);
            assertEquals(MicroBatchBundleOperator.URGENT_BURST + 1, operator.runner.flushes);
            assertEquals(MicroBatchBundleOperator.URGENT_BURST + 2, operator.runner.elements);
            // one gap later one urgent end is in hand again
            h.setProcessingTime(1_000 + 2 * GAP);
            h.processElement(urgent(11));
            assertEquals(MicroBatchBundleOperator.URGENT_BURST + 2, operator.runner.flushes);
        }
    }

    @Test
    public void withoutInputNoBundleEnds() throws Exception {
        try (KeyedOneInputStreamOperatorTestHarness<Row, Row, Row> h = harness()) {
            h.setProcessingTime(10_000);
            assertEquals(0, operator.runner.flushes);
            h.processElement(batch(1));
            h.setProcessingTime(10_000 + LINGER);
            h.setProcessingTime(20_000);
            assertEquals(1, operator.runner.flushes); // one per bundle, no empty ones after it
        }
    }

    @Test
    public void beforeEachBarrierEveryBucketWithABatchSinceTheLastGetsOneStateFlushInTheClosingBundle()
            throws Exception {
        try (KeyedOneInputStreamOperatorTestHarness<Row, Row, Row> h = harness()) {
            h.processElement(batch(1));
            h.processElement(batch(2));
            h.processElement(batch(1));
            operator.keys.clear();
            h.prepareSnapshotPreBarrier(1);
            assertEquals(java.util.Arrays.asList(Row.of(1), Row.of(2)), operator.keys); // one each, in order
            assertEquals(5, operator.runner.elements);
            assertEquals(1, operator.runner.flushes); // the bundle ends after the flushes, before the barrier
            assertEquals(5, operator.runner.elementsAtLastFlush);
            h.prepareSnapshotPreBarrier(2); // nothing since: no flush sent
            assertEquals(5, operator.runner.elements);
            h.processElement(batch(3));
            operator.keys.clear();
            h.endInput();
            operator.finish(); // the input ended: its last batches' buckets are flushed too
            assertEquals(java.util.Collections.singletonList(Row.of(3)), operator.keys);
            assertEquals(7, operator.runner.elements);
            assertEquals(7, operator.runner.elementsAtLastFlush);
        }
    }

    @Test
    public void copyKeepsThePromptBundles() throws Exception {
        Configuration config = new Configuration();
        MicroBatchBundleOperator<Row> op = new Operator(config);
        Object copy = op.copy(op.getPythonFunctionInfo(), new RowTypeInfo(Types.LONG));
        assertTrue(copy instanceof MicroBatchBundleOperator);
        assertEquals(LINGER, ((MicroBatchBundleOperator<?>) copy).getLingerMs());
        assertEquals(GAP, ((MicroBatchBundleOperator<?>) copy).getMinGapMs());
    }
}
