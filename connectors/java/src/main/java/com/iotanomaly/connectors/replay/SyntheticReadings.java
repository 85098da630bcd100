package com.iotanomaly.connectors.replay;

import java.util.Locale;
import java.util.Random;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.datagen.source.GeneratorFunction;

/**
 * Readings of a synthetic fleet at a steady rate, stamped with the wall clock at the moment the source
 * emits them: the latency probe of {@code make bench}. An alert's {@code ts} is then the moment the job
 * read its reading, and the time the alert reaches SNS minus {@code ts} is the job's latency.
 *
 * <p>Each device belongs to one reader, as each device's readings come through one Kinesis shard (the job
 * judges a device's readings in arrival order and sets aside one older than its newest): reader
 * {@code r} of {@code p} owns the devices {@code d} with {@code d % p == r} and gives its reading
 * {@code i} to the {@code (i % n)}th of its {@code n} devices. Outside a source (no reader), reading
 * {@code i} belongs to device {@code i % devices}. Every {@value #THRESHOLD_EVERY}th reading
 * has a temperature over the default critical level (100); every {@value #SPIKE_EVERY}th (offset 1) a
 * vibration 8 sigma above normal that stays inside the static levels, for the statistical detectors.
 * Both periods are prime to the usual fleet sizes, so each device gets its anomalies far apart.
 * Values are a pure function of {@code i} (seeded noise); only {@code ts} depends on the clock.
 */
public final class SyntheticReadings implements GeneratorFunction<Long, String> {
    private static final long serialVersionUID = 1L;

    public static final long THRESHOLD_EVERY = 2003;
    public static final long SPIKE_EVERY = 2011;
    static final double VIBRATION_SD = 0.15;

    private final int devices;
    private transient int reader;
    private transient int readers = 1;

    public SyntheticReadings(int devices) {
        if (devices < 1) {
            throw new IllegalArgumentException("devices must be >= 1, got " + devices);
        }
        this.devices = devices;
    }

    /** A bounded source of {@code count} readings at {@code ratePerSecond} in total (over all readers). */
    public static DataGeneratorSource<String> source(int devices, long count, double ratePerSecond) {
        return new DataGeneratorSource<>(
                new SyntheticReadings(devices), count, RateLimiterStrategy.perSecond(ratePerSecond), Types.STRING);
    }

    @Override
    public void open(SourceReaderContext readerContext) {
        owner(readerContext.getIndexOfSubtask(), readerContext.currentParallelism());
    }

    /** This generator is reader {@code reader} of {@code readers}. */
    void owner(int reader, int readers) {
        // a reader without a device of its own (fewer devices than readers) shares the whole fleet
        boolean own = reader < devices;
        this.reader = own ? reader : 0;
        this.readers = own ? readers : 1;
    }

    long deviceOf(long i) {
        long owned = (devices - reader + readers - 1) / readers;
        return reader + (long) readers * (i % owned);
    }

    @Override
    public String map(Long index) {
        return reading(index, System.currentTimeMillis());
    }

    String reading(long i, long ts) {
        Random noise = new Random(i * 0x9E3779B97F4A7C15L);
        double temperature = 60.0 + noise.nextGaussian();
        double pressure = 5.5 + 0.1 * noise.nextGaussian();
        double vibration = 2.5 + VIBRATION_SD * noise.nextGaussian();
        if (i % THRESHOLD_EVERY == 0) {
            temperature = 105.0;
        }
        if (i % SPIKE_EVERY == 1) {
            vibration = 2.5 + 8 * VIBRATION_SD;
        }
        return String.format(
                Locale.ROOT,
                "{\"device_id\":\"machine-%05d\",\"ts\":%d,\"seq\":%d,\"temperature\":%.3f,"
                        + "\"pressure\":%.4f,\"vibration\":%.4f}",
                deviceOf(i), ts, i, temperature, pressure, vibration);
    }
}
