package com.iotanomaly.connectors.kinesis;

import org.apache.flink.connector.base.source.reader.RecordsBySplits;
import org.apache.flink.connector.base.source.reader.RecordsWithSplitIds;
import org.apache.flink.connector.base.source.reader.splitreader.SplitReader;
import org.apache.flink.connector.base.source.reader.splitreader.SplitsAddition;
import org.apache.flink.connector.base.source.reader.splitreader.SplitsChange;
import org.apache.flink.metrics.MetricGroup;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.kinesis.KinesisClient;
import software.amazon.awssdk.services.kinesis.model.ExpiredIteratorException;
import software.amazon.awssdk.services.kinesis.model.GetRecordsRequest;
import software.amazon.awssdk.services.kinesis.model.GetRecordsResponse;
import software.amazon.awssdk.services.kinesis.model.GetShardIteratorRequest;
import software.amazon.awssdk.services.kinesis.model.Record;
import software.amazon.awssdk.services.kinesis.model.ShardIteratorType;

import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Polls GetRecords for the shards of one reader, one shard per {@link #fetch()} call, round-robin.
 * A shard that returned nothing is not polled again before {@code idleIntervalMs}. Throttling and
 * other errors back off that shard exponentially (100 ms .. 10 s) and retry; they never fail the job.
 * An expired iterator is renewed AFTER_SEQUENCE_NUMBER of the last fetched record. A null next iterator
 * (SHARD_END) finishes the split.
 */
public class KinesisShardSplitReader implements SplitReader<Record, KinesisShardSplit> {

    private static final Logger LOG = LoggerFactory.getLogger(KinesisShardSplitReader.class);

    private static final long MIN_BACKOFF_MS = 100L;
    private static final long MAX_BACKOFF_MS = 10_000L;
    private static final long MAX_SLEEP_PER_FETCH_MS = 500L;

    private final KinesisSourceConfig config;
    private final KinesisClient client;
    private final MetricGroup metricGroup;
    private final Map<String, Long> millisBehindLatest = new ConcurrentHashMap<>();
    private final Set<String> gaugesRegistered = new HashSet<>();

    private final Deque<ShardState> shards = new ArrayDeque<>();
    private final Object sleepLock = new Object();
    private boolean wokenUp;

    public KinesisShardSplitReader(KinesisSourceConfig config, MetricGroup metricGroup) {
        this(config, config.createClient(), metricGroup);
    }

    KinesisShardSplitReader(KinesisSourceConfig config, KinesisClient client, MetricGroup metricGroup) {
        this.config = config;
        this.client = client;
        this.metricGroup = metricGroup;
    }

    /** Fetch-side progress of one shard. */
    private static final class ShardState {
        final KinesisShardSplit split;
        String iterator;
        /** Last sequence number fetched (handed to the reader), for iterator renewal. */
        String lastFetchedSequenceNumber;
        long notBefore;
        long backoffMs;

        ShardState(KinesisShardSplit split) {
            this.split = split;
            this.lastFetchedSequenceNumber = split.getStartingSequenceNumber();
        }
    }

    @Override
    public RecordsWithSplitIds<Record> fetch() {
        ShardState shard = nextDueShard();
        if (shard == null) {
            return new RecordsBySplits<>(Collections.emptyMap(), Collections.emptySet());
        }
        try {
            if (shard.iterator == null) {
                shard.iterator = getShardIterator(shard);
            }
            GetRecordsResponse response = client.getRecords(
                    GetRecordsRequest.builder()
                            .streamARN(config.streamArn)
                            .shardIterator(shard.iterator)
                            .limit(config.maxRecordsPerGet)
                            .build());
            shard.backoffMs = 0L;
            shard.iterator = response.nextShardIterator();
            if (response.millisBehindLatest() != null) {
                millisBehindLatest.put(shard.split.splitId(), response.millisBehindLatest());
            }
            if (!response.records().isEmpty()) {
                shard.lastFetchedSequenceNumber =
                        response.records().get(response.records().size() - 1).sequenceNumber();
            } else {
                shard.notBefore = System.currentTimeMillis() + config.idleIntervalMs;
            }
            Map<String, java.util.Collection<Record>> records = new HashMap<>();
            if (!response.records().isEmpty()) {
                records.put(shard.split.splitId(), response.records());
            }
            Set<String> finishedSplits = Collections.emptySet();
            if (shard.iterator == null) {
                LOG.info("Shard {} reached SHARD_END", shard.split.splitId());
                shards.remove(shard);
                millisBehindLatest.remove(shard.split.splitId());
                finishedSplits = Collections.singleton(shard.split.splitId());
            }
            return new RecordsBySplits<>(records, finishedSplits);
        } catch (ExpiredIteratorException e) {
            LOG.info("Iterator of shard {} expired; renewing", shard.split.splitId());
            shard.iterator = null;
        } catch (SdkException e) {
            // Throttling (ProvisionedThroughputExceeded, LimitExceeded, KMS throttling), 5xx,
            // network errors: wait and retry this shard; other shards keep going.
            shard.backoffMs = shard.backoffMs == 0L
                    ? MIN_BACKOFF_MS
                    : Math.min(MAX_BACKOFF_MS, shard.backoffMs * 2);
            shard.notBefore = System.currentTimeMillis() + shard.backoffMs;
            if (e instanceof SdkClientException || shard.backoffMs >= MAX_BACKOFF_MS) {
                LOG.warn("Reading shard {} failed; retrying in {} ms: {}",
                        shard.split.splitId(), shard.backoffMs, e.toString());
            } else {
                LOG.debug("Reading shard {} throttled/failed; retrying in {} ms",
                        shard.split.splitId(), shard.backoffMs, e);
            }
        }
        return new RecordsBySplits<>(Collections.emptyMap(), Collections.emptySet());
    }

    private String getShardIterator(ShardState shard) {
        GetShardIteratorRequest.Builder request = GetShardIteratorRequest.builder()
                .streamARN(config.streamArn)
                .shardId(shard.split.getShardId());
        if (shard.lastFetchedSequenceNumber != null) {
            request.shardIteratorType(ShardIteratorType.AFTER_SEQUENCE_NUMBER)
                    .startingSequenceNumber(shard.lastFetchedSequenceNumber);
        } else {
            switch (shard.split.getStartType()) {
                case LATEST:
                    request.shardIteratorType(ShardIteratorType.LATEST);
                    break;
                case AT_TIMESTAMP:
                    request.shardIteratorType(ShardIteratorType.AT_TIMESTAMP)
                            .timestamp(Instant.ofEpochMilli(shard.split.getStartingTimestampMillis()));
                    break;
                default:
                    request.shardIteratorType(ShardIteratorType.TRIM_HORIZON);
            }
        }
        return client.getShardIterator(request.build()).shardIterator();
    }

    /** The next shard (round-robin) whose idle/back-off time has passed; may sleep briefly. */
    private ShardState nextDueShard() {
        if (shards.isEmpty()) {
            return null;
        }
        long now = System.currentTimeMillis();
        long earliest = Long.MAX_VALUE;
        for (int i = 0; i < shards.size(); i++) {
            ShardState candidate = shards.pollFirst();
            shards.addLast(candidate);
            if (candidate.notBefore <= now) {
                return candidate;
            }
            earliest = Math.min(earliest, candidate.notBefore);
        }
        sleep(Math.min(MAX_SLEEP_PER_FETCH_MS, earliest - now));
        return null;
    }

    private void sleep(long millis) {
        synchronized (sleepLock) {
            if (wokenUp) {
                wokenUp = false;
                return;
            }
            try {
                sleepLock.wait(Math.max(1L, millis));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            wokenUp = false;
        }
    }

    @Override
    public void handleSplitsChanges(SplitsChange<KinesisShardSplit> splitsChanges) {
        if (!(splitsChanges instanceof SplitsAddition)) {
            throw new UnsupportedOperationException(
                    "Unsupported splits change " + splitsChanges.getClass().getName());
        }
        for (KinesisShardSplit split : splitsChanges.splits()) {
            shards.addLast(new ShardState(split));
            String shardId = split.splitId();
            if (metricGroup != null && gaugesRegistered.add(shardId)) {
                metricGroup.addGroup("shardId", shardId).gauge("millisBehindLatest",
                        () -> millisBehindLatest.getOrDefault(shardId, -1L));
            }
        }
    }

    @Override
    public void wakeUp() {
        synchronized (sleepLock) {
            wokenUp = true;
            sleepLock.notifyAll();
        }
    }

    @Override
    public void close() {
        client.close();
    }
}
