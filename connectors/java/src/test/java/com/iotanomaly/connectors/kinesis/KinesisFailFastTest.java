package com.iotanomaly.connectors.kinesis;

import org.apache.flink.connector.base.source.reader.RecordsWithSplitIds;
import org.apache.flink.connector.base.source.reader.splitreader.SplitsAddition;
import org.apache.flink.runtime.execution.SuppressRestartsException;
import org.apache.flink.runtime.throwable.ThrowableClassifier;
import org.apache.flink.runtime.throwable.ThrowableType;

import org.junit.Test;
import software.amazon.awssdk.awscore.exception.AwsErrorDetails;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.services.kinesis.KinesisClient;
import software.amazon.awssdk.services.kinesis.model.AccessDeniedException;
import software.amazon.awssdk.services.kinesis.model.DescribeStreamSummaryRequest;
import software.amazon.awssdk.services.kinesis.model.DescribeStreamSummaryResponse;
import software.amazon.awssdk.services.kinesis.model.GetRecordsRequest;
import software.amazon.awssdk.services.kinesis.model.GetRecordsResponse;
import software.amazon.awssdk.services.kinesis.model.GetShardIteratorRequest;
import software.amazon.awssdk.services.kinesis.model.GetShardIteratorResponse;
import software.amazon.awssdk.services.kinesis.model.KinesisException;
import software.amazon.awssdk.services.kinesis.model.LimitExceededException;
import software.amazon.awssdk.services.kinesis.model.ListShardsRequest;
import software.amazon.awssdk.services.kinesis.model.ListShardsResponse;
import software.amazon.awssdk.services.kinesis.model.ProvisionedThroughputExceededException;
import software.amazon.awssdk.services.kinesis.model.Record;
import software.amazon.awssdk.services.kinesis.model.ResourceNotFoundException;
import software.amazon.awssdk.services.kinesis.model.Shard;

import java.net.ConnectException;
import java.net.UnknownHostException;
import java.util.ArrayDeque;
import java.util.Collections;
import java.util.Deque;
import java.util.List;
import java.util.function.Supplier;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

public class KinesisFailFastTest {

    private static final String ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/s";

    private static AwsServiceException service(String code, int status) {
        return KinesisException.builder().message(code + " boom").statusCode(status)
                .awsErrorDetails(AwsErrorDetails.builder().errorCode(code).errorMessage("details of " + code)
                        .build())
                .build();
    }

    private static SdkClientException refused() {
        return SdkClientException.builder().message("Unable to execute HTTP request: Connection refused")
                .cause(new ConnectException("Connection refused")).build();
    }

    private static KinesisSourceConfig config(long maxUnreachableMs) {
        return KinesisStreamsSource.builder().setStreamArn(ARN).setEndpoint("http://127.0.0.1:1")
                .setIdleIntervalMs(10).setMaxUnreachableMs(maxUnreachableMs).build().getConfig();
    }

    /** Answers each call with the next scripted outcome (exception or null = success). */
    static final class ScriptedKinesis implements KinesisClient {
        final Deque<RuntimeException> failures = new ArrayDeque<>();
        RuntimeException always;
        boolean streamExists = true;
        int calls;

        private void maybeFail() {
            calls++;
            if (always != null) {
                throw always;
            }
            RuntimeException next = failures.poll();
            if (next != null) {
                throw next;
            }
        }

        @Override
        public ListShardsResponse listShards(ListShardsRequest request) {
            maybeFail();
            return ListShardsResponse.builder().shards(Shard.builder().shardId("s0").build()).build();
        }

        @Override
        public DescribeStreamSummaryResponse describeStreamSummary(DescribeStreamSummaryRequest request) {
            if (!streamExists) {
                throw ResourceNotFoundException.builder().message("Stream s not found").build();
            }
            maybeFail();
            return DescribeStreamSummaryResponse.builder().build();
        }

        @Override
        public GetShardIteratorResponse getShardIterator(GetShardIteratorRequest request) {
            maybeFail();
            return GetShardIteratorResponse.builder().shardIterator("it").build();
        }

        @Override
        public GetRecordsResponse getRecords(GetRecordsRequest request) {
            maybeFail();
            return GetRecordsResponse.builder().records(Collections.emptyList()).nextShardIterator("it")
                    .millisBehindLatest(0L).build();
        }

