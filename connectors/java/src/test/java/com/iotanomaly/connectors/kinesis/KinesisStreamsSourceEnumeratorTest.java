package com.iotanomaly.connectors.kinesis;

import org.apache.flink.api.connector.source.ReaderInfo;
import org.apache.flink.api.connector.source.SourceEvent;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.api.connector.source.SplitsAssignment;
import org.apache.flink.metrics.groups.SplitEnumeratorMetricGroup;

import org.junit.Test;
import software.amazon.awssdk.services.kinesis.model.Shard;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.BiConsumer;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

public class KinesisStreamsSourceEnumeratorTest {

    private static final String ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/s";

    /** Records assignments; ListShards is driven by the test via onShardsListed. */
    static final class FakeContext implements SplitEnumeratorContext<KinesisShardSplit> {
        final Map<Integer, ReaderInfo> readers = new LinkedHashMap<>();
        final Map<String, Integer> assignedTo = new LinkedHashMap<>();
        final Map<String, KinesisShardSplit> splits = new LinkedHashMap<>();

        void register(int subtask) {
            readers.put(subtask, new ReaderInfo(subtask, "localhost"));
        }

        @Override
        public SplitEnumeratorMetricGroup metricGroup() {
            return null;
        }

        @Override
        public void sendEventToSourceReader(int subtaskId, SourceEvent event) {}

        @Override
        public int currentParallelism() {
            return 2;
        }

        @Override
        public Map<Integer, ReaderInfo> registeredReaders() {
            return readers;
        }

        @Override
        public void assignSplits(SplitsAssignment<KinesisShardSplit> newSplitAssignments) {
            newSplitAssignments.assignment().forEach((reader, list) -> list.forEach(split -> {
                Integer previous = assignedTo.put(split.splitId(), reader);
                if (previous != null) {
                    throw new AssertionError(split + " assigned twice");
                }
                splits.put(split.splitId(), split);
            }));
        }

        @Override
        public void signalNoMoreSplits(int subtask) {}

        @Override
        public <T> void callAsync(Callable<T> callable, BiConsumer<T, Throwable> handler) {}

        @Override
        public <T> void callAsync(
                Callable<T> callable, BiConsumer<T, Throwable> handler, long initialDelay, long period) {}

        @Override
        public void runInCoordinatorThread(Runnable runnable) {
            runnable.run();
        }
    }

    private static Shard shard(String id, String parent, String adjacentParent) {
        return Shard.builder().shardId(id).parentShardId(parent).adjacentParentShardId(adjacentParent).build();
    }

    private static KinesisSourceConfig config(InitialPosition position) {
        KinesisStreamsSource.Builder b = KinesisStreamsSource.builder().setStreamArn(ARN);
        b.setInitialPosition(position);
        return b.build().getConfig();
    }

    @Test
    public void assignsEachShardOnceRoundRobinAndChildrenOnlyAfterParentsFinish() {
        FakeContext ctx = new FakeContext();
        KinesisStreamsSourceEnumerator e =
                new KinesisStreamsSourceEnumerator(ctx, config(InitialPosition.LATEST), KinesisEnumeratorState.empty());
        e.onShardsListed(Collections.singletonList(shard("s0", null, null)), null);
        assertTrue("no readers yet: nothing assigned", ctx.assignedTo.isEmpty());

        ctx.register(0);
        e.addReader(0);
        ctx.register(1);
        e.addReader(1);
        assertEquals(Integer.valueOf(0), ctx.assignedTo.get("s0"));
        assertEquals(KinesisShardSplit.StartType.LATEST, ctx.splits.get("s0").getStartType());

        // Later discovery: s0 was split into s1 + s2, and s3 is a merge of s1 + s2.
        List<Shard> listed = Arrays.asList(
                shard("s0", null, null), shard("s1", "s0", null), shard("s2", "s0", null),
                shard("s3", "s1", "s2"));
        e.onShardsListed(listed, null);
        e.onShardsListed(listed, null);
        assertEquals(Collections.singleton("s0"), ctx.assignedTo.keySet());

        e.handleSourceEvent(0, new SplitsFinishedEvent(Collections.singleton("s0")));
        assertEquals(new HashSet<>(Arrays.asList("s0", "s1", "s2")), ctx.assignedTo.keySet());
        // Round-robin over readers 0 and 1; shards found after the first discovery start at TRIM_HORIZON.
        assertEquals(Integer.valueOf(1), ctx.assignedTo.get("s1"));
        assertEquals(Integer.valueOf(0), ctx.assignedTo.get("s2"));
        assertEquals(KinesisShardSplit.StartType.TRIM_HORIZON, ctx.splits.get("s1").getStartType());

        e.handleSourceEvent(1, new SplitsFinishedEvent(Collections.singleton("s1")));
        assertTrue("s3 waits for both parents", !ctx.assignedTo.containsKey("s3"));
        e.handleSourceEvent(0, new SplitsFinishedEvent(Collections.singleton("s2")));
        assertTrue(ctx.assignedTo.containsKey("s3"));
    }

