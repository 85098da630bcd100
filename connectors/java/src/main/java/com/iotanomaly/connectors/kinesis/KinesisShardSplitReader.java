package com.iotanomaly.connectors.kinesis;

import org.apache.flink.connector.base.source.reader.RecordsBySplits;
import org.apache.flink.connector.base.source.reader.RecordsWithSplitIds;
import org.apache.flink.connector.base.source.reader.splitreader.SplitReader;
import org.apache.flink.connector.base.source.reader.splitreader.SplitsAddition;
import org.apache.flink.connector.base.source.reader.splitreader.SplitsChange;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MetricGroup;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.kinesis.KinesisClient;
import software.amazon.awssdk.services.kinesis.model.DescribeStreamSummaryRequest;
import software.amazon.awssdk.services.kinesis.model.ExpiredIteratorException;
import software.amazon.awssdk.services.kinesis.model.GetRecordsRequest;
import software.amazon.awssdk.services.kinesis.model.GetRecordsResponse;
import software.amazon.awssdk.services.kinesis.model.GetShardIteratorRequest;
import software.amazon.awssdk.services.kinesis.model.Record;
import software.amazon.awssdk.services.kinesis.model.ResourceNotFoundException;
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
 * A shard that returned nothing is not polled again before {@code idleIntervalMs}, and no shard more
 * often than every {@code minGetRecordsIntervalMs} (its read budget is shared with other consumers).
 *
 * <p>Failures ({@link KinesisErrors}): throttling, 5xx and other service answers back off that shard
 * exponentially with full jitter (100 ms .. 10 s) and retry indefinitely while other shards keep
 * going. Failing to reach the endpoint is retried the same way for at most {@code maxUnreachableMs}
 * (any successful call resets the budget), then fails the job. A missing stream, denied access or an
 * invalid request fails the job at once; both fatal cases throw {@code SuppressRestartsException}
 * around a {@link KinesisSourceException} so Flink does not restart into the same error. A shard that
 * disappeared from an existing stream (expired out of retention) is finished.
 *
 * <p>An expired iterator is renewed AFTER_SEQUENCE_NUMBER of the last fetched record. A null next
 * iterator (SHARD_END) finishes the split.
 */
public class KinesisShardSplitReader implements SplitReader<Record, KinesisShardSplit> {

    private static final Logger LOG = LoggerFactory.getLogger(KinesisShardSplitReader.class);

    private static final long MAX_SLEEP_PER_FETCH_MS = 500L;

    private final KinesisSourceConfig config;
    private final KinesisClient client;
    static final String MILLIS_BEHIND_LATEST = "millisBehindLatest";
    static final String MSF_METRIC_GROUP = "kinesisanalytics";
    private final MetricGroup metricGroup;
    private final Map<String, Long> millisBehindLatest = new ConcurrentHashMap<>();
    private final Set<String> gaugesRegistered = new HashSet<>();
    private final KinesisErrors.UnreachableBudget unreachable;

    private final Deque<ShardState> shards = new ArrayDeque<>();
    private final Object sleepLock = new Object();
    private boolean wokenUp;
    private boolean fatalLogged;

    public KinesisShardSplitReader(KinesisSourceConfig config, MetricGroup metricGroup) {
        this(config, config.createClient(), metricGroup);
    }

    KinesisShardSplitReader(KinesisSourceConfig config, KinesisClient client, MetricGroup metricGroup) {
        this.config = config;
        this.client = client;
        this.metricGroup = metricGroup;
        this.unreachable = new KinesisErrors.UnreachableBudget(config.maxUnreachableMs);
    }

