package com.iotanomaly.connectors.kinesis;

import org.apache.flink.api.connector.source.SourceSplit;

import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Objects;
import java.util.Set;

/**
 * One Kinesis shard. The split id is the shard id. {@code startingSequenceNumber} is set when the
 * split resumes from a checkpoint: reading continues AFTER that sequence number (the last record
 * emitted before the checkpoint), so nothing is lost or read twice.
 *
 * <p>A split with {@code finished == true} is only a marker kept in the reader's checkpoint until the
 * enumerator has durably recorded that the shard reached SHARD_END (see KinesisStreamsSourceReader).
 */
public final class KinesisShardSplit implements SourceSplit {

    /** How to obtain the first shard iterator. */
    public enum StartType {
        TRIM_HORIZON,
        LATEST,
        AT_TIMESTAMP,
        AFTER_SEQUENCE_NUMBER
    }

    private final String streamArn;
    private final String shardId;
    private final StartType startType;
    /** Sequence number for AFTER_SEQUENCE_NUMBER; null otherwise. */
    private final String startingSequenceNumber;
    /** Epoch millis for AT_TIMESTAMP; 0 otherwise. */
    private final long startingTimestampMillis;
    private final Set<String> parentShardIds;
    private final boolean finished;

    public KinesisShardSplit(
            String streamArn,
            String shardId,
            StartType startType,
            String startingSequenceNumber,
            long startingTimestampMillis,
            Set<String> parentShardIds,
            boolean finished) {
        this.streamArn = Objects.requireNonNull(streamArn);
        this.shardId = Objects.requireNonNull(shardId);
        this.startType = Objects.requireNonNull(startType);
        if (startType == StartType.AFTER_SEQUENCE_NUMBER && startingSequenceNumber == null) {
            throw new IllegalArgumentException("AFTER_SEQUENCE_NUMBER needs a sequence number");
        }
        this.startingSequenceNumber = startingSequenceNumber;
        this.startingTimestampMillis = startingTimestampMillis;
        this.parentShardIds =
                parentShardIds == null
                        ? Collections.emptySet()
                        : Collections.unmodifiableSet(new LinkedHashSet<>(parentShardIds));
        this.finished = finished;
    }

    @Override
    public String splitId() {
        return shardId;
    }

    public String getStreamArn() {
        return streamArn;
    }

    public String getShardId() {
        return shardId;
    }

    public StartType getStartType() {
        return startType;
    }

    public String getStartingSequenceNumber() {
        return startingSequenceNumber;
    }

    public long getStartingTimestampMillis() {
        return startingTimestampMillis;
    }

    public Set<String> getParentShardIds() {
        return parentShardIds;
    }

    public boolean isFinished() {
        return finished;
    }

    /** The same shard, resuming after {@code sequenceNumber} (if not null). */
    public KinesisShardSplit resumeAfter(String sequenceNumber) {
        if (sequenceNumber == null) {
            return this;
        }
        return new KinesisShardSplit(
                streamArn, shardId, StartType.AFTER_SEQUENCE_NUMBER, sequenceNumber, 0L,
                parentShardIds, false);
    }

    /** A marker saying this shard was read to its end. */
    public KinesisShardSplit asFinished() {
        return new KinesisShardSplit(
                streamArn, shardId, startType, startingSequenceNumber, startingTimestampMillis,
                parentShardIds, true);
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof KinesisShardSplit)) {
            return false;
        }
        KinesisShardSplit that = (KinesisShardSplit) o;
        return startingTimestampMillis == that.startingTimestampMillis
                && finished == that.finished
                && streamArn.equals(that.streamArn)
                && shardId.equals(that.shardId)
                && startType == that.startType
                && Objects.equals(startingSequenceNumber, that.startingSequenceNumber)
                && parentShardIds.equals(that.parentShardIds);
    }

    @Override
    public int hashCode() {
        return Objects.hash(streamArn, shardId, startType, startingSequenceNumber, startingTimestampMillis,
                parentShardIds, finished);
    }

    @Override
    public String toString() {
        return "KinesisShardSplit{shardId=" + shardId + ", start=" + startType
                + (startingSequenceNumber != null ? "(" + startingSequenceNumber + ")" : "")
                + (startType == StartType.AT_TIMESTAMP ? "(" + startingTimestampMillis + ")" : "")
                + ", parents=" + parentShardIds + (finished ? ", finished" : "") + "}";
    }
}
