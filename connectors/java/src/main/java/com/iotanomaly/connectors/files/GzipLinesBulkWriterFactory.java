package com.iotanomaly.connectors.files;

import org.apache.flink.api.common.serialization.BulkWriter;
import org.apache.flink.core.fs.FSDataOutputStream;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.zip.GZIPOutputStream;

/**
 * Bulk writer factory for {@code FileSink.forBulkFormat(...)}: writes every element as one UTF-8 line
 * into a gzip stream over the part file. Bulk formats roll on every checkpoint
 * (OnCheckpointRollingPolicy), so each committed part file is one complete gzip member, e.g.
 * {@code part-<uid>-<n>.jsonl.gz}.
 *
 * <p>Elements are written as they are; callers pass one JSON document per element (JSON lines). An
 * element that itself contains a newline would produce more than one line: that is the caller's
 * responsibility.
 */
public class GzipLinesBulkWriterFactory implements BulkWriter.Factory<String> {

    private static final long serialVersionUID = 1L;

    private static final byte[] NEWLINE = {'\n'};

    private final int bufferSize;

    public GzipLinesBulkWriterFactory() {
        this(64 * 1024);
    }

    public GzipLinesBulkWriterFactory(int bufferSize) {
        if (bufferSize <= 0) {
            throw new IllegalArgumentException("bufferSize must be > 0, got " + bufferSize);
        }
        this.bufferSize = bufferSize;
    }

    @Override
    public BulkWriter<String> create(FSDataOutputStream out) throws IOException {
        return new GzipLinesBulkWriter(out, bufferSize);
    }

    /** Writer for one part file. */
    static final class GzipLinesBulkWriter implements BulkWriter<String> {

        private final GZIPOutputStream gzip;

        GzipLinesBulkWriter(FSDataOutputStream out, int bufferSize) throws IOException {
            // The part file stream belongs to the FileSink: never close it from here.
            this.gzip = new GZIPOutputStream(new NonClosingOutputStream(out), bufferSize);
        }

        @Override
        public void addElement(String element) throws IOException {
            gzip.write(element.getBytes(StandardCharsets.UTF_8));
            gzip.write(NEWLINE);
        }

        @Override
        public void flush() throws IOException {
            // Pushes compressed bytes downstream; a gzip member is only complete after finish().
            gzip.flush();
        }

        @Override
        public void finish() throws IOException {
            // Writes the gzip trailer and flushes, but leaves the underlying stream open: the sink
            // persists/closes it when committing the part file.
            gzip.finish();
            gzip.flush();
        }
    }

    /** Passes everything through except close(), which only flushes. */
    private static final class NonClosingOutputStream extends FilterOutputStream {
        NonClosingOutputStream(OutputStream out) {
            super(out);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
        }

        @Override
        public void close() throws IOException {
            out.flush();
        }
    }
}