    /** Fetch-side progress of one shard. */
    private static final class ShardState {
        final KinesisShardSplit split;
        String iterator;
        /** Last sequence number fetched (handed to the reader), for iterator renewal. */
        String lastFetchedSequenceNumber;
        long notBefore;
        /** Consecutive failures, for the backoff ceiling. */
        int failures;

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
            unreachable.success();
            shard.failures = 0;
            shard.iterator = response.nextShardIterator();
            if (response.millisBehindLatest() != null) {
                millisBehindLatest.put(shard.split.splitId(), response.millisBehindLatest());
            }
            if (!response.records().isEmpty()) {
                shard.lastFetchedSequenceNumber =
                        response.records().get(response.records().size() - 1).sequenceNumber();
                // the shard's 5 GetRecords/s are shared with every other consumer of the stream
                shard.notBefore = System.currentTimeMillis() + config.minGetRecordsIntervalMs;
            } else {
                shard.notBefore = System.currentTimeMillis()
                        + Math.max(config.idleIntervalMs, config.minGetRecordsIntervalMs);
            }
            Map<String, java.util.Collection<Record>> records = new HashMap<>();
            if (!response.records().isEmpty()) {
                records.put(shard.split.splitId(), response.records());
            }
            Set<String> finishedSplits = Collections.emptySet();
            if (shard.iterator == null) {
                LOG.info("Shard {} reached SHARD_END", shard.split.splitId());
                finishedSplits = finish(shard);
            }
            return new RecordsBySplits<>(records, finishedSplits);
        } catch (ExpiredIteratorException e) {
            unreachable.success();
            LOG.info("Iterator of shard {} expired; renewing", shard.split.splitId());
            shard.iterator = null;
        } catch (ResourceNotFoundException e) {
            unreachable.success();
            // The shard or the whole stream is gone: only the latter is fatal.
            Boolean streamExists = streamExists();
            if (Boolean.TRUE.equals(streamExists)) {
                LOG.warn("Shard {} no longer exists in {} (expired out of retention?); finishing it",
                        shard.split.splitId(), config.streamArn);
                return new RecordsBySplits<>(Collections.emptyMap(), finish(shard));
            }
            if (Boolean.FALSE.equals(streamExists)) {
                throw fail(KinesisErrors.fatalMessage(e, config.streamArn), e);
            }
            backOff(shard, e, KinesisErrors.Kind.RETRYABLE);
        } catch (SdkException e) {
            KinesisErrors.Kind kind = KinesisErrors.classify(e);
            if (kind == KinesisErrors.Kind.FATAL && isTimestampAheadOfService(shard, e)) {
                kind = KinesisErrors.Kind.RETRYABLE;
            }
            switch (kind) {
                case FATAL:
                    unreachable.success();
                    throw fail(KinesisErrors.fatalMessage(e, config.streamArn), e);
                case UNREACHABLE:
                    if (unreachable.failedAndExhausted(System.currentTimeMillis())) {
                        throw fail(KinesisErrors.unreachableMessage(
                                e, config.endpointForMessages(), unreachable.budgetMs()), e);
                    }
                    backOff(shard, e, kind);
                    break;
                default:
                    unreachable.success(); // the service answered
                    backOff(shard, e, kind);
            }
        }
        return new RecordsBySplits<>(Collections.emptyMap(), Collections.emptySet());
    }

    /**
     * Kinesis rejects an AT_TIMESTAMP iterator whose timestamp is later than its own clock
     * (InvalidArgumentException). A pinned LATEST or a configured start time that is recent or
     * still ahead is then a matter of clock skew or waiting, not a broken request: retry it.
     */
    private static boolean isTimestampAheadOfService(ShardState shard, SdkException e) {
        return shard.iterator == null
                && shard.lastFetchedSequenceNumber == null
                && shard.split.getStartType() == KinesisShardSplit.StartType.AT_TIMESTAMP
                && e instanceof AwsServiceException
                && "InvalidArgumentException".equals(KinesisErrors.errorCode((AwsServiceException) e))
                && shard.split.getStartingTimestampMillis() > System.currentTimeMillis() - 300_000L;
    }

    private Set<String> finish(ShardState shard) {
        shards.remove(shard);
        millisBehindLatest.remove(shard.split.splitId());
        return Collections.singleton(shard.split.splitId());
    }

    /** True/false when DescribeStreamSummary says so; null when that call failed too. */
    private Boolean streamExists() {
        try {
            client.describeStreamSummary(
                    DescribeStreamSummaryRequest.builder().streamARN(config.streamArn).build());
            return Boolean.TRUE;
        } catch (ResourceNotFoundException e) {
            return Boolean.FALSE;
        } catch (SdkException e) {
            LOG.debug("DescribeStreamSummary of {} failed", config.streamArn, e);
            return null;
        }
    }

    private void backOff(ShardState shard, SdkException e, KinesisErrors.Kind kind) {
        long delay = KinesisErrors.backoffMs(shard.failures++);
        shard.notBefore = System.currentTimeMillis() + delay;
        if (kind == KinesisErrors.Kind.UNREACHABLE || shard.failures >= 8) {
            LOG.warn("Reading shard {} failed ({} in a row); retrying in {} ms: {}",
                    shard.split.splitId(), shard.failures, delay, e.toString());
        } else {
            LOG.debug("Reading shard {} throttled/failed; retrying in {} ms",
                    shard.split.splitId(), delay, e);
        }
    }

    /** Logs a fatal cause once at ERROR and returns the restart-suppressing exception to throw. */
    private RuntimeException fail(String message, Throwable cause) {
        if (!fatalLogged) {
            fatalLogged = true;
            LOG.error(message, cause);
        }
        return KinesisErrors.fatal(message, cause);
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
                Gauge<Long> behind = () -> millisBehindLatest.getOrDefault(shardId, -1L);
                metricGroup.addGroup("shardId", shardId).gauge(MILLIS_BEHIND_LATEST, behind);
                // MSF sends a job's own metrics to CloudWatch only from under this group (dimension shardId)
                metricGroup.addGroup(MSF_METRIC_GROUP).addGroup("shardId", shardId)
                        .gauge(MILLIS_BEHIND_LATEST, behind);
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
