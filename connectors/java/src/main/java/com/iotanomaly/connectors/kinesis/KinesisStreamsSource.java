package com.iotanomaly.connectors.kinesis;

import org.apache.flink.api.common.typeinfo.BasicTypeInfo;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.connector.source.Boundedness;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.api.java.typeutils.ResultTypeQueryable;
import org.apache.flink.core.io.SimpleVersionedSerializer;

import java.time.Instant;
import java.util.regex.Pattern;

/**
 * Minimal FLIP-27 Kinesis Data Streams source (polling GetRecords, like the official connector's
 * default reader) for Flink 2.x, written because the official
 * {@code flink-connector-aws-kinesis-streams} 5.x/6.x is not reachable from our Maven mirror. Unbounded.
 * Not supported: enhanced fan-out, KPL de-aggregation.
 *
 * <p><b>Records</b> are emitted as one {@code String} each and no record can fail the reader
 * ({@link RecordText}): if the bytes are valid UTF-8 and the text does not start with U+0000, the
 * string is the decoded text; otherwise it is {@code "\\u0000base64:"} ({@link RecordText#BINARY_PREFIX})
 * followed by the standard base64 (with padding) of the raw bytes. Empty data is {@code ""}. Each
 * record carries its approximate arrival time as timestamp unless a watermark strategy assigns one.
 *
 * <p><b>Event time:</b> pass {@link ReadingWatermarks#strategy} to {@code env.fromSource}: timestamps
 * and watermarks are then generated per shard inside the source, and each reader's watermark is the
 * minimum over its shards.
 *
 * <p><b>Failures:</b> a missing stream, denied access or an invalid ARN fails the job at once and
 * without restarts ({@code SuppressRestartsException} around a {@link KinesisSourceException} whose
 * message starts with {@code "Kinesis source: "}); an unreachable endpoint is retried for
 * {@link Builder#setMaxUnreachableMs} (30 s) first; throttling and 5xx are retried indefinitely.
 *
 * <p><b>Start:</b> LATEST is pinned at the job's first start: the initial shards start AT_TIMESTAMP of
 * that moment, so a restore before any record was read never skips what was written meanwhile.
 *
 * <p>Delivery: with checkpointing, each record is emitted exactly once into Flink state (a restored
 * shard continues AFTER the last emitted sequence number).
 *
 * <pre>{@code
 * KinesisStreamsSource source = KinesisStreamsSource.builder()
 *     .setStreamArn("arn:aws:kinesis:eu-west-1:123456789012:stream/telemetry")
 *     .setInitialPosition(InitialPosition.LATEST)
 *     .build();
 * env.fromSource(source, ReadingWatermarks.strategy(5_000, 60_000, 300_000), "kinesis");
 * }</pre>
 */
