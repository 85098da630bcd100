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
        // LATEST is pinned to the first start: AT_TIMESTAMP of that moment.
        assertEquals(KinesisShardSplit.StartType.AT_TIMESTAMP, ctx.splits.get("s0").getStartType());

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

    @Test
    public void latestIsPinnedToTheFirstStartAndSurvivesRestore() throws Exception {
        long before = System.currentTimeMillis();
        FakeContext ctx = new FakeContext();
        ctx.register(0);
        KinesisStreamsSourceEnumerator e = new KinesisStreamsSourceEnumerator(
                ctx, config(InitialPosition.LATEST), KinesisEnumeratorState.empty());
        long after = System.currentTimeMillis();

        // A checkpoint before the first discovery keeps the pinned time.
        KinesisEnumeratorStateSerializer serializer = new KinesisEnumeratorStateSerializer();
        KinesisEnumeratorState early = serializer.deserialize(
                serializer.getVersion(), serializer.serialize(e.snapshotState(1L)));
        long pinned = early.getPinnedStartMillis();
        assertTrue(pinned >= before && pinned <= after);
        assertTrue(!early.isInitialDiscoveryDone());

        Thread.sleep(5);
        FakeContext ctx2 = new FakeContext();
        ctx2.register(0);
        KinesisStreamsSourceEnumerator restored =
                new KinesisStreamsSourceEnumerator(ctx2, config(InitialPosition.LATEST), early);
        restored.onShardsListed(Arrays.asList(shard("a", null, null), shard("b", null, null)), null);
        for (KinesisShardSplit split : ctx2.splits.values()) {
            assertEquals(KinesisShardSplit.StartType.AT_TIMESTAMP, split.getStartType());
            assertEquals("same pinned time after restore, not a new LATEST", pinned,
                    split.getStartingTimestampMillis());
        }

        // Children found later still start at TRIM_HORIZON, after their parent.
        restored.onShardsListed(Arrays.asList(shard("a", null, null), shard("b", null, null),
                shard("c", "a", null)), null);
        assertTrue(!ctx2.assignedTo.containsKey("c"));
        restored.handleSourceEvent(0, new SplitsFinishedEvent(Collections.singleton("a")));
        assertEquals(KinesisShardSplit.StartType.TRIM_HORIZON, ctx2.splits.get("c").getStartType());

        // A quiet shard (nothing emitted) is checkpointed as assigned: AT_TIMESTAMP of the pin.
        KinesisShardSplitState quiet = new KinesisShardSplitState(ctx2.splits.get("b"));
        KinesisShardSplitSerializer splits = new KinesisShardSplitSerializer();
        KinesisShardSplit back = splits.deserialize(splits.getVersion(), splits.serialize(quiet.toSplit()));
        assertEquals(KinesisShardSplit.StartType.AT_TIMESTAMP, back.getStartType());
        assertEquals(pinned, back.getStartingTimestampMillis());

        // Restoring a job whose first discovery is done never pins again.
        KinesisStreamsSourceEnumerator later = new KinesisStreamsSourceEnumerator(
                new FakeContext(), config(InitialPosition.LATEST), restored.snapshotState(2L));
        assertEquals(pinned, later.snapshotState(3L).getPinnedStartMillis());
    }

    @Test
    public void otherPositionsAreNotPinned() {
        for (InitialPosition p : new InitialPosition[] {InitialPosition.TRIM_HORIZON}) {
            KinesisStreamsSourceEnumerator e = new KinesisStreamsSourceEnumerator(
                    new FakeContext(), config(p), KinesisEnumeratorState.empty());
            assertEquals(-1L, e.snapshotState(1L).getPinnedStartMillis());
        }
    }

    /** Bytes exactly as the version-1 serializer wrote them (before the pinned start time). */
    private static byte[] v1Bytes(boolean initialDiscoveryDone, KinesisShardSplit unassigned) throws Exception {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        try (java.io.DataOutputStream out = new java.io.DataOutputStream(bytes)) {
            out.writeInt(1);
            out.writeUTF("a");
            out.writeInt(1);
            out.writeUTF("old");
            out.writeInt(1);
            out.writeUTF(unassigned.getStreamArn());
            out.writeUTF(unassigned.getShardId());
            out.writeUTF(unassigned.getStartType().name());
            out.writeBoolean(false);
            out.writeLong(unassigned.getStartingTimestampMillis());
            out.writeInt(0);
            out.writeBoolean(false);
            out.writeBoolean(initialDiscoveryDone);
        }
        return bytes.toByteArray();
    }

    @Test
    public void readsVersionOneEnumeratorState() throws Exception {
        KinesisShardSplit b = new KinesisShardSplit(
                ARN, "b", KinesisShardSplit.StartType.LATEST, null, 0L, null, false);
        KinesisEnumeratorStateSerializer serializer = new KinesisEnumeratorStateSerializer();
        assertEquals(2, serializer.getVersion());
        KinesisEnumeratorState old = serializer.deserialize(1, v1Bytes(true, b));
        assertEquals(Collections.singleton("a"), old.getAssignedShardIds());
        assertEquals(Collections.singleton("old"), old.getFinishedShardIds());
        assertEquals(Collections.singletonList(b), old.getUnassignedSplits());
        assertTrue(old.isInitialDiscoveryDone());
        assertEquals(-1L, old.getPinnedStartMillis());

        // An old state restored after the first discovery keeps its splits as they were.
        FakeContext ctx = new FakeContext();
        ctx.register(0);
        KinesisStreamsSourceEnumerator e =
                new KinesisStreamsSourceEnumerator(ctx, config(InitialPosition.LATEST), old);
        e.addReader(0);
        assertEquals(KinesisShardSplit.StartType.LATEST, ctx.splits.get("b").getStartType());

        // An old state from before the first discovery pins LATEST at restore (best possible).
        KinesisEnumeratorState fresh = serializer.deserialize(1, v1Bytes(false, b));
        long before = System.currentTimeMillis();
        long pinned = new KinesisStreamsSourceEnumerator(new FakeContext(), config(InitialPosition.LATEST), fresh)
                .snapshotState(1L).getPinnedStartMillis();
        assertTrue(pinned >= before);
    }
}
