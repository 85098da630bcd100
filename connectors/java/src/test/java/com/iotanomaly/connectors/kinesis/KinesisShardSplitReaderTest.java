package com.iotanomaly.connectors.kinesis;

import org.apache.flink.connector.base.source.reader.RecordsWithSplitIds;
import org.apache.flink.connector.base.source.reader.splitreader.SplitsAddition;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.Metric;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;

import org.junit.Test;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.kinesis.KinesisClient;
import software.amazon.awssdk.services.kinesis.model.GetRecordsRequest;
import software.amazon.awssdk.services.kinesis.model.GetRecordsResponse;
import software.amazon.awssdk.services.kinesis.model.GetShardIteratorRequest;
import software.amazon.awssdk.services.kinesis.model.GetShardIteratorResponse;
import software.amazon.awssdk.services.kinesis.model.ProvisionedThroughputExceededException;
import software.amazon.awssdk.services.kinesis.model.Record;
import software.amazon.awssdk.services.kinesis.model.ShardIteratorType;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

public class KinesisShardSplitReaderTest {

    private static final String ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/s";

    /** One shard holding records "r1".."r3" (sequence numbers 1..3), closed after them. */
    static final class FakeKinesis implements KinesisClient {
        final List<GetShardIteratorRequest> iteratorRequests = new ArrayList<>();
        int throttleNext = 1;

        @Override
        public GetShardIteratorResponse getShardIterator(GetShardIteratorRequest request) {
            iteratorRequests.add(request);
            String after = request.shardIteratorType() == ShardIteratorType.AFTER_SEQUENCE_NUMBER
                    ? request.startingSequenceNumber()
                    : "0";
            return GetShardIteratorResponse.builder().shardIterator(after).build();
        }

        @Override
        public GetRecordsResponse getRecords(GetRecordsRequest request) {
            if (throttleNext > 0) {
                throttleNext--;
                throw ProvisionedThroughputExceededException.builder().message("slow down").build();
            }
            int after = Integer.parseInt(request.shardIterator());
            List<Record> records = new ArrayList<>();
            for (int seq = after + 1; seq <= 3 && records.size() < request.limit(); seq++) {
                records.add(Record.builder()
                        .sequenceNumber(Integer.toString(seq))
                        .data(SdkBytes.fromUtf8String("r" + seq))
                        .partitionKey("k")
                        .build());
            }
            int last = after + records.size();
            return GetRecordsResponse.builder()
                    .records(records)
                    .millisBehindLatest(0L)
                    .nextShardIterator(last >= 3 ? null : Integer.toString(last))
                    .build();
        }

        @Override
        public String serviceName() {
            return "kinesis";
        }

        @Override
        public void close() {}
    }

    private static KinesisSourceConfig config() {
        return KinesisStreamsSource.builder().setStreamArn(ARN).setMaxRecordsPerGet(2).setIdleIntervalMs(10)
                .build().getConfig();
    }

    @Test
    public void backsOffOnThrottlingReadsInOrderAndFinishesAtShardEnd() throws Exception {
        FakeKinesis kinesis = new FakeKinesis();
        KinesisShardSplitReader reader = new KinesisShardSplitReader(config(), kinesis, null);
        reader.handleSplitsChanges(new SplitsAddition<>(Collections.singletonList(new KinesisShardSplit(
                ARN, "s0", KinesisShardSplit.StartType.TRIM_HORIZON, null, 0L, null, false))));

        List<String> data = new ArrayList<>();
        boolean finished = false;
        long deadline = System.currentTimeMillis() + 5_000;
        while (!finished && System.currentTimeMillis() < deadline) {
            RecordsWithSplitIds<Record> batch = reader.fetch();
            String split;
            while ((split = batch.nextSplit()) != null) {
                assertEquals("s0", split);
                Record r;
                while ((r = batch.nextRecordFromSplit()) != null) {
                    data.add(r.data().asUtf8String());
                }
            }
            finished = batch.finishedSplits().contains("s0");
        }
        assertTrue("shard must finish at SHARD_END", finished);
        assertEquals(List.of("r1", "r2", "r3"), data);
        assertEquals(0, kinesis.throttleNext);
    }

