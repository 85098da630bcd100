package com.iotanomaly.connectors.kinesis;

/**
 * A failure of the Kinesis source that retrying cannot fix (missing stream, denied access, invalid
 * ARN, endpoint unreachable for longer than the configured budget). Its message is one readable line
 * starting with {@code "Kinesis source: "}. The source throws it wrapped in Flink's
 * {@code SuppressRestartsException}, so the job fails at once instead of restarting forever.
 */
public class KinesisSourceException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public KinesisSourceException(String message, Throwable cause) {
        super(message, cause);
    }
}
