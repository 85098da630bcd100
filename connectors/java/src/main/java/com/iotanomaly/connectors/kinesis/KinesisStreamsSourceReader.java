package com.iotanomaly.connectors.kinesis;

import org.apache.flink.api.connector.source.SourceOutput;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.base.source.reader.RecordEmitter;
import org.apache.flink.connector.base.source.reader.SingleThreadMultiplexSourceReaderBase;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.services.kinesis.model.Record;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Reader of one subtask: one fetcher thread running {@link KinesisShardSplitReader}; emits record data
 * as strings ({@link RecordText}: UTF-8 text, or prefixed base64 for other bytes) and tracks the last emitted sequence number per shard (checkpointed).
 *
 * <p>Finished shards are reported to the enumerator ({@link SplitsFinishedEvent}) and kept as
 * "finished" markers in this reader's checkpoints until a later checkpoint completes, so a failure
 * between the report and the enumerator's next snapshot cannot lose the fact that a parent shard is
 * done (restored markers are re-reported, never re-read).
 */
public class KinesisStreamsSourceReader
        extends SingleThreadMultiplexSourceReaderBase<Record, String, KinesisShardSplit,
                KinesisShardSplitState> {

    private static final Logger LOG = LoggerFactory.getLogger(KinesisStreamsSourceReader.class);

    /** shard id -> marker split; value of {@link #markerCheckpoint}: first checkpoint holding it. */
    private final Map<String, KinesisShardSplit> finishedMarkers = new LinkedHashMap<>();
    private final Map<String, Long> markerCheckpoint = new LinkedHashMap<>();

    public KinesisStreamsSourceReader(
            Supplier<KinesisShardSplitReader> splitReaderSupplier,
            Configuration config,
            SourceReaderContext context) {
        super(splitReaderSupplier::get, new Emitter(), config, context);
    }

    @Override
    public void addSplits(List<KinesisShardSplit> splits) {
        List<KinesisShardSplit> toRead = new ArrayList<>();
        List<String> restoredFinished = new ArrayList<>();
        for (KinesisShardSplit split : splits) {
            if (split.isFinished()) {
                finishedMarkers.put(split.splitId(), split);
                restoredFinished.add(split.splitId());
            } else {
                toRead.add(split);
            }
        }
        if (!restoredFinished.isEmpty()) {
            context.sendSourceEventToCoordinator(
                    new SplitsFinishedEvent(new java.util.LinkedHashSet<>(restoredFinished)));
        }
        if (!toRead.isEmpty()) {
            super.addSplits(toRead);
        }
    }

    @Override
    protected void onSplitFinished(Map<String, KinesisShardSplitState> finishedSplitIds) {
        for (Map.Entry<String, KinesisShardSplitState> e : finishedSplitIds.entrySet()) {
            finishedMarkers.put(e.getKey(), e.getValue().toSplit().asFinished());
        }
        context.sendSourceEventToCoordinator(new SplitsFinishedEvent(finishedSplitIds.keySet()));
    }

    @Override
    public List<KinesisShardSplit> snapshotState(long checkpointId) {
        List<KinesisShardSplit> state = new ArrayList<>(super.snapshotState(checkpointId));
        for (String id : finishedMarkers.keySet()) {
            markerCheckpoint.putIfAbsent(id, checkpointId);
        }
        state.addAll(finishedMarkers.values());
        return state;
    }

    @Override
    public void notifyCheckpointComplete(long checkpointId) throws Exception {
        super.notifyCheckpointComplete(checkpointId);
        // A checkpoint started after the marker's first checkpoint completed: the enumerator
        // snapshot of that later checkpoint was taken after our event was sent, so it knows.
        Iterator<Map.Entry<String, Long>> it = markerCheckpoint.entrySet().iterator();
        while (it.hasNext()) {
            Map.Entry<String, Long> e = it.next();
            if (e.getValue() < checkpointId) {
                LOG.debug("Dropping finished marker of shard {}", e.getKey());
                finishedMarkers.remove(e.getKey());
                it.remove();
            }
        }
    }

    @Override
    protected KinesisShardSplitState initializedState(KinesisShardSplit split) {
        return new KinesisShardSplitState(split);
    }

    @Override
    protected KinesisShardSplit toSplitType(String splitId, KinesisShardSplitState splitState) {
        return splitState.toSplit();
    }

    /**
     * Emits the record's data framed by {@link RecordText} (text, or prefixed base64 when not UTF-8:
     * no record can fail the reader), then advances the split's checkpointed position.
     */
    static final class Emitter implements RecordEmitter<Record, String, KinesisShardSplitState> {
        @Override
        public void emitRecord(Record record, SourceOutput<String> output, KinesisShardSplitState state) {
            String data = RecordText.encode(record.data() == null ? null : record.data().asByteArrayUnsafe());
            if (record.approximateArrivalTimestamp() != null) {
                output.collect(data, record.approximateArrivalTimestamp().toEpochMilli());
            } else {
                output.collect(data);
            }
            state.setLastEmittedSequenceNumber(record.sequenceNumber());
        }
    }
}
