package com.iotanomaly.batching;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.java.typeutils.RowTypeInfo;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.functions.python.DataStreamPythonFunctionInfo;
import org.apache.flink.streaming.api.operators.python.process.AbstractExternalDataStreamPythonFunctionOperator;
import org.apache.flink.streaming.api.operators.python.process.ExternalPythonKeyedProcessOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.types.Row;

import java.util.LinkedHashSet;
import java.util.Set;

/**
 * PyFlink's keyed Python operator, ending each bundle soon after its first element: the detection
 * operator behind {@link DeviceMicroBatcher}.
 *
 * <p>PyFlink's own operator ends a bundle after {@code python.fn-execution.bundle.size} elements or
 * when a fixed-rate check finds {@code bundle.time} passed since the last end, so an element waits up
 * to twice the bundle time before the Python worker even receives it (the runner buffers a bundle's
 * input), and its output comes back only when the whole bundle is done. Here every element is a
 * micro-batch that the JVM already held back, and they arrive in waves (one per flush of an upstream
 * batcher, or one urgent batch with a static threshold breach). So a bundle ends {@code lingerMs}
 * after its first element, time for the rest of its wave to arrive, and never sooner than {@code
 * minGapMs} after the previous end, which bounds the bundle ends per second (each one commits the
 * touched buckets' keyed state) however often batches come. The size and time limits of PyFlink's
 * operator still apply as well.
 *
 * <p>A batch that {@link DeviceMicroBatcher} sent early for a static threshold breach ({@link
 * DeviceMicroBatcher#isUrgent}) ends its bundle at once, without the linger or the gap: waiting them
 * out put the wave of the batcher's next flush into the same bundle, and the alert waited for all of
 * it. Such ends are bounded apart, by a token bucket: {@value #URGENT_BURST} in a row, then one per
 * {@code minGapMs} (an excursion that makes every batch urgent falls back to the gap, so bundle ends
 * per second stay bounded); with {@code minGapMs} 0 every urgent batch ends its bundle.
 *
 * <p>Before each checkpoint (and when the input ends) it sends, ahead of the bundle end that
 * precedes the barrier, one state flush ({@link DeviceMicroBatcher#stateFlush}: the bucket and an
 * empty batch) for every key that received a batch since the last one. The Python detectors keep a
 * device's live state (and each bucket's schedule) between bundles and write it to keyed state only
 * then (or when they must let a device go, or a timer changed it), not at every bundle end; a
 * checkpoint still holds every device as of the barrier.
 *
 * <p>{@link #copy} keeps the class: PyFlink's chaining optimizer fuses a following Python function
 * into this operator through it.
 */
public class MicroBatchBundleOperator<OUT> extends ExternalPythonKeyedProcessOperator<OUT> {

    private static final long serialVersionUID = 1L;

    private final long lingerMs;
    private final long minGapMs;

    /** Urgent ends in hand when none was used for a while: the breaches of a few devices at once. */
    static final int URGENT_BURST = 3;

    /** Keys (buckets) with a batch since the last state flush, in arrival order. */
    private transient Set<Row> unflushed;

    /** A bundle end is scheduled (a processing-time callback is pending). */
    private transient boolean endPending;
    /** Urgent ends in hand (the token bucket), as of {@link #creditAt}. */
    private transient double urgentCredit;
    private transient long creditAt;

    public MicroBatchBundleOperator(
            Configuration config,
            DataStreamPythonFunctionInfo pythonFunctionInfo,
            RowTypeInfo inputTypeInfo,
            TypeInformation<OUT> outputTypeInfo,
            long lingerMs,
            long minGapMs) {
        super(config, pythonFunctionInfo, inputTypeInfo, outputTypeInfo);
        if (lingerMs < 0 || minGapMs < 0) {
            throw new IllegalArgumentException(
                    "lingerMs and minGapMs must be >= 0, got " + lingerMs + " and " + minGapMs);
        }
        this.lingerMs = lingerMs;
        this.minGapMs = minGapMs;
    }

    /** The same operator as PyFlink built it ({@code KeyedStream.process}), with prompt bundle ends. */
    public static <OUT> MicroBatchBundleOperator<OUT> of(
            ExternalPythonKeyedProcessOperator<OUT> built, long lingerMs, long minGapMs) {
        return new MicroBatchBundleOperator<>(
                built.getConfiguration(),
                built.getPythonFunctionInfo(),
                (RowTypeInfo) built.getInputTypeInfo(),
                built.getProducedType(),
                lingerMs,
                minGapMs);
    }

    public long getLingerMs() {
        return lingerMs;
    }

    public long getMinGapMs() {
        return minGapMs;
    }

    @Override
    public void open() throws Exception {
        endPending = false;
        unflushed = new LinkedHashSet<>();
        super.open();
        urgentCredit = URGENT_BURST;
        creditAt = getProcessingTimeService().getCurrentProcessingTime();
    }

    @Override
    public void processElement(StreamRecord<Row> element) throws Exception {
        super.processElement(element);
        unflushed.add((Row) getCurrentKey());
        if (isBundleFinished()) { // ended by size already
            return;
        }
        long now = getProcessingTimeService().getCurrentProcessingTime();
        if (DeviceMicroBatcher.isUrgent(element.getValue()) && takeUrgentEnd(now)) {
            invokeFinishBundle(); // a pending timer then finds the next bundle, or none, to end
            return;
        }
        if (endPending) { // an end is on its way
            return;
        }
        long at = Math.max(now + lingerMs, lastFinishBundleTime + minGapMs);
        endPending = true;
        // runs in the task's mailbox, between elements: no race with processElement
        getProcessingTimeService().registerTimer(at, timestamp -> endBundle());
    }

    @Override
    public void prepareSnapshotPreBarrier(long checkpointId) throws Exception {
        sendStateFlushes();
        super.prepareSnapshotPreBarrier(checkpointId); // ends the bundle: the writes are committed
    }

    @Override
    public void finish() throws Exception {
        sendStateFlushes();
        super.finish();
    }

    private void sendStateFlushes() throws Exception {
        for (Row key : unflushed) {
            setCurrentKey(key);
            super.processElement(new StreamRecord<>(DeviceMicroBatcher.stateFlush(key.getField(0))));
        }
        unflushed.clear();
    }

    private boolean takeUrgentEnd(long now) {
        if (minGapMs == 0) {
            return true;
        }
        urgentCredit = Math.min(URGENT_BURST, urgentCredit + (double) (now - creditAt) / minGapMs);
        creditAt = now;
        if (urgentCredit < 1) {
            return false;
        }
        urgentCredit -= 1;
        return true;
    }

    private void endBundle() throws Exception {
        endPending = false;
        if (!isBundleFinished()) {
            invokeFinishBundle();
        }
    }

    @Override
    public <T> AbstractExternalDataStreamPythonFunctionOperator<T> copy(
            DataStreamPythonFunctionInfo pythonFunctionInfo, TypeInformation<T> outputTypeInfo) {
        return new MicroBatchBundleOperator<>(
                config, pythonFunctionInfo, (RowTypeInfo) getInputTypeInfo(), outputTypeInfo, lingerMs,
                minGapMs);
    }
}
