package com.iotanomaly.connectors.kinesis;

import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.kinesis.KinesisClient;
import software.amazon.awssdk.services.kinesis.KinesisClientBuilder;

import java.io.Serializable;
import java.net.URI;
import java.time.Duration;
import java.util.Objects;

/** Immutable, serializable settings of a {@link KinesisStreamsSource}; built by its builder. */
public final class KinesisSourceConfig implements Serializable {

    private static final long serialVersionUID = 1L;

    final String streamArn;
    final String region;
    final String endpoint;
    final String accessKeyId;
    final String secretAccessKey;
    final InitialPosition initialPosition;
    final long initialTimestampMillis;
    final long shardDiscoveryIntervalMs;
    final int maxRecordsPerGet;
    final long idleIntervalMs;
    /** Least time between two GetRecords calls on one shard, whatever they return (0: none). */
    final long minGetRecordsIntervalMs;
    /** How long calls may keep failing to reach the endpoint before the job fails. */
    final long maxUnreachableMs;

    KinesisSourceConfig(
            String streamArn,
            String region,
            String endpoint,
            String accessKeyId,
            String secretAccessKey,
            InitialPosition initialPosition,
            long initialTimestampMillis,
            long shardDiscoveryIntervalMs,
            int maxRecordsPerGet,
            long idleIntervalMs,
            long minGetRecordsIntervalMs,
            long maxUnreachableMs) {
        this.streamArn = Objects.requireNonNull(streamArn, "streamArn");
        this.region = region;
        this.endpoint = endpoint;
        this.accessKeyId = accessKeyId;
        this.secretAccessKey = secretAccessKey;
        this.initialPosition = Objects.requireNonNull(initialPosition, "initialPosition");
        this.initialTimestampMillis = initialTimestampMillis;
        this.shardDiscoveryIntervalMs = shardDiscoveryIntervalMs;
        this.maxRecordsPerGet = maxRecordsPerGet;
        this.idleIntervalMs = idleIntervalMs;
        this.minGetRecordsIntervalMs = minGetRecordsIntervalMs;
        this.maxUnreachableMs = maxUnreachableMs;
    }

    public long getMaxUnreachableMs() {
        return maxUnreachableMs;
    }

    /** The endpoint the client talks to, for messages: the override, else the regional AWS one. */
    String endpointForMessages() {
        if (endpoint != null && !endpoint.isEmpty()) {
            return endpoint;
        }
        String region = getRegion();
        return "https://kinesis." + region + (region.startsWith("cn-") ? ".amazonaws.com.cn" : ".amazonaws.com");
    }

    public String getStreamArn() {
        return streamArn;
    }

    /** The region set on the builder, else the one inside the stream ARN. */
    public String getRegion() {
        if (region != null && !region.isEmpty()) {
            return region;
        }
        // arn:aws:kinesis:<region>:<account>:stream/<name>
        String[] parts = streamArn.split(":", 6);
        if (parts.length < 6 || parts[3].isEmpty()) {
            throw new IllegalArgumentException("No region set and none in stream ARN " + streamArn);
        }
        return parts[3];
    }

    /** A new synchronous Kinesis client on the JDK URL-connection HTTP client (no Netty). */
    KinesisClient createClient() {
        AwsCredentialsProvider credentials =
                accessKeyId != null
                        ? StaticCredentialsProvider.create(
                                AwsBasicCredentials.create(accessKeyId, secretAccessKey))
                        : DefaultCredentialsProvider.builder().build();
        KinesisClientBuilder builder =
                KinesisClient.builder()
                        .region(Region.of(getRegion()))
                        .credentialsProvider(credentials)
                        .httpClientBuilder(
                                UrlConnectionHttpClient.builder()
                                        .connectionTimeout(Duration.ofSeconds(10))
                                        .socketTimeout(Duration.ofSeconds(30)));
        if (endpoint != null && !endpoint.isEmpty()) {
            builder.endpointOverride(URI.create(endpoint));
        }
        return builder.build();
    }
}
