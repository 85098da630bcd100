package com.iotanomaly.connectors.kinesis;

/** Mutable reader-side state of a split: the sequence number of the last record emitted downstream. */
public final class KinesisShardSplitState {

    private final KinesisShardSplit split;
    private String lastEmittedSequenceNumber;

    public KinesisShardSplitState(KinesisShardSplit split) {
        this.split = split;
    }

    public void setLastEmittedSequenceNumber(String sequenceNumber) {
        this.lastEmittedSequenceNumber = sequenceNumber;
    }

    public String getLastEmittedSequenceNumber() {
        return lastEmittedSequenceNumber;
    }

    public KinesisShardSplit getSplit() {
        return split;
    }

    /** The split to checkpoint: resumes after the last emitted record, or as originally assigned. */
    public KinesisShardSplit toSplit() {
        return split.resumeAfter(lastEmittedSequenceNumber);
    }
}
