package com.iotanomaly.connectors.kinesis;

import org.apache.flink.runtime.execution.SuppressRestartsException;

import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.services.kinesis.model.ResourceNotFoundException;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * What to do about a failed Kinesis call, shared by the split reader and the enumerator.
 *
 * <ul>
 *   <li>{@link Kind#FATAL}: retrying cannot fix it (stream missing, authentication/authorization,
 *       invalid ARN or argument): fail the job at once, without restarts.
 *   <li>{@link Kind#UNREACHABLE}: the client could not complete the call (connection refused,
 *       unknown host, timeouts, no credentials): retry within a bounded time budget, then fail as
 *       above.
 *   <li>{@link Kind#RETRYABLE}: throttling, 5xx and anything else the service answered: retry with
 *       backoff, indefinitely.
 * </ul>
 */
final class KinesisErrors {

    enum Kind {
        FATAL,
        UNREACHABLE,
        RETRYABLE
    }

    static final long MIN_BACKOFF_MS = 100L;
    static final long MAX_BACKOFF_MS = 10_000L;

    /** Service error codes that no retry can fix. */
    private static final Set<String> FATAL_CODES = new HashSet<>(Arrays.asList(
            "ResourceNotFoundException",
            "AccessDeniedException",
            "AccessDenied",
            "KMSAccessDeniedException",
            "UnrecognizedClientException",
            "InvalidSignatureException",
            "SignatureDoesNotMatch",
            "IncompleteSignature",
            "IncompleteSignatureException",
            "ExpiredTokenException",
            "ExpiredToken",
            "InvalidClientTokenId",
            "InvalidAccessKeyId",
            "MissingAuthenticationToken",
            "MissingAuthenticationTokenException",
            "NotAuthorized",
            "AuthFailure",
            "InvalidArgumentException",
            "ValidationException"));

    private KinesisErrors() {}

    static Kind classify(Throwable error) {
        if (error instanceof AwsServiceException) {
            AwsServiceException service = (AwsServiceException) error;
            int status = service.statusCode();
            String code = errorCode(service);
            if (error instanceof ResourceNotFoundException
                    || FATAL_CODES.contains(code)
                    || status == 401
                    || status == 403) {
                return Kind.FATAL;
            }
            return Kind.RETRYABLE;
        }
        if (error instanceof SdkClientException) {
            return Kind.UNREACHABLE;
        }
        return Kind.RETRYABLE;
    }

    static String errorCode(AwsServiceException e) {
        if (e.awsErrorDetails() != null && e.awsErrorDetails().errorCode() != null) {
            return e.awsErrorDetails().errorCode();
        }
        return e.getClass().getSimpleName();
    }

    /** The one-line message of a {@link Kind#FATAL} service error. */
    static String fatalMessage(Throwable error, String streamArn) {
        if (!(error instanceof AwsServiceException)) {
            return "Kinesis source: reading stream " + streamArn + " failed: " + oneLine(rootMessage(error));
        }
        AwsServiceException e = (AwsServiceException) error;
        String code = errorCode(e);
        String detail = e.awsErrorDetails() != null ? e.awsErrorDetails().errorMessage() : null;
        String what;
        if (e instanceof ResourceNotFoundException || "ResourceNotFoundException".equals(code)) {
            what = "stream " + streamArn + " does not exist";
        } else if ("InvalidArgumentException".equals(code) || "ValidationException".equals(code)) {
            what = "request for stream " + streamArn + " rejected as invalid (check the stream ARN)";
        } else {
            what = "access to stream " + streamArn + " denied (check credentials and IAM permissions)";
        }
        return "Kinesis source: " + what + " (" + code
                + (detail != null && !detail.isEmpty() ? ": " + oneLine(detail) : "") + ")";
    }

    /** The one-line message when the endpoint stayed unreachable for the whole budget. */
    static String unreachableMessage(Throwable error, String endpoint, long budgetMs) {
        return "Kinesis source: endpoint " + endpoint + " unreachable for " + seconds(budgetMs) + ": "
                + oneLine(rootMessage(error));
    }

    /** Flink's marker for "do not restart", wrapping our readable exception. */
    static SuppressRestartsException fatal(String message, Throwable cause) {
        return new SuppressRestartsException(new KinesisSourceException(message, cause));
    }

    /** The {@link KinesisSourceException} in a cause chain, if any. */
    static KinesisSourceException findSourceException(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause()) {
            if (t instanceof KinesisSourceException) {
                return (KinesisSourceException) t;
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return null;
    }

    /** Exponential backoff with full jitter: uniform in [0, min(10 s, 100 ms * 2^attempt)]. */
    static long backoffMs(int attempt) {
        long ceiling = MIN_BACKOFF_MS << Math.min(Math.max(attempt, 0), 20);
        ceiling = Math.min(MAX_BACKOFF_MS, ceiling);
        return ThreadLocalRandom.current().nextLong(ceiling + 1);
    }

    static String seconds(long millis) {
        if (millis % 1000 == 0) {
            return (millis / 1000) + " s";
        }
        return String.format(Locale.ROOT, "%.1f s", millis / 1000.0);
    }

    /** The deepest cause's message (e.g. "Connection refused"), else its class name. */
    static String rootMessage(Throwable error) {
        Throwable root = error;
        int guard = 0;
        while (root.getCause() != null && root.getCause() != root && guard++ < 32) {
            root = root.getCause();
        }
        String message = root.getMessage();
        if (message == null || message.isEmpty()) {
            message = error.getMessage();
        }
        return message == null || message.isEmpty() ? root.getClass().getSimpleName() : message;
    }

    private static String oneLine(String text) {
        String flat = text.replaceAll("\\s+", " ").trim();
        return flat.length() > 300 ? flat.substring(0, 297) + "..." : flat;
    }

    /**
     * Time budget for "cannot reach the endpoint": starts at the first such failure, reset by any
     * successful call. Not thread-safe; one per calling thread.
     */
    static final class UnreachableBudget {
        private final long budgetMs;
        private long failingSince = -1L;

        UnreachableBudget(long budgetMs) {
            this.budgetMs = budgetMs;
        }

        void success() {
            failingSince = -1L;
        }

        /** Records a failure at {@code now}; true when the budget is used up. */
        boolean failedAndExhausted(long now) {
            if (failingSince < 0) {
                failingSince = now;
            }
            return now - failingSince >= budgetMs;
        }

        long budgetMs() {
            return budgetMs;
        }
    }
}
