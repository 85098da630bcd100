package com.iotanomaly.connectors.kinesis;

/**
 * Where the source starts reading shards found by the first shard discovery of a fresh job (named as
 * in the official connector's {@code source.init.position}). LATEST is pinned to the job's first start:
 * those shards are read AT_TIMESTAMP of that moment, so a restore before a quiet shard delivered
 * anything does not jump to a newer LATEST and skip what was written meanwhile. Shards discovered
 * later (resharding) always start at TRIM_HORIZON so no record of a new shard is skipped; restored
 * shards continue after their last emitted sequence number.
 */
public enum InitialPosition {
    TRIM_HORIZON,
    LATEST,
    AT_TIMESTAMP
}
