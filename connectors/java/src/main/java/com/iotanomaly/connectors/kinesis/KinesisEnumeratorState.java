package com.iotanomaly.connectors.kinesis;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Enumerator checkpoint: shards handed to readers (their progress lives in the readers' state), shards
 * known to be read to SHARD_END, splits discovered but not yet assigned, and whether the first shard
 * discovery already happened (later-discovered shards start at TRIM_HORIZON), and the time LATEST was
 * pinned to at the first start.
 */
public final class KinesisEnumeratorState {

    private final Set<String> assignedShardIds;
    private final Set<String> finishedShardIds;
    private final List<KinesisShardSplit> unassignedSplits;
    private final boolean initialDiscoveryDone;
    /** Time LATEST was pinned to at the job's first start (epoch ms); -1 when not applicable. */
    private final long pinnedStartMillis;

    public KinesisEnumeratorState(
            Set<String> assignedShardIds,
            Set<String> finishedShardIds,
            List<KinesisShardSplit> unassignedSplits,
            boolean initialDiscoveryDone) {
        this(assignedShardIds, finishedShardIds, unassignedSplits, initialDiscoveryDone, -1L);
    }

    public KinesisEnumeratorState(
            Set<String> assignedShardIds,
            Set<String> finishedShardIds,
            List<KinesisShardSplit> unassignedSplits,
            boolean initialDiscoveryDone,
            long pinnedStartMillis) {
        this.assignedShardIds = Collections.unmodifiableSet(new LinkedHashSet<>(assignedShardIds));
        this.finishedShardIds = Collections.unmodifiableSet(new LinkedHashSet<>(finishedShardIds));
        this.unassignedSplits = Collections.unmodifiableList(new ArrayList<>(unassignedSplits));
        this.initialDiscoveryDone = initialDiscoveryDone;
        this.pinnedStartMillis = pinnedStartMillis;
    }

    public static KinesisEnumeratorState empty() {
        return new KinesisEnumeratorState(
                Collections.emptySet(), Collections.emptySet(), Collections.emptyList(), false);
    }

    public Set<String> getAssignedShardIds() {
        return assignedShardIds;
    }

    public Set<String> getFinishedShardIds() {
        return finishedShardIds;
    }

    public List<KinesisShardSplit> getUnassignedSplits() {
        return unassignedSplits;
    }

    public boolean isInitialDiscoveryDone() {
        return initialDiscoveryDone;
    }

    public long getPinnedStartMillis() {
        return pinnedStartMillis;
    }

    @Override
    public String toString() {
        return "KinesisEnumeratorState{assigned=" + assignedShardIds + ", finished=" + finishedShardIds
                + ", unassigned=" + unassignedSplits + ", initialDiscoveryDone=" + initialDiscoveryDone
                + ", pinnedStartMillis=" + pinnedStartMillis + "}";
    }
}