    @Test
    public void aShardWithABacklogIsNotPolledMoreOftenThanTheMinimumInterval() throws Exception {
        FakeKinesis kinesis = new FakeKinesis();
        kinesis.throttleNext = 0;
        KinesisSourceConfig config = KinesisStreamsSource.builder().setStreamArn(ARN).setMaxRecordsPerGet(1)
                .setIdleIntervalMs(10).setMinGetRecordsIntervalMs(300).build().getConfig();
        KinesisShardSplitReader reader = new KinesisShardSplitReader(config, kinesis, null);
        reader.handleSplitsChanges(new SplitsAddition<>(Collections.singletonList(new KinesisShardSplit(
                ARN, "s0", KinesisShardSplit.StartType.TRIM_HORIZON, null, 0L, null, false))));
        // three records, one per call: the second and third calls must each wait 300 ms
        long start = System.currentTimeMillis();
        int records = 0;
        boolean finished = false;
        while (!finished && System.currentTimeMillis() - start < 5_000) {
            RecordsWithSplitIds<Record> batch = reader.fetch();
            while (batch.nextSplit() != null) {
                while (batch.nextRecordFromSplit() != null) {
                    records++;
                }
            }
            finished = batch.finishedSplits().contains("s0");
        }
        assertEquals(3, records);
        assertTrue("3 calls 300 ms apart take >= 600 ms", System.currentTimeMillis() - start >= 600);
    }

    @Test
    public void aNegativeMinimumIntervalIsRejected() {
        try {
            KinesisStreamsSource.builder().setStreamArn(ARN).setMinGetRecordsIntervalMs(-1).build();
            org.junit.Assert.fail("expected IllegalArgumentException");
        } catch (IllegalArgumentException expected) {
            assertTrue(expected.getMessage().contains("minGetRecordsIntervalMs"));
        }
    }

    @Test
    public void restoredSplitResumesAfterLastEmittedSequenceNumber() throws Exception {
        FakeKinesis kinesis = new FakeKinesis();
        kinesis.throttleNext = 0;
        KinesisShardSplit restored = new KinesisShardSplit(
                ARN, "s0", KinesisShardSplit.StartType.TRIM_HORIZON, null, 0L, null, false).resumeAfter("2");
        KinesisShardSplitSerializer serializer = new KinesisShardSplitSerializer();
        restored = serializer.deserialize(serializer.getVersion(), serializer.serialize(restored));

        KinesisShardSplitReader reader = new KinesisShardSplitReader(config(), kinesis, null);
        reader.handleSplitsChanges(new SplitsAddition<>(Collections.singletonList(restored)));
        RecordsWithSplitIds<Record> batch = reader.fetch();
        assertEquals("s0", batch.nextSplit());
        assertEquals("r3", batch.nextRecordFromSplit().data().asUtf8String());
        assertEquals(null, batch.nextRecordFromSplit());
        assertEquals(ShardIteratorType.AFTER_SEQUENCE_NUMBER, kinesis.iteratorRequests.get(0).shardIteratorType());
        assertEquals("2", kinesis.iteratorRequests.get(0).startingSequenceNumber());
    }

    @Test
    public void pinnedLatestSplitStartsAtItsTimestamp() throws Exception {
        FakeKinesis kinesis = new FakeKinesis();
        kinesis.throttleNext = 0;
        KinesisShardSplit pinned = new KinesisShardSplit(
                ARN, "s0", KinesisShardSplit.StartType.AT_TIMESTAMP, null, 1_796_119_200_000L, null, false);
        KinesisShardSplitReader reader = new KinesisShardSplitReader(config(), kinesis, null);
        reader.handleSplitsChanges(new SplitsAddition<>(Collections.singletonList(pinned)));
        reader.fetch();
        assertEquals(ShardIteratorType.AT_TIMESTAMP, kinesis.iteratorRequests.get(0).shardIteratorType());
        assertEquals(1_796_119_200_000L, kinesis.iteratorRequests.get(0).timestamp().toEpochMilli());
    }

