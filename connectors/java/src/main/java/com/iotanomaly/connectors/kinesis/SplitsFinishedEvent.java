package com.iotanomaly.connectors.kinesis;

import org.apache.flink.api.connector.source.SourceEvent;

import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Set;

/** Reader -> enumerator: these shards were read to SHARD_END, so their children may be assigned. */
public final class SplitsFinishedEvent implements SourceEvent {

    private static final long serialVersionUID = 1L;

    private final Set<String> finishedShardIds;

    public SplitsFinishedEvent(Set<String> finishedShardIds) {
        this.finishedShardIds = Collections.unmodifiableSet(new LinkedHashSet<>(finishedShardIds));
    }

    public Set<String> getFinishedShardIds() {
        return finishedShardIds;
    }

    @Override
    public String toString() {
        return "SplitsFinishedEvent" + finishedShardIds;
    }
}
