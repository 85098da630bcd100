package com.iotanomaly.connectors.kinesis;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;

import java.time.Duration;

/**
 * Event time and watermarks for JSON readings, generated inside {@link KinesisStreamsSource}.
 *
 * <p>Pass the strategy to {@code env.fromSource(source, strategy, name)}: the SourceOperator then runs
 * one watermark generator per split (shard) and the reader's watermark is the minimum over its
 * shards, so a reader catching up on several shards' backlog never marks one shard's readings late
 * because another shard ran ahead. A downstream {@code assignTimestampsAndWatermarks} cannot do this:
 * it sees the shards interleaved in batches.
 */
public final class ReadingWatermarks {

    private ReadingWatermarks() {}

    /**
     * Bounded out-of-orderness of {@code maxOutOfOrdernessMs} over {@link ReadingTimestampAssigner}
     * (readings without a valid {@code ts}, or more than {@code maxFutureMs} ahead, get timestamp 0 and
     * never advance the watermark), plus {@code withIdleness(idleTimeoutMs)} when
     * {@code idleTimeoutMs > 0} so a quiet shard does not hold back event time forever.
     */
    public static WatermarkStrategy<String> strategy(
            long maxOutOfOrdernessMs, long idleTimeoutMs, long maxFutureMs) {
        if (maxOutOfOrdernessMs < 0) {
            throw new IllegalArgumentException("maxOutOfOrdernessMs must be >= 0, got " + maxOutOfOrdernessMs);
        }
        if (idleTimeoutMs < 0) {
            throw new IllegalArgumentException("idleTimeoutMs must be >= 0, got " + idleTimeoutMs);
        }
        WatermarkStrategy<String> strategy = WatermarkStrategy.<String>forBoundedOutOfOrderness(
                        Duration.ofMillis(maxOutOfOrdernessMs))
                .withTimestampAssigner(new ReadingTimestampAssigner(maxFutureMs));
        if (idleTimeoutMs > 0) {
            strategy = strategy.withIdleness(Duration.ofMillis(idleTimeoutMs));
        }
        return strategy;
    }
}