        @Override
        public String serviceName() {
            return "kinesis";
        }

        @Override
        public void close() {}
    }

    private static KinesisSourceException assertFatal(Throwable t) {
        assertTrue("expected SuppressRestartsException, got " + t, t instanceof SuppressRestartsException);
        // Flink's scheduler looks for this classification anywhere in the cause chain.
        assertTrue(ThrowableClassifier.findThrowableOfThrowableType(
                new RuntimeException("wrapped by the fetcher", t), ThrowableType.NonRecoverableError).isPresent());
        KinesisSourceException e = KinesisErrors.findSourceException(t);
        assertNotNull(e);
        assertTrue(e.getMessage(), e.getMessage().startsWith("Kinesis source: "));
        assertFalse("one line", e.getMessage().contains("\n"));
        return e;
    }

    @Test
    public void classification() {
        assertEquals(KinesisErrors.Kind.FATAL, KinesisErrors.classify(
                ResourceNotFoundException.builder().message("x").build()));
        assertEquals(KinesisErrors.Kind.FATAL, KinesisErrors.classify(
                AccessDeniedException.builder().message("x").statusCode(400).build()));
        for (String code : new String[] {"UnrecognizedClientException", "InvalidSignatureException",
                "ExpiredTokenException", "AccessDeniedException", "InvalidArgumentException"}) {
            assertEquals(code, KinesisErrors.Kind.FATAL, KinesisErrors.classify(service(code, 400)));
        }
        assertEquals(KinesisErrors.Kind.FATAL, KinesisErrors.classify(service("Whatever", 403)));
        for (String code : new String[] {"ProvisionedThroughputExceededException", "LimitExceededException",
                "KMSThrottlingException", "ThrottlingException"}) {
            assertEquals(code, KinesisErrors.Kind.RETRYABLE, KinesisErrors.classify(service(code, 400)));
        }
        assertEquals(KinesisErrors.Kind.RETRYABLE, KinesisErrors.classify(service("InternalFailure", 500)));
        assertEquals(KinesisErrors.Kind.RETRYABLE, KinesisErrors.classify(service("ServiceUnavailable", 503)));
        assertEquals(KinesisErrors.Kind.UNREACHABLE, KinesisErrors.classify(refused()));
        assertEquals(KinesisErrors.Kind.UNREACHABLE, KinesisErrors.classify(SdkClientException.builder()
                .message("Unable to execute HTTP request").cause(new UnknownHostException("nowhere")).build()));

        String missing = KinesisErrors.fatalMessage(
                ResourceNotFoundException.builder().message("x").build(), ARN);
        assertTrue(missing, missing.startsWith("Kinesis source: stream " + ARN + " does not exist (ResourceNotFoundException"));
        assertEquals("Kinesis source: endpoint http://127.0.0.1:1 unreachable for 30 s: Connection refused",
                KinesisErrors.unreachableMessage(refused(), "http://127.0.0.1:1", 30_000L));
    }

    @Test
    public void backoffHasFullJitterUpToTenSeconds() {
        for (int attempt = 0; attempt < 40; attempt++) {
            long ceiling = Math.min(10_000L, 100L << Math.min(attempt, 20));
            for (int i = 0; i < 50; i++) {
                long d = KinesisErrors.backoffMs(attempt);
                assertTrue(d >= 0 && d <= ceiling);
            }
        }
    }

    private static KinesisShardSplitReader readerWithOneShard(ScriptedKinesis kinesis, long maxUnreachableMs) {
        KinesisShardSplitReader reader = new KinesisShardSplitReader(config(maxUnreachableMs), kinesis, null);
        reader.handleSplitsChanges(new SplitsAddition<>(Collections.singletonList(new KinesisShardSplit(
                ARN, "s0", KinesisShardSplit.StartType.TRIM_HORIZON, null, 0L, null, false))));
        return reader;
    }