    @Test
    public void expiredParentDoesNotBlockChild() {
        FakeContext ctx = new FakeContext();
        ctx.register(0);
        KinesisStreamsSourceEnumerator e = new KinesisStreamsSourceEnumerator(
                ctx, config(InitialPosition.TRIM_HORIZON), KinesisEnumeratorState.empty());
        e.onShardsListed(Collections.singletonList(shard("child", "gone", null)), null);
        assertEquals(Collections.singleton("child"), ctx.assignedTo.keySet());
    }

    @Test
    public void splitsBackAreReassignedAndStateRoundTrips() throws Exception {
        FakeContext ctx = new FakeContext();
        ctx.register(0);
        KinesisStreamsSourceEnumerator e = new KinesisStreamsSourceEnumerator(
                ctx, config(InitialPosition.TRIM_HORIZON), KinesisEnumeratorState.empty());
        e.onShardsListed(Arrays.asList(shard("a", null, null), shard("b", null, null)), null);
        KinesisShardSplit b = ctx.splits.get("b");

        e.addSplitsBack(Collections.singletonList(b), 0);
        KinesisEnumeratorState state = e.snapshotState(1L);
        assertEquals(Collections.singleton("a"), state.getAssignedShardIds());
        assertEquals(Collections.singletonList(b), state.getUnassignedSplits());

        KinesisEnumeratorStateSerializer serializer = new KinesisEnumeratorStateSerializer();
        KinesisEnumeratorState restored =
                serializer.deserialize(serializer.getVersion(), serializer.serialize(state));
        assertEquals(state.getAssignedShardIds(), restored.getAssignedShardIds());
        assertEquals(state.getUnassignedSplits(), restored.getUnassignedSplits());
        assertTrue(restored.isInitialDiscoveryDone());

        FakeContext ctx2 = new FakeContext();
        KinesisStreamsSourceEnumerator e2 =
                new KinesisStreamsSourceEnumerator(ctx2, config(InitialPosition.TRIM_HORIZON), restored);
        ctx2.register(0);
        e2.addReader(0);
        assertEquals(Collections.singleton("b"), ctx2.assignedTo.keySet());
        e2.onShardsListed(Arrays.asList(shard("a", null, null), shard("b", null, null)), null);
        assertEquals("no shard assigned twice", Collections.singleton("b"), ctx2.assignedTo.keySet());
    }

    @Test
    public void listShardsFailureIsTolerated() {
        FakeContext ctx = new FakeContext();
        ctx.register(0);
        KinesisStreamsSourceEnumerator e = new KinesisStreamsSourceEnumerator(
                ctx, config(InitialPosition.TRIM_HORIZON), KinesisEnumeratorState.empty());
        e.onShardsListed(null, new RuntimeException("throttled"));
        e.onShardsListed(new ArrayList<>(Collections.singletonList(shard("a", null, null))), null);
        assertEquals(Collections.singleton("a"), ctx.assignedTo.keySet());
    }
}