    @Test
    public void emitterNeverFailsOnBinaryData() {
        KinesisStreamsSourceReader.Emitter emitter = new KinesisStreamsSourceReader.Emitter();
        KinesisShardSplitState state = new KinesisShardSplitState(new KinesisShardSplit(
                ARN, "s0", KinesisShardSplit.StartType.TRIM_HORIZON, null, 0L, null, false));
        List<String> out = new ArrayList<>();
        org.apache.flink.api.connector.source.SourceOutput<String> output =
                new org.apache.flink.api.connector.source.SourceOutput<String>() {
                    @Override
                    public void collect(String record) {
                        out.add(record);
                    }

                    @Override
                    public void collect(String record, long timestamp) {
                        out.add(record);
                    }

                    @Override
                    public void emitWatermark(org.apache.flink.api.common.eventtime.Watermark watermark) {}

                    @Override
                    public void markIdle() {}

                    @Override
                    public void markActive() {}
                };
        emitter.emitRecord(Record.builder().sequenceNumber("1").partitionKey("k")
                .data(SdkBytes.fromByteArray(new byte[] {(byte) 0xff, 0x00})).build(), output, state);
        emitter.emitRecord(Record.builder().sequenceNumber("2").partitionKey("k")
                .data(SdkBytes.fromByteArray(new byte[0])).build(), output, state);
        emitter.emitRecord(Record.builder().sequenceNumber("3").partitionKey("k")
                .data(SdkBytes.fromUtf8String("{\"ts\":1}")).build(), output, state);
        assertEquals(List.of(RecordText.BINARY_PREFIX + "/wA=", "", "{\"ts\":1}"), out);
        assertEquals("3", state.getLastEmittedSequenceNumber());
    }

    /** Records every metric under its group path ("a.b.name"). */
    static final class RecordingGroup extends UnregisteredMetricsGroup {
        final Map<String, Metric> metrics;
        final String path;

        RecordingGroup(Map<String, Metric> metrics, String path) {
            this.metrics = metrics;
            this.path = path;
        }

        @Override
        public MetricGroup addGroup(String name) {
            return new RecordingGroup(metrics, path + name + ".");
        }

        @Override
        public MetricGroup addGroup(String key, String value) {
            return new RecordingGroup(metrics, path + key + "=" + value + ".");
        }

        @Override
        public <T, G extends Gauge<T>> G gauge(String name, G gauge) {
            metrics.put(path + name, gauge);
            return gauge;
        }
    }

    @Test
    public void millisBehindLatestIsAGaugePerShardAlsoUnderTheGroupMsfPublishes() throws Exception {
        FakeKinesis kinesis = new FakeKinesis();
        kinesis.throttleNext = 0;
        Map<String, Metric> metrics = new TreeMap<>();
        KinesisShardSplitReader reader = new KinesisShardSplitReader(config(), kinesis, new RecordingGroup(metrics, ""));
        reader.handleSplitsChanges(new SplitsAddition<>(Collections.singletonList(new KinesisShardSplit(
                ARN, "s0", KinesisShardSplit.StartType.TRIM_HORIZON, null, 0L, null, false))));
        assertEquals(List.of("kinesisanalytics.shardId=s0.millisBehindLatest", "shardId=s0.millisBehindLatest"),
                new ArrayList<>(metrics.keySet()));
        assertEquals(-1L, ((Gauge<?>) metrics.get("shardId=s0.millisBehindLatest")).getValue());
        reader.fetch();  // the fake answers millisBehindLatest = 0
        for (Metric m : metrics.values()) {
            assertEquals(0L, ((Gauge<?>) m).getValue());
        }
    }
}
