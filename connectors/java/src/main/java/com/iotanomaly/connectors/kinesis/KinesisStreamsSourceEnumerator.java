package com.iotanomaly.connectors.kinesis;

import org.apache.flink.api.connector.source.SourceEvent;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.services.kinesis.KinesisClient;
import software.amazon.awssdk.services.kinesis.model.ListShardsRequest;
import software.amazon.awssdk.services.kinesis.model.ListShardsResponse;
import software.amazon.awssdk.services.kinesis.model.Shard;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Discovers shards periodically (ListShards, paginated) and hands each shard to exactly one reader,
 * round-robin over the registered readers. A child shard (after a split/merge) is assigned only once
 * all its parents were read to SHARD_END (or have expired out of the stream), so per-key order holds.
 *
 * <p>All state is touched on the coordinator thread only; ListShards runs in the context's worker
 * thread via {@code callAsync}. A failing ListShards is logged and retried at the next interval.
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
    private int nextReader;
    private KinesisClient client;

    public KinesisStreamsSourceEnumerator(
            SplitEnumeratorContext<KinesisShardSplit> context,
            KinesisSourceConfig config,
            KinesisEnumeratorState restored) {
        this.context = context;
        this.config = config;
        this.assigned = new LinkedHashSet<>(restored.getAssignedShardIds());
        this.finished = new LinkedHashSet<>(restored.getFinishedShardIds());
        for (KinesisShardSplit split : restored.getUnassignedSplits()) {
            unassigned.put(split.splitId(), split);
        }
        this.initialDiscoveryDone = restored.isInitialDiscoveryDone();
    }

    @Override
    public void start() {
        client = config.createClient();
        context.callAsync(this::listShards, this::onShardsListed, 0L, config.shardDiscoveryIntervalMs);
    }

    /** Runs in the enumerator's worker thread. */
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

    /** Runs in the coordinator thread. */
    void onShardsListed(List<Shard> shards, Throwable error) {
        if (error != null) {
            LOG.warn("ListShards on {} failed; retrying in {} ms",
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
                    start = KinesisShardSplit.StartType.LATEST;
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
        Iterator<KinesisShardSplit> it = unassigned.values().iterator();
        while (it.hasNext()) {
            KinesisShardSplit split = it.next();
            if (!parentsDone(split)) {
                continue;
            }
            int reader = readers.get(Math.floorMod(nextReader++, readers.size()));
            LOG.info("Assigning {} to reader {}", split, reader);
            context.assignSplit(split, reader);
            assigned.add(split.splitId());
            it.remove();
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
                assigned, finished, new ArrayList<>(unassigned.values()), initialDiscoveryDone);
    }

    @Override
    public void close() {
        if (client != null) {
            client.close();
        }
    }
}
