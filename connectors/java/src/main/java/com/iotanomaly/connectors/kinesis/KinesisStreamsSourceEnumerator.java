package com.iotanomaly.connectors.kinesis;

import org.apache.flink.api.connector.source.SourceEvent;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.api.connector.source.SplitsAssignment;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.kinesis.KinesisClient;
import software.amazon.awssdk.services.kinesis.model.DescribeStreamSummaryRequest;
import software.amazon.awssdk.services.kinesis.model.ListShardsRequest;
import software.amazon.awssdk.services.kinesis.model.ListShardsResponse;
import software.amazon.awssdk.services.kinesis.model.Shard;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Discovers shards periodically (ListShards, paginated) and hands each shard to exactly one reader,
 * round-robin over the registered readers. A child shard (after a split/merge) is assigned only once
 * all its parents were read to SHARD_END (or have expired out of the stream), so per-key order holds.
 *
 * <p>Start position: shards of the first discovery start at the configured position, except LATEST,
 * which is pinned to the enumerator's first start (AT_TIMESTAMP of that moment, kept in the
 * enumerator's state and in each split), so a restore before a quiet shard delivered anything
 * resumes there instead of at a new LATEST. Shards found later start at TRIM_HORIZON.
 *
 * <p>All state is touched on the coordinator thread only; DescribeStreamSummary (once, at start: a
 * missing stream fails the job within seconds) and ListShards run in the context's worker thread via
 * {@code callAsync}, classified by {@link KinesisErrors}: throttling/5xx are retried there with
 * backoff, an unreachable endpoint for at most {@code maxUnreachableMs}; a fatal cause is thrown from
 * the coordinator-thread callback as {@code SuppressRestartsException}, which fails the job without
 * restarts. Other unexpected errors are logged and retried at the next interval.
 */
