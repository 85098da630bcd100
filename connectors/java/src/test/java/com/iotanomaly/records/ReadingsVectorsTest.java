package com.iotanomaly.records;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.Test;

/**
 * The JVM parser against the shared vectors ({@code tests/vectors/readings.jsonl}), whose expected
 * results come from the Python reference: same verdict, reason, canonical line, fields, dead letter.
 */
public class ReadingsVectorsTest {

    private static final Path VECTORS = Paths.get("tests", "vectors", "readings.jsonl");

    static String recordOf(Object stored) {
        if (stored == StrictJson.NULL) {
            return null;
        }
        if (stored instanceof String) {
            return (String) stored;
        }
        StringBuilder sb = new StringBuilder();
        for (Object run : (List<?>) ((Map<?, ?>) stored).get("runs")) {
            List<?> pair = (List<?>) run;
            String chunk = (String) pair.get(0);
            int n = ((BigInteger) pair.get(1)).intValueExact();
            for (int i = 0; i < n; i++) {
                sb.append(chunk);
            }
        }
        return sb.toString();
    }

    @Test
    public void everyVectorGivesTheReferenceResult() throws Exception {
        List<String> lines = Files.readAllLines(VECTORS, StandardCharsets.UTF_8);
        List<String> failures = new ArrayList<>();
        int checked = 0;
        for (String line : lines) {
            if (line.isEmpty()) {
                continue;
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> v = (Map<String, Object>) StrictJson.parse(line);
            String record = recordOf(v.get("record"));
            long now = ((BigInteger) v.get("now_ms")).longValueExact();
            long maxFuture = ((BigInteger) v.get("max_future_ms")).longValueExact();
            @SuppressWarnings("unchecked")
            Map<String, Object> expected = (Map<String, Object>) v.get("expected");
            @SuppressWarnings("unchecked")
            Map<String, Object> actual = (Map<String, Object>) StrictJson.parse(
                    ParseCli.resultJson(Readings.parse(record, now, maxFuture), record, now));
            // the source's event time is the parse step's ts for every valid reading
            if (expected.get("error") == StrictJson.NULL
                    && Readings.eventTime(record, now, maxFuture) != ((BigInteger) expected.get("ts")).longValueExact()) {
                failures.add(v.get("name") + ": event time " + Readings.eventTime(record, now, maxFuture)
                        + " != ts " + expected.get("ts"));
            }
            if (expected.get("dead_letter") == StrictJson.NULL) {
                actual.put("dead_letter", StrictJson.NULL); // long records: not stored in the file
            }
            // Map.equals ignores order: the values must also come in the reference's (record) order
            List<Object> expectedOrder = new ArrayList<>(((Map<?, ?>) expected.get("values")).keySet());
            List<Object> actualOrder = new ArrayList<>(((Map<?, ?>) actual.get("values")).keySet());
            if (!expected.equals(actual) || !expectedOrder.equals(actualOrder)) {
                failures.add(v.get("name") + "\n  expected " + StrictJson.write(expected)
                        + "\n  actual   " + StrictJson.write(actual));
            }
            checked++;
        }
        assertTrue("too few vectors: " + checked, checked > 100);
        assertEquals(failures.size() + " of " + checked + " vectors differ:\n" + String.join("\n", failures),
                0, failures.size());
    }

    /** The hand-written device-id check against the reference's pattern, on random ids of every class. */
    @Test
    public void deviceIdCheckMatchesThePattern() {
        java.util.regex.Pattern reference = java.util.regex.Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}");
        String alphabet = "aZ09_.:-/ \u00e9\ud83d\n";
        java.util.Random rng = new java.util.Random(42);
        for (int i = 0; i < 200_000; i++) {
            int n = rng.nextInt(68);
            StringBuilder sb = new StringBuilder();
            for (int j = 0; j < n; j++) {
                // mostly valid characters, so long valid ids (and the 64/65 boundary) occur often
                sb.append(rng.nextInt(10) < 8 ? alphabet.charAt(rng.nextInt(4)) : alphabet.charAt(rng.nextInt(alphabet.length())));
            }
            String id = sb.toString();
            assertEquals(id, reference.matcher(id).matches(), Readings.validDeviceId(id));
        }
    }