    @Test
    public void readerFailsAtOnceOnAccessDenied() {
        ScriptedKinesis kinesis = new ScriptedKinesis();
        kinesis.failures.add(service("AccessDeniedException", 400));
        KinesisShardSplitReader reader = readerWithOneShard(kinesis, 30_000L);
        try {
            reader.fetch();
            fail("must throw");
        } catch (RuntimeException e) {
            KinesisSourceException k = assertFatal(e);
            assertTrue(k.getMessage(), k.getMessage().contains(ARN) && k.getMessage().contains("AccessDeniedException"));
        }
        assertEquals(1, kinesis.calls);
    }

    @Test
    public void readerFailsWhenStreamIsGoneButFinishesAGoneShard() throws Exception {
        ScriptedKinesis kinesis = new ScriptedKinesis();
        kinesis.failures.add(ResourceNotFoundException.builder().message("Shard s0 not found").build());
        KinesisShardSplitReader reader = readerWithOneShard(kinesis, 30_000L);
        RecordsWithSplitIds<Record> batch = reader.fetch();
        assertEquals(Collections.singleton("s0"), batch.finishedSplits());

        ScriptedKinesis gone = new ScriptedKinesis();
        gone.streamExists = false;
        gone.failures.add(ResourceNotFoundException.builder().message("Stream s not found").build());
        KinesisShardSplitReader reader2 = readerWithOneShard(gone, 30_000L);
        try {
            reader2.fetch();
            fail("must throw");
        } catch (RuntimeException e) {
            assertTrue(assertFatal(e).getMessage().contains("does not exist"));
        }
    }

    @Test
    public void readerRetriesUnreachableForTheBudgetOnlyAndSuccessResetsIt() {
        ScriptedKinesis kinesis = new ScriptedKinesis();
        for (int i = 0; i < 3; i++) {
            kinesis.failures.add(refused());
        }
        KinesisShardSplitReader reader = readerWithOneShard(kinesis, 60_000L);
        long deadline = System.currentTimeMillis() + 10_000L;
        while (kinesis.calls < 5 && System.currentTimeMillis() < deadline) {
            reader.fetch(); // refused 3 times, then succeeds: no exception
        }
        assertTrue(kinesis.calls >= 5);

        kinesis.always = refused();
        long start = System.currentTimeMillis();
        KinesisShardSplitReader budgeted = readerWithOneShard(kinesis, 700L);
        try {
            while (System.currentTimeMillis() < start + 10_000L) {
                budgeted.fetch();
            }
            fail("must give up after the budget");
        } catch (RuntimeException e) {
            long elapsed = System.currentTimeMillis() - start;
            assertTrue("not before the budget: " + elapsed, elapsed >= 700L);
            assertEquals("Kinesis source: endpoint http://127.0.0.1:1 unreachable for 0.7 s: Connection refused",
                    assertFatal(e).getMessage());
        }
    }

    @Test
    public void readerRetriesThrottlingIndefinitely() {
        ScriptedKinesis kinesis = new ScriptedKinesis();
        kinesis.always = ProvisionedThroughputExceededException.builder().message("slow down").statusCode(400).build();
        KinesisShardSplitReader reader = readerWithOneShard(kinesis, 100L);
        long end = System.currentTimeMillis() + 1_500L;
        while (System.currentTimeMillis() < end) {
            reader.fetch(); // never throws, even far beyond the unreachable budget
        }
        assertTrue(kinesis.calls > 3);
    }

    private static KinesisStreamsSourceEnumerator enumerator(ScriptedKinesis kinesis, long maxUnreachableMs) {
        KinesisStreamsSourceEnumeratorTest.FakeContext ctx = new KinesisStreamsSourceEnumeratorTest.FakeContext();
        ctx.register(0);
        Supplier<KinesisClient> factory = () -> kinesis;
        return new KinesisStreamsSourceEnumerator(
                ctx, config(maxUnreachableMs), KinesisEnumeratorState.empty(), factory);
    }

    @Test
    public void enumeratorFailsAtOnceOnMissingStreamAndRethrowsFromItsCallback() throws Exception {
        ScriptedKinesis kinesis = new ScriptedKinesis();
        kinesis.streamExists = false;
        KinesisStreamsSourceEnumerator e = enumerator(kinesis, 30_000L);
        Throwable error = null;
        try {
            e.discoverShards();
        } catch (RuntimeException ex) {
            error = ex;
        }
        assertNotNull("DescribeStreamSummary at start must detect the missing stream", error);
        assertTrue(assertFatal(error).getMessage().contains("does not exist"));
        try {
            e.onShardsListed(null, error);
            fail("the callback must rethrow so the coordinator fails the job");
        } catch (RuntimeException ex) {
            assertFatal(ex);
        }
        e.onShardsListed(null, error); // once failed, later callbacks stay quiet
    }