public class KinesisStreamsSourceEnumerator
        implements SplitEnumerator<KinesisShardSplit, KinesisEnumeratorState> {

    private static final Logger LOG = LoggerFactory.getLogger(KinesisStreamsSourceEnumerator.class);

    private final SplitEnumeratorContext<KinesisShardSplit> context;
    private final KinesisSourceConfig config;

    /** Shards currently owned by some reader (progress is in the reader's state). */
    private final Set<String> assigned;
    /** Shards read to SHARD_END. */
    private final Set<String> finished;
    /** Discovered (or returned by a failed reader) but not assigned yet; keyed by shard id. */
    private final Map<String, KinesisShardSplit> unassigned = new LinkedHashMap<>();
    /** Shard ids returned by the last successful ListShards. */
    private Set<String> lastListedShardIds = Collections.emptySet();

    private boolean initialDiscoveryDone;
    /** LATEST pinned to this epoch-millisecond time at first start; -1 when not applicable. */
    private final long pinnedStartMillis;
    private int nextReader;
    private final Supplier<KinesisClient> clientFactory;
    private volatile KinesisClient client;

    /** Worker-thread only: stream existence checked, unreachable-endpoint budget. */
    private boolean streamChecked;
    private final KinesisErrors.UnreachableBudget unreachable;
    /** Coordinator thread only. */
    private boolean failed;

    public KinesisStreamsSourceEnumerator(
            SplitEnumeratorContext<KinesisShardSplit> context,
            KinesisSourceConfig config,
            KinesisEnumeratorState restored) {
        this(context, config, restored, config::createClient);
    }

    KinesisStreamsSourceEnumerator(
            SplitEnumeratorContext<KinesisShardSplit> context,
            KinesisSourceConfig config,
            KinesisEnumeratorState restored,
            Supplier<KinesisClient> clientFactory) {
        this.context = context;
        this.config = config;
        this.clientFactory = clientFactory;
        this.unreachable = new KinesisErrors.UnreachableBudget(config.maxUnreachableMs);
        this.assigned = new LinkedHashSet<>(restored.getAssignedShardIds());
        this.finished = new LinkedHashSet<>(restored.getFinishedShardIds());
        for (KinesisShardSplit split : restored.getUnassignedSplits()) {
            unassigned.put(split.splitId(), split);
        }
        this.initialDiscoveryDone = restored.isInitialDiscoveryDone();
        if (restored.getPinnedStartMillis() >= 0) {
            this.pinnedStartMillis = restored.getPinnedStartMillis();
        } else if (!initialDiscoveryDone && config.initialPosition == InitialPosition.LATEST) {
            // First start: "LATEST" means "from now on", pinned so that it stays "from then on".
            this.pinnedStartMillis = System.currentTimeMillis();
        } else {
            this.pinnedStartMillis = -1L;
        }
    }

    @Override
    public void start() {
        if (pinnedStartMillis >= 0 && !initialDiscoveryDone) {
            LOG.info("Initial position LATEST of {} pinned to {} ({})", config.streamArn,
                    pinnedStartMillis, Instant.ofEpochMilli(pinnedStartMillis));
        }
        context.callAsync(this::discoverShards, this::onShardsListed, 0L, config.shardDiscoveryIntervalMs);
    }

    /** Runs in the enumerator's worker thread: checks the stream once, then lists its shards. */
    List<Shard> discoverShards() throws InterruptedException {
        if (client == null) {
            client = clientFactory.get();
        }
        if (!streamChecked) {
            DescribeStreamSummaryRequest describe =
                    DescribeStreamSummaryRequest.builder().streamARN(config.streamArn).build();
            callWithRetries("DescribeStreamSummary", () -> client.describeStreamSummary(describe));
            streamChecked = true;
        }
        return callWithRetries("ListShards", this::listShards);
    }

    private List<Shard> listShards() {
        List<Shard> shards = new ArrayList<>();
        String nextToken = null;
        do {
            ListShardsRequest.Builder request = ListShardsRequest.builder().streamARN(config.streamArn);
            if (nextToken != null) {
                request.nextToken(nextToken);
            }
            ListShardsResponse response = client.listShards(request.build());
            shards.addAll(response.shards());
            nextToken = response.nextToken();
        } while (nextToken != null && !nextToken.isEmpty());
        return shards;
    }

    /**
     * Calls {@code call} until it succeeds: fatal causes throw at once, an unreachable endpoint is
     * retried until the budget is used up, throttling/5xx indefinitely (exponential backoff with full
     * jitter). Worker thread only; returns early with InterruptedException when the enumerator closes.
     */
    private <T> T callWithRetries(String what, Supplier<T> call) throws InterruptedException {
        int attempt = 0;
        while (true) {
            try {
                T result = call.get();
                unreachable.success();
                return result;
            } catch (SdkException e) {
                KinesisErrors.Kind kind = KinesisErrors.classify(e);
                if (kind == KinesisErrors.Kind.FATAL) {
                    throw KinesisErrors.fatal(KinesisErrors.fatalMessage(e, config.streamArn), e);
                }
                if (kind == KinesisErrors.Kind.UNREACHABLE) {
                    if (unreachable.failedAndExhausted(System.currentTimeMillis())) {
                        throw KinesisErrors.fatal(KinesisErrors.unreachableMessage(
                                e, config.endpointForMessages(), unreachable.budgetMs()), e);
                    }
                } else {
                    unreachable.success(); // the service answered
                }
                long delay = KinesisErrors.backoffMs(attempt++);
                if (kind == KinesisErrors.Kind.UNREACHABLE || attempt >= 8) {
                    LOG.warn("{} on {} failed ({} in a row); retrying in {} ms: {}",
                            what, config.streamArn, attempt, delay, e.toString());
                } else {
                    LOG.debug("{} on {} throttled/failed; retrying in {} ms", what, config.streamArn, delay, e);
                }
                Thread.sleep(delay);
            }
        }
    }

    /** Runs in the coordinator thread. */
    void onShardsListed(List<Shard> shards, Throwable error) {
        if (failed) {
            return;
        }
        if (error != null) {
            KinesisSourceException fatal = KinesisErrors.findSourceException(error);
            if (fatal != null) {
                failed = true;
                LOG.error(fatal.getMessage(), fatal.getCause());
                // Thrown from the callAsync callback: the coordinator fails the job; the
                // SuppressRestartsException around it tells the scheduler not to restart.
                if (error instanceof RuntimeException) {
                    throw (RuntimeException) error;
                }
                throw KinesisErrors.fatal(fatal.getMessage(), fatal.getCause());
            }
            LOG.warn("Shard discovery on {} failed; retrying in {} ms",
                    config.streamArn, config.shardDiscoveryIntervalMs, error);
            return;
        }
        Set<String> listed = new HashSet<>();
        int added = 0;
        for (Shard shard : shards) {
            String id = shard.shardId();
            listed.add(id);
            if (assigned.contains(id) || finished.contains(id) || unassigned.containsKey(id)) {
                continue;
            }
            Set<String> parents = new LinkedHashSet<>();
            if (shard.parentShardId() != null) {
                parents.add(shard.parentShardId());
            }
            if (shard.adjacentParentShardId() != null) {
                parents.add(shard.adjacentParentShardId());
            }
            unassigned.put(id, newSplit(id, parents));
            added++;
        }
        lastListedShardIds = listed;
        initialDiscoveryDone = true;
        if (added > 0) {
            LOG.info("Discovered {} new shard(s) of {}", added, config.streamArn);
        }
        assignPending();
    }

    private KinesisShardSplit newSplit(String shardId, Set<String> parents) {
        KinesisShardSplit.StartType start = KinesisShardSplit.StartType.TRIM_HORIZON;
        long timestamp = 0L;
        if (!initialDiscoveryDone) {
            switch (config.initialPosition) {
                case LATEST:
                    start = KinesisShardSplit.StartType.AT_TIMESTAMP;
                    timestamp = pinnedStartMillis;
                    break;
                case AT_TIMESTAMP:
                    start = KinesisShardSplit.StartType.AT_TIMESTAMP;
                    timestamp = config.initialTimestampMillis;
                    break;
                default:
                    start = KinesisShardSplit.StartType.TRIM_HORIZON;
            }
        }
        return new KinesisShardSplit(config.streamArn, shardId, start, null, timestamp, parents, false);
    }

    private boolean parentsDone(KinesisShardSplit split) {
        for (String parent : split.getParentShardIds()) {
            if (finished.contains(parent)) {
                continue;
            }
            boolean stillKnown = lastListedShardIds.contains(parent)
                    || assigned.contains(parent)
                    || unassigned.containsKey(parent);
            if (stillKnown) {
                return false;
            }
            // Parent expired out of the retention window: nothing left to read there.
        }
        return true;
    }

    private void assignPending() {
        List<Integer> readers = new ArrayList<>(context.registeredReaders().keySet());
        if (readers.isEmpty() || unassigned.isEmpty()) {
            return;
        }
        Collections.sort(readers);
        // One assignment (one AddSplitsEvent per reader) for everything ready now: the reader then
        // creates the per-split watermark outputs of all its new shards before emitting any record,
        // so one shard's backlog cannot advance the watermark past another's.
        Map<Integer, List<KinesisShardSplit>> batch = new LinkedHashMap<>();
        Iterator<KinesisShardSplit> it = unassigned.values().iterator();
        while (it.hasNext()) {
            KinesisShardSplit split = it.next();
            if (!parentsDone(split)) {
                continue;
            }
            int reader = readers.get(Math.floorMod(nextReader++, readers.size()));
            LOG.info("Assigning {} to reader {}", split, reader);
            batch.computeIfAbsent(reader, r -> new ArrayList<>()).add(split);
            assigned.add(split.splitId());
            it.remove();
        }
        if (!batch.isEmpty()) {
            context.assignSplits(new SplitsAssignment<>(batch));
        }
    }

    @Override
    public void handleSplitRequest(int subtaskId, String requesterHostname) {
        // Splits are pushed on discovery; readers never ask.
    }

    @Override
    public void addSplitsBack(List<KinesisShardSplit> splits, int subtaskId) {
        // Splits assigned after the last successful checkpoint to a reader that failed.
        for (KinesisShardSplit split : splits) {
            assigned.remove(split.splitId());
            if (!finished.contains(split.splitId())) {
                unassigned.put(split.splitId(), split);
            }
        }
        LOG.info("Got {} split(s) back from failed reader {}", splits.size(), subtaskId);
    }

    @Override
    public void addReader(int subtaskId) {
        assignPending();
    }

    @Override
    public void handleSourceEvent(int subtaskId, SourceEvent sourceEvent) {
        if (sourceEvent instanceof SplitsFinishedEvent) {
            Set<String> ids = ((SplitsFinishedEvent) sourceEvent).getFinishedShardIds();
            finished.addAll(ids);
            assigned.removeAll(ids);
            for (String id : ids) {
                unassigned.remove(id);
            }
            LOG.info("Reader {} finished shard(s) {}", subtaskId, ids);
            assignPending();
        }
    }

    @Override
    public KinesisEnumeratorState snapshotState(long checkpointId) {
        return new KinesisEnumeratorState(
                assigned, finished, new ArrayList<>(unassigned.values()), initialDiscoveryDone,
                pinnedStartMillis);
    }

    @Override
    public void close() {
        if (client != null) {
            client.close();
        }
    }
}