    /** The hand-written measurement-name check against the reference's pattern (ASCII classes only). */
    @Test
    public void sensorNameCheckMatchesThePattern() {
        java.util.regex.Pattern reference = java.util.regex.Pattern.compile("[A-Za-z][A-Za-z0-9_]{0,63}");
        String alphabet = "aZ09_.-:/ \u00e9\u0130\u212a\ud83d\n";
        java.util.Random rng = new java.util.Random(42);
        for (int i = 0; i < 200_000; i++) {
            int n = rng.nextInt(68);
            StringBuilder sb = new StringBuilder();
            for (int j = 0; j < n; j++) {
                sb.append(rng.nextInt(10) < 8 ? alphabet.charAt(rng.nextInt(5)) : alphabet.charAt(rng.nextInt(alphabet.length())));
            }
            String name = sb.toString();
            assertEquals(name, reference.matcher(name).matches(), Readings.validSensorName(name));
        }
    }

    /** Integers are written as Python writes them, on either side of the long fast path. */
    @Test
    public void integersWrittenExactly() {
        for (String literal : new String[] {"0", "-1", "9223372036854775807", "-9223372036854775808",
                "9223372036854775808", "-9223372036854775809", "123456789012345678901234567890"}) {
            assertEquals(literal, StrictJson.write(new BigInteger(literal)));
        }
    }

    @Test
    public void pythonFloatReprs() {
        assertEquals("1e+16", StrictJson.pyRepr(1e16));
        assertEquals("1000000000000000.0", StrictJson.pyRepr(1e15));
        assertEquals("1e-05", StrictJson.pyRepr(1e-5));
        assertEquals("0.0001", StrictJson.pyRepr(1e-4));
        assertEquals("-0.0", StrictJson.pyRepr(-0.0));
        assertEquals("1.2345678901234568e+17", StrictJson.pyRepr(123456789012345678.0));
        assertEquals("5e-324", StrictJson.pyRepr(Double.MIN_VALUE));
        assertEquals("0.30000000000000004", StrictJson.pyRepr(0.1 + 0.2));
        assertEquals("64.2", StrictJson.pyRepr(64.2));
    }

    /** The fixed-notation shortcut gives what the general path gives, wherever it answers. */
    @Test
    public void theShortReprOfAShortDecimalIsTheGeneralOne() {
        java.util.Random rng = new java.util.Random(11);
        int answered = 0;
        int checked = 0;
        java.util.List<Double> values = new java.util.ArrayList<>(java.util.Arrays.asList(
                0.1 + 0.2, 9.9999999999999995, 1e-4, Math.nextDown(1e-4), 1e15, Math.nextDown(1e15),
                123456789012345.6, 4.35, 2.675, 1.005, 0.000123, 67.025, 1e14, 99.99999999999999,
                0.1, 0.7, 1.0 / 3, 2.0 / 3, 1e-3, 1234.5, -5.739, 0x1p50 / 1e5, Math.PI, Math.E));
        for (int i = 0; i < 200_000; i++) {
            int digits = 1 + rng.nextInt(17);
            StringBuilder sb = new StringBuilder(rng.nextBoolean() ? "-" : "");
            sb.append(1 + rng.nextInt(9));
            for (int d = 1; d < digits; d++) {
                sb.append(rng.nextInt(10));
            }
            double v = Double.parseDouble(sb.append("e").append(rng.nextInt(24) - 8 - digits).toString());
            values.add(v);
            values.add(Math.nextUp(v));
            values.add(Math.nextDown(v));
            values.add(Math.pow(10, rng.nextDouble() * 24 - 8) * (rng.nextBoolean() ? 1 : -1));
        }
        for (double v : values) {
            String fixed = StrictJson.fixedRepr(v);
            checked++;
            if (fixed != null) {
                answered++;
                assertEquals("repr of " + StrictJson.generalRepr(v), StrictJson.generalRepr(v), fixed);
            }
        }
        assertTrue("the shortcut answered " + answered + " of " + checked, answered > 100_000);
        assertEquals("67.025", StrictJson.fixedRepr(67.025));
        assertEquals("-0.0001", StrictJson.fixedRepr(-1e-4));
        assertEquals("100000000000000.0", StrictJson.fixedRepr(1e14));
        assertEquals(null, StrictJson.fixedRepr(0.1 + 0.2)); // 17 digits: the general path
    }
}
