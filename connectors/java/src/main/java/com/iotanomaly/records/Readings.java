package com.iotanomaly.records;

import com.iotanomaly.connectors.kinesis.RecordText;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parsing and validation of one device record: the JVM twin of {@code flink_job/core/records.py}
 * (its module docstring is the policy). Both give the same verdict, the same reason and the same
 * canonical line for every input; {@code tests/vectors/readings.jsonl} holds both to that, and a
 * differential fuzz test ({@code tests/integration/test_parse_parity.py}) runs them side by side.
 * {@link #parse} never throws.
 */
public final class Readings {

    public static final List<String> SENSORS = List.of("temperature", "pressure", "vibration");
    public static final String MEASUREMENTS = "measurements"; // the object holding any other named measurements
    public static final int MAX_SENSORS = 64; // measurements per record, top level and 'measurements' together
    public static final String RESERVED_SENSOR = "device"; // the sensor name of device-level verdicts
    public static final int MAX_RECORD_BYTES = 64 * 1024;
    public static final double MAX_ABS_VALUE = 1e12;
    public static final long MIN_TS_MS = 946_684_800_000L;
    public static final int MAX_DEPTH = 64;

    private static final Pattern ISO_TS = Pattern.compile(
            "([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\\.([0-9]{1,9}))?"
                    + "(Z|[+-][0-9]{2}:[0-9]{2})");
    private static final Pattern BASE64 = Pattern.compile("[A-Za-z0-9+/]*={0,2}");
    private static final BigInteger MAX_ABS_INT = BigInteger.valueOf(1_000_000_000_000L);
    private static final BigInteger THOUSAND = BigInteger.valueOf(1000);
    private static final DateTimeFormatter RECEIVED_AT =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'+00:00'").withZone(ZoneOffset.UTC);

    private Readings() {}

    private static final String[] NO_NAMES = new String[0];
    private static final double[] NO_VALUES = new double[0];

    /**
     * A valid reading (error null) or a dead letter's reason. {@code names}/{@code values}: the
     * reported measurements in record order (top-level sensors, then {@code measurements}); empty for
     * a dead letter.
     */
    public static final class Result {
        public final String error;
        public final String canonical;
        public final String rawBase64;
        public final String deviceId;
        public final long tsMs;
        public final String[] names;
        public final double[] values;

        private Result(String error, String rawBase64, String canonical, String deviceId, long tsMs,
                String[] names, double[] values) {
            this.error = error;
            this.rawBase64 = rawBase64;
            this.canonical = canonical;
            this.deviceId = deviceId;
            this.tsMs = tsMs;
            this.names = names;
            this.values = values;
        }

        static Result bad(String reason) {
            return bad(reason, null);
        }

        static Result bad(String reason, String rawBase64) {
            return new Result(reason, rawBase64, null, null, 0, NO_NAMES, NO_VALUES);
        }

        public boolean ok() {
            return error == null;
        }
    }

    /** Parses and validates one record; {@code nowMs} is the wall clock (for the future-ts check). */
    public static Result parse(String raw, long nowMs, long maxFutureMs) {
        try {
            return parseUnchecked(raw, nowMs, maxFutureMs);
        } catch (RuntimeException | StackOverflowError e) {
            // a parser bug must not become a poison pill; Python names its exception class likewise
            return Result.bad("unparseable record (" + e.getClass().getSimpleName() + ")");
        }
    }

    /** (text, null) for a text record, (null, base64) for a framed record that is not UTF-8. */
    private static String[] unframe(String raw) {
        if (!RecordText.isBinary(raw)) {
            return new String[] {raw, null};
        }
        String b64 = raw.substring(RecordText.BINARY_PREFIX.length());
        if (b64.length() % 4 != 0 || !BASE64.matcher(b64).matches()) {
            return new String[] {raw, null}; // not our framing after all: parsed (and refused) as text
        }
        String text = RecordText.decodeStrict(Base64.getDecoder().decode(b64));
        return text != null ? new String[] {text, null} : new String[] {null, b64};
    }

    private static boolean blank(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                return false;
            }
        }
        return true;
    }

    /**
     * The record's size and nesting in one pass, for the checks that come before parsing (in the
     * reference's order: size, then depth). {@code bytes}: UTF-8 length, lone surrogates counted as
     * 3 bytes (Python's surrogatepass); {@code depth}: the deepest run of unclosed braces and brackets
     * outside strings (a scan, not a parse).
     */
    static final class Extent {
        long bytes;
        int depth;
    }

    static Extent extent(String text) {
        Extent x = new Extent();
        long n = 0;
        int depth = 0;
        int deepest = 0;
        boolean inString = false;
        boolean escaped = false;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (inString) {
                if (escaped) {
                    escaped = false;
                } else if (c == '\\') {
                    escaped = true;
                } else if (c == '"') {
                    inString = false;
                }
            } else if (c == '"') {
                inString = true;
            } else if (c == '{' || c == '[') {
                depth++;
                deepest = Math.max(deepest, depth);
            } else if (c == '}' || c == ']') {
                depth--;
            }
            if (c < 0x80) {
                n += 1;
            } else if (c < 0x800) {
                n += 2;
            } else if (Character.isHighSurrogate(c) && i + 1 < text.length()
                    && Character.isLowSurrogate(text.charAt(i + 1))) {
                n += 4;
                i++;
            } else {
                n += 3;
            }
        }
        x.bytes = n;
        x.depth = deepest;
        return x;
    }

    /** {@code [A-Za-z0-9][A-Za-z0-9_.:-]{0,63}}, the reference's pattern, without a regex on the hot path. */
    static boolean validDeviceId(String id) {
        int n = id.length();
        if (n == 0 || n > 64) {
            return false;
        }
        for (int i = 0; i < n; i++) {
            char c = id.charAt(i);
            boolean alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
            if (!alnum && (i == 0 || (c != '_' && c != '.' && c != ':' && c != '-'))) {
                return false;
            }
        }
        return true;
    }

    /** {@code [A-Za-z][A-Za-z0-9_]{0,63}}, the reference's measurement-name pattern, without a regex. */
    static boolean validSensorName(String name) {
        int n = name.length();
        if (n == 0 || n > 64) {
            return false;
        }
        for (int i = 0; i < n; i++) {
            char c = name.charAt(i);
            boolean letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
            if (!letter && (i == 0 || ((c < '0' || c > '9') && c != '_'))) {
                return false;
            }
        }
        return true;
    }

    /** Python's type name of a parsed JSON value (the reasons name types as the reference does). */
    static String typeName(Object v) {
        if (v instanceof String) {
            return "str";
        } else if (v instanceof Map) {
            return "dict";
        } else if (v instanceof List) {
            return "list";
        } else if (v instanceof Boolean) {
            return "bool";
        } else if (v instanceof BigInteger) {
            return "int";
        } else if (v instanceof Double) {
            return "float";
        }
        return "NoneType";
    }

    private static Result parseUnchecked(String raw, long nowMs, long maxFutureMs) {
        if (raw == null) {
            return Result.bad("empty record");
        }
        String[] unframed = unframe(raw);
        String text = unframed[0];
        if (text == null) {
            return Result.bad("not UTF-8", unframed[1]);
        }
        if (blank(text)) {
            return Result.bad("empty record");
        }
        Object doc;
        boolean[] canonical = new boolean[1];
        try {
            doc = document(text, canonical);
        } catch (StrictJson.Failure f) {
            return Result.bad(f.reason);
        }
        if (!(doc instanceof Map)) {
            return Result.bad("JSON " + typeName(doc) + " instead of an object");
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> obj = (Map<String, Object>) doc;

        Object deviceId = obj.get("device_id");
        if (deviceId == null || deviceId == StrictJson.NULL) {
            return Result.bad("missing field 'device_id'");
        }
        if (!(deviceId instanceof String) || !validDeviceId((String) deviceId)) {
            return Result.bad("invalid 'device_id': " + StrictJson.clip(deviceId, 80));
        }

        if (!obj.containsKey("ts")) {
            return Result.bad("missing field 'ts'");
        }
        Object rawTs = obj.get("ts");
        BigInteger ts = parseTs(rawTs);
        if (ts == null) {
            return Result.bad("invalid 'ts': " + StrictJson.clip(rawTs, 80) + " (epoch ms or ISO-8601 with zone)");
        }
        if (ts.compareTo(BigInteger.valueOf(MIN_TS_MS)) < 0) {
            return Result.bad("'ts' before 2000-01-01: " + StrictJson.clip(ts, 40));
        }
        BigInteger now = BigInteger.valueOf(nowMs);
        if (ts.compareTo(now.add(BigInteger.valueOf(maxFutureMs))) > 0) {
            BigInteger ahead = ts.subtract(now).divide(THOUSAND); // positive: floor = truncation
            return Result.bad("'ts' in the future: " + StrictJson.clip(ts, 40) + " is "
                    + StrictJson.clip(ahead, 40) + " s ahead of the clock");
        }

        // sized for the top level and every entry of 'measurements' (nulls included); trimmed below
        Object m = obj.get(MEASUREMENTS);
        int room = SENSORS.size() + (m instanceof Map ? Math.min(((Map<?, ?>) m).size(), MAX_SENSORS) : 0);
        String[] names = new String[room];
        double[] values = new double[room];
        int n = 0;
        for (String sensor : SENSORS) {
            Object v = obj.get(sensor);
            if (v == null || v == StrictJson.NULL) {
                continue;
            }
            if (!(v instanceof BigInteger) && !(v instanceof Double)) {
                return Result.bad("'" + sensor + "' is " + typeName(v) + ", not a number");
            }
            if (outOfRange(v)) {
                return Result.bad("'" + sensor + "' out of range (|value| > 1e+12): " + StrictJson.clip(v, 40));
            }
            names[n] = sensor;
            values[n++] = ((Number) v).doubleValue();
        }
        int top = n;
        if (m != null && m != StrictJson.NULL) {
            if (!(m instanceof Map)) {
                return Result.bad("'" + MEASUREMENTS + "' is " + typeName(m) + ", not an object");
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> entries = (Map<String, Object>) m;
            int count = top + entries.size(); // the reported top-level ones and every entry, null or not
            if (count > MAX_SENSORS) {
                return Result.bad("too many measurements: " + count + " (at most " + MAX_SENSORS + ")");
            }
            for (Map.Entry<String, Object> e : entries.entrySet()) {
                String name = e.getKey();
                if (!validSensorName(name) || name.equals(RESERVED_SENSOR)) {
                    return Result.bad("invalid measurement name: " + StrictJson.clip(name, 80));
                }
                // only a top-level sensor can clash: the object's own keys are distinct (duplicates refused)
                for (int i = 0; i < top; i++) {
                    if (names[i].equals(name)) {
                        return Result.bad("measurement given twice: " + StrictJson.clip(name, 80)
                                + " (top level and '" + MEASUREMENTS + "')");
                    }
                }
                Object v = e.getValue();
                if (v == StrictJson.NULL) {
                    continue;
                }
                if (!(v instanceof BigInteger) && !(v instanceof Double)) {
                    return Result.bad("measurement not a number: " + StrictJson.clip(name, 80) + " is " + typeName(v));
                }
                if (outOfRange(v)) {
                    return Result.bad("measurement out of range (|value| > 1e+12): " + StrictJson.clip(name, 80)
                            + " is " + StrictJson.clip(v, 40));
                }
                names[n] = name;
                values[n++] = ((Number) v).doubleValue();
            }
        }
        if (n == 0) {
            return Result.bad("no sensor value (expected any of " + String.join(", ", SENSORS) + " or a '"
                    + MEASUREMENTS + "' object)");
        }
        if (n < room) {
            names = Arrays.copyOf(names, n);
            values = Arrays.copyOf(values, n);
        }
        long tsMs = ts.longValueExact();
        String line;
        if (canonical[0] && rawTs instanceof BigInteger) {
            line = text; // already the canonical line (a compact record with an integer ts)
        } else {
            obj.put("ts", BigInteger.valueOf(tsMs));
            line = StrictJson.write(obj);
        }
        return new Result(null, null, line, (String) deviceId, tsMs, names, values);
    }

    /**
     * The JSON document of a record's text, within the size and depth limits (checked first, in the
     * reference's order: size, then depth, then the parse); a refusal's reason is the dead letter's.
     */
    private static Object document(String text, boolean[] canonical) throws StrictJson.Failure {
        Extent extent = extent(text);
        if (extent.bytes > MAX_RECORD_BYTES) {
            throw new StrictJson.Failure("record larger than " + MAX_RECORD_BYTES + " bytes");
        }
        if (extent.depth > MAX_DEPTH) {
            throw new StrictJson.Failure("invalid JSON: nested deeper than " + MAX_DEPTH + " levels");
        }
        return StrictJson.parse(text, canonical);
    }

    /**
     * The event time the source gives a record ({@code ReadingTimestampAssigner}): its {@code ts} as
     * {@link #parse} reads it (the same parser, the same rules: epoch ms, a truncated decimal, ISO-8601
     * with a zone), or 0 when the record is not a strict JSON object within the size and depth limits,
     * has no such {@code ts}, or one before 2000-01-01 or more than {@code maxFutureMs} ahead of
     * {@code nowMs}; a framed record is read as the parse step reads it (its text if the bytes are
     * UTF-8, else 0). A watermark never advances on 0, so a broken
     * clock or a malformed record cannot drag event time along. The other fields are not checked (a
     * reading refused for its device id still has its time). Never throws.
     */
    public static long eventTime(String raw, long nowMs, long maxFutureMs) {
        try {
            String text = raw == null ? null : unframe(raw)[0];
            if (text == null || text.isEmpty()) {
                return 0L;
            }
            Object doc = document(text, new boolean[1]);
            if (!(doc instanceof Map)) {
                return 0L;
            }
            BigInteger ts = parseTs(((Map<?, ?>) doc).get("ts"));
            if (ts == null || ts.bitLength() >= 64) {
                return 0L;
            }
            long ms = ts.longValue();
            return ms < MIN_TS_MS || ms - maxFutureMs > nowMs ? 0L : ms;
        } catch (StrictJson.Failure | RuntimeException | StackOverflowError e) {
            return 0L;
        }
    }

    /** {@code |v| > MAX_ABS_VALUE}, exact for integers of any size (as Python compares int and float). */
    private static boolean outOfRange(Object v) {
        if (v instanceof BigInteger) {
            return ((BigInteger) v).abs().compareTo(MAX_ABS_INT) > 0;
        }
        return Math.abs((Double) v) > MAX_ABS_VALUE;
    }

    /** Epoch ms from an integer, a number (truncated) or an ISO-8601 text with a zone; null if none. */
    static BigInteger parseTs(Object raw) {
        if (raw instanceof BigInteger) {
            return (BigInteger) raw;
        }
        if (raw instanceof Double) {
            return new BigDecimal((Double) raw).toBigInteger();
        }
        if (!(raw instanceof String)) {
            return null;
        }
        Matcher m = ISO_TS.matcher((String) raw);
        if (!m.matches()) {
            return null;
        }
        int hour = Integer.parseInt(m.group(4));
        int minute = Integer.parseInt(m.group(5));
        int second = Integer.parseInt(m.group(6));
        if (hour > 23 || minute > 59 || second > 59) {
            return null;
        }
        int year = Integer.parseInt(m.group(1));
        long days;
        try {
            if (year < 1) {
                return null; // Python's date has no year 0
            }
            days = LocalDate.of(year, Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3))).toEpochDay();
        } catch (DateTimeException e) {
            return null;
        }
        String frac = m.group(7) == null ? "000" : (m.group(7) + "00").substring(0, 3);
        long ms = ((days * 24 + hour) * 60 + minute) * 60_000L + second * 1000L + Integer.parseInt(frac);
        String zone = m.group(8);
        if (!zone.equals("Z")) {
            int zh = Integer.parseInt(zone.substring(1, 3));
            int zm = Integer.parseInt(zone.substring(4, 6));
            if (zh > 23 || zm > 59) {
                return null;
            }
            ms -= (zone.charAt(0) == '+' ? 1 : -1) * (zh * 60L + zm) * 60_000L;
        }
        return BigInteger.valueOf(ms);
    }

    /** The dead-letter JSON line: reason, the record (or its base64 when not UTF-8), when received. */
    public static String deadLetter(Result result, String record, long receivedAtMs) {
        StringBuilder sb = new StringBuilder(64 + (record == null ? 0 : record.length()));
        sb.append("{\"reason\":");
        StrictJson.quote(result.error, sb);
        if (result.rawBase64 != null) {
            sb.append(",\"record_base64\":");
            StrictJson.quote(result.rawBase64, sb);
        } else {
            sb.append(",\"record\":");
            String asSent = record == null ? null : unframe(record)[0];
            if (asSent == null) {
                sb.append("null");
            } else {
                StrictJson.quote(asSent, sb);
            }
        }
        sb.append(",\"received_at\":");
        StrictJson.quote(RECEIVED_AT.format(Instant.ofEpochMilli(receivedAtMs)), sb);
        return sb.append('}').toString();
    }
}