public class KinesisStreamsSource
        implements Source<String, KinesisShardSplit, KinesisEnumeratorState>,
                ResultTypeQueryable<String> {

    private static final long serialVersionUID = 1L;

    /** arn:aws[-cn|-us-gov]:kinesis:region:account:stream/name (Kinesis stream-name rules). */
    static final Pattern STREAM_ARN = Pattern.compile(
            "arn:aws(-cn|-us-gov)?:kinesis:[a-z]{2}(-[a-z]+)+-[0-9]+:[0-9]{12}:stream/[a-zA-Z0-9_.-]{1,128}");

    private final KinesisSourceConfig config;

    KinesisStreamsSource(KinesisSourceConfig config) {
        this.config = config;
    }

    public static Builder builder() {
        return new Builder();
    }

    public KinesisSourceConfig getConfig() {
        return config;
    }

    @Override
    public Boundedness getBoundedness() {
        return Boundedness.CONTINUOUS_UNBOUNDED;
    }

    @Override
    public SourceReader<String, KinesisShardSplit> createReader(SourceReaderContext readerContext) {
        return new KinesisStreamsSourceReader(
                () -> new KinesisShardSplitReader(config, readerContext.metricGroup()),
                readerContext.getConfiguration(),
                readerContext);
    }

    @Override
    public SplitEnumerator<KinesisShardSplit, KinesisEnumeratorState> createEnumerator(
            SplitEnumeratorContext<KinesisShardSplit> enumContext) {
        return new KinesisStreamsSourceEnumerator(enumContext, config, KinesisEnumeratorState.empty());
    }

    @Override
    public SplitEnumerator<KinesisShardSplit, KinesisEnumeratorState> restoreEnumerator(
            SplitEnumeratorContext<KinesisShardSplit> enumContext, KinesisEnumeratorState checkpoint) {
        return new KinesisStreamsSourceEnumerator(enumContext, config, checkpoint);
    }

    @Override
    public SimpleVersionedSerializer<KinesisShardSplit> getSplitSerializer() {
        return new KinesisShardSplitSerializer();
    }

    @Override
    public SimpleVersionedSerializer<KinesisEnumeratorState> getEnumeratorCheckpointSerializer() {
        return new KinesisEnumeratorStateSerializer();
    }

    @Override
    public TypeInformation<String> getProducedType() {
        return BasicTypeInfo.STRING_TYPE_INFO;
    }

    /**
     * Builder. Only the stream ARN is required. Option names follow the official connector
     * ({@code stream.arn}, {@code source.init.position}, {@code source.shard.discovery.interval},
     * {@code source.reader.polling.max-records}...) so a later swap is mechanical.
     *
     * <p><b>Local emulator (moto):</b> moto rejects the CBOR wire format the AWS SDK v2 uses for
     * Kinesis by default. Run the JVM with {@code -Daws.cborEnabled=false} (Flink:
     * {@code env.java.opts.all}; or the environment variable {@code CBOR_ENABLED=false}). This source
     * does not set it itself: on AWS, CBOR is the right choice.
     */
    public static final class Builder {
        private String streamArn;
        private String region;
        private String endpoint;
        private String accessKeyId;
        private String secretAccessKey;
        private InitialPosition initialPosition = InitialPosition.LATEST;
        private long initialTimestampMillis = -1L;
        private long shardDiscoveryIntervalMs = 10_000L;
        private int maxRecordsPerGet = 10_000;
        private long idleIntervalMs = 200L;
        private long minGetRecordsIntervalMs = 0L;
        private long maxUnreachableMs = 30_000L;

        private Builder() {}

        /**
         * Required: {@code arn:aws[-cn|-us-gov]:kinesis:<region>:<12-digit account>:stream/<name>};
         * {@link #build()} rejects anything else.
         */
        public Builder setStreamArn(String streamArn) {
            this.streamArn = streamArn;
            return this;
        }

        /** AWS region; defaults to the region inside the stream ARN. */
        public Builder setRegion(String region) {
            this.region = region;
            return this;
        }

        /** Endpoint override, e.g. {@code http://127.0.0.1:5000} for moto. Default: the AWS endpoint. */
        public Builder setEndpoint(String endpoint) {
            this.endpoint = endpoint;
            return this;
        }

        /** Static credentials; without them the SDK's default credentials chain is used. */
        public Builder setStaticCredentials(String accessKeyId, String secretAccessKey) {
            if (accessKeyId == null || secretAccessKey == null) {
                throw new IllegalArgumentException("accessKeyId and secretAccessKey are both required");
            }
            this.accessKeyId = accessKeyId;
            this.secretAccessKey = secretAccessKey;
            return this;
        }

        /** TRIM_HORIZON, LATEST (default); for AT_TIMESTAMP use {@link #setInitialTimestamp}. */
        public Builder setInitialPosition(InitialPosition position) {
            this.initialPosition = position;
            return this;
        }

        /** Same as {@link #setInitialPosition(InitialPosition)} by name (for py4j callers). */
        public Builder setInitialPosition(String position) {
            return setInitialPosition(InitialPosition.valueOf(position.trim().toUpperCase()));
        }

        /** Start at AT_TIMESTAMP with this epoch-millisecond timestamp. */
        public Builder setInitialTimestamp(long epochMillis) {
            this.initialPosition = InitialPosition.AT_TIMESTAMP;
            this.initialTimestampMillis = epochMillis;
            return this;
        }

        /** How often ListShards looks for new shards (default 10,000 ms). */
        public Builder setShardDiscoveryIntervalMs(long intervalMs) {
            this.shardDiscoveryIntervalMs = intervalMs;
            return this;
        }

        /** GetRecords {@code Limit} (default and maximum 10,000). */
        public Builder setMaxRecordsPerGet(int maxRecords) {
            this.maxRecordsPerGet = maxRecords;
            return this;
        }

        /** Pause before polling a shard again after it returned no records (default 200 ms). */
        public Builder setIdleIntervalMs(long idleIntervalMs) {
            this.idleIntervalMs = idleIntervalMs;
            return this;
        }

        /**
         * Least time between two GetRecords calls on one shard, also when the last call returned records
         * (default 0: a shard with a backlog is read again at once). A shard allows 5 GetRecords per
         * second over all its consumers (the job, Firehose, Studio): 250 ms leaves one call per second
         * to each of one other consumer and the spare, 334 ms to two.
         */
        public Builder setMinGetRecordsIntervalMs(long minGetRecordsIntervalMs) {
            this.minGetRecordsIntervalMs = minGetRecordsIntervalMs;
            return this;
        }

        /**
         * How long Kinesis calls may keep failing to reach the endpoint (connection refused, unknown
         * host, timeouts) before the job fails without restarts (default 30,000 ms). A successful call
         * resets it. Throttling and 5xx answers are retried indefinitely and do not count.
         */
        public Builder setMaxUnreachableMs(long maxUnreachableMs) {
            this.maxUnreachableMs = maxUnreachableMs;
            return this;
        }

        public KinesisStreamsSource build() {
            if (streamArn == null || !STREAM_ARN.matcher(streamArn).matches()) {
                throw new IllegalArgumentException("Kinesis source: invalid stream ARN " + streamArn
                        + " (expected arn:aws[-cn|-us-gov]:kinesis:<region>:<12-digit account>:stream/<name>)");
            }
            if (initialPosition == InitialPosition.AT_TIMESTAMP && initialTimestampMillis < 0) {
                throw new IllegalArgumentException("AT_TIMESTAMP needs setInitialTimestamp(epochMillis)");
            }
            if (shardDiscoveryIntervalMs <= 0) {
                throw new IllegalArgumentException("shardDiscoveryIntervalMs must be > 0");
            }
            if (maxRecordsPerGet < 1 || maxRecordsPerGet > 10_000) {
                throw new IllegalArgumentException("maxRecordsPerGet must be in 1..10000");
            }
            if (idleIntervalMs < 0) {
                throw new IllegalArgumentException("idleIntervalMs must be >= 0");
            }
            if (minGetRecordsIntervalMs < 0) {
                throw new IllegalArgumentException("minGetRecordsIntervalMs must be >= 0");
            }
            if (maxUnreachableMs <= 0) {
                throw new IllegalArgumentException("maxUnreachableMs must be > 0");
            }
            KinesisSourceConfig config = new KinesisSourceConfig(
                    streamArn, region, endpoint, accessKeyId, secretAccessKey, initialPosition,
                    initialTimestampMillis, shardDiscoveryIntervalMs, maxRecordsPerGet, idleIntervalMs,
                    minGetRecordsIntervalMs, maxUnreachableMs);
            config.getRegion(); // fail fast when no region can be derived
            return new KinesisStreamsSource(config);
        }

        /** For logs: the configured start time, if any. */
        @Override
        public String toString() {
            return "KinesisStreamsSource.Builder{" + streamArn + ", " + initialPosition
                    + (initialTimestampMillis >= 0 ? "@" + Instant.ofEpochMilli(initialTimestampMillis) : "")
                    + "}";
        }
    }
}