    @Test
    public void enumeratorRetriesThrottlingAndUnreachableWithinBudget() throws Exception {
        ScriptedKinesis kinesis = new ScriptedKinesis();
        kinesis.failures.add(LimitExceededException.builder().message("slow").statusCode(400).build());
        kinesis.failures.add(refused());
        kinesis.failures.add(service("InternalFailure", 500));
        List<Shard> shards = enumerator(kinesis, 30_000L).discoverShards();
        assertEquals("s0", shards.get(0).shardId());

        ScriptedKinesis down = new ScriptedKinesis();
        down.always = refused();
        long start = System.currentTimeMillis();
        try {
            enumerator(down, 500L).discoverShards();
            fail("must give up");
        } catch (RuntimeException ex) {
            assertTrue(System.currentTimeMillis() - start >= 500L);
            assertEquals("Kinesis source: endpoint http://127.0.0.1:1 unreachable for 0.5 s: Connection refused",
                    assertFatal(ex).getMessage());
        }
    }

    @Test
    public void builderRejectsInvalidArns() {
        String[] bad = {"arn:aws:kinesis:us-east-1:123:stream/x", "arn:aws:s3:::bucket",
                "arn:aws:kinesis:us-east-1:123456789012:stream/", "telemetry", "arn:aws:kinesis:us-east-1:123456789012:table/x",
                "arn:aws:kinesis:us-east-1:123456789012:stream/a b", null};
        for (String arn : bad) {
            try {
                KinesisStreamsSource.builder().setStreamArn(arn).build();
                fail("accepted " + arn);
            } catch (IllegalArgumentException e) {
                assertTrue(e.getMessage(), e.getMessage().startsWith("Kinesis source: invalid stream ARN"));
            }
        }
        for (String arn : new String[] {ARN, "arn:aws-cn:kinesis:cn-north-1:123456789012:stream/a.b-c_d",
                "arn:aws-us-gov:kinesis:us-gov-west-1:123456789012:stream/x"}) {
            assertEquals(arn, KinesisStreamsSource.builder().setStreamArn(arn).build().getConfig().getStreamArn());
        }
    }

    @Test
    public void atTimestampAheadOfTheServiceClockIsRetriedNotFatal() {
        ScriptedKinesis kinesis = new ScriptedKinesis();
        kinesis.failures.add(service("InvalidArgumentException", 400)); // "timestamp > current time"
        KinesisShardSplitReader reader = new KinesisShardSplitReader(config(30_000L), kinesis, null);
        reader.handleSplitsChanges(new SplitsAddition<>(Collections.singletonList(new KinesisShardSplit(
                ARN, "s0", KinesisShardSplit.StartType.AT_TIMESTAMP, null, System.currentTimeMillis() + 50L,
                null, false))));
        long deadline = System.currentTimeMillis() + 5_000L;
        while (kinesis.calls < 3 && System.currentTimeMillis() < deadline) {
            reader.fetch(); // no exception: retried, then GetShardIterator + GetRecords succeed
        }
        assertTrue(kinesis.calls >= 3);

        // The same answer to an old AT_TIMESTAMP (or any other request) stays fatal.
        ScriptedKinesis old = new ScriptedKinesis();
        old.failures.add(service("InvalidArgumentException", 400));
        KinesisShardSplitReader reader2 = new KinesisShardSplitReader(config(30_000L), old, null);
        reader2.handleSplitsChanges(new SplitsAddition<>(Collections.singletonList(new KinesisShardSplit(
                ARN, "s0", KinesisShardSplit.StartType.AT_TIMESTAMP, null, 1_000_000_000_000L, null, false))));
        try {
            reader2.fetch();
            fail("must throw");
        } catch (RuntimeException e) {
            assertTrue(assertFatal(e).getMessage().contains("InvalidArgumentException"));
        }
    }
}
