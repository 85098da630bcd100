package com.iotanomaly.records;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Strict JSON (RFC 8259) for the record parser, giving the same verdicts and the same error texts
 * and positions as the Python reference ({@code flink_job/core/records.py}, which uses CPython's
 * {@code json} module): a dead letter's reason must not depend on which side parsed it.
 * {@code tests/vectors/readings.jsonl} and a differential fuzz test hold both to that.
 *
 * <p>Values: {@link LinkedHashMap} (key order kept), {@link ArrayList}, {@link String},
 * {@link BigInteger} (integers), {@link Double} (numbers with a fraction or exponent), {@link Boolean}
 * and {@link #NULL}. Duplicate keys, NaN/Infinity literals and numbers that overflow a double are
 * refused. The caller bounds nesting first ({@code Readings.extent}), so the recursion is shallow.
 */
public final class StrictJson {

    /** JSON null (a map value of Java null would be indistinguishable from an absent key). */
    public static final Object NULL = new Object() {
        @Override
        public String toString() {
            return "null";
        }
    };

    /** CPython's default limit on the digits of an integer literal (sys.int_info.default_max_str_digits). */
    static final int MAX_INT_DIGITS = 4300;

    /** A refused document; {@link #reason} is the dead-letter reason, verbatim. */
    public static final class Failure extends Exception {
        private static final long serialVersionUID = 1L;
        public final String reason;

        Failure(String reason) {
            super(reason, null, false, false);
            this.reason = reason;
        }
    }

    private final String s;
    private final int len;
    /** Whether the text so far is exactly what {@link #write} gives for what it parsed to. */
    private boolean canonical = true;

    private StrictJson(String s) {
        this.s = s;
        this.len = s.length();
    }

    /** Parses a whole document (leading/trailing JSON whitespace allowed). */
    public static Object parse(String text) throws Failure {
        return parse(text, new boolean[1]);
    }

    /**
     * {@link #parse}, and {@code canonical[0]} set to whether {@code text} already is, character for
     * character, what {@link #write} gives for the parsed value: no whitespace outside strings, no
     * escapes, only printable ASCII in strings and numbers as Python prints them. Devices mostly send
     * such lines (compact {@code json.dumps}), whose canonical form then needs no writing at all. The
     * test is conservative: a false here only means the caller writes the line.
     */
    public static Object parse(String text, boolean[] canonical) throws Failure {
        StrictJson p = new StrictJson(text);
        if (text.startsWith("\ufeff")) {
            throw p.syntax("Unexpected UTF-8 BOM (decode using utf-8-sig)", 0);
        }
        int idx = p.skipWs(0);
        Object[] out = new Object[1];
        int end = p.value(idx, out);
        if (end < 0) {
            throw p.syntax("Expecting value", -end - 1);
        }
        end = p.skipWs(end);
        if (end != p.len) {
            throw p.syntax("Extra data", end);
        }
        canonical[0] = p.canonical;
        return out[0];
    }

    private int skipWs(int i) {
        int from = i;
        while (i < len) {
            char c = s.charAt(i);
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                break;
            }
            i++;
        }
        if (i != from) {
            canonical = false;
        }
        return i;
    }

    private Failure syntax(String msg, int idx) {
        int pos = s.codePointCount(0, Math.min(idx, len)) + Math.max(0, idx - len);
        int line = 1;
        int lastNl = -1;
        for (int i = 0; i < Math.min(idx, len); i++) {
            if (s.charAt(i) == '\n') {
                line++;
                lastNl = i;
            }
        }
        int col = lastNl < 0 ? pos + 1 : pos - s.codePointCount(0, lastNl);
        String text = msg + ": line " + line + " column " + col + " (char " + pos + ")";
        return new Failure("invalid JSON: " + (text.length() > 200 ? text.substring(0, 200) : text));
    }

    /**
     * Scans one value at {@code idx} into {@code out[0]}; returns the index after it, or
     * {@code -(idx + 1)} when no value starts there (Python's StopIteration(idx)).
     */
    private int value(int idx, Object[] out) throws Failure {
        if (idx >= len) {
            return -idx - 1;
        }
        char c = s.charAt(idx);
        switch (c) {
            case '"':
                return string(idx + 1, out);
            case '{':
                return object(idx + 1, out);
            case '[':
                return array(idx + 1, out);
            case 'n':
                if (idx + 3 < len && s.startsWith("null", idx)) {
                    out[0] = NULL;
                    return idx + 4;
                }
                break;
            case 't':
                if (idx + 3 < len && s.startsWith("true", idx)) {
                    out[0] = Boolean.TRUE;
                    return idx + 4;
                }
                break;
            case 'f':
                if (idx + 4 < len && s.startsWith("false", idx)) {
                    out[0] = Boolean.FALSE;
                    return idx + 5;
                }
                break;
            case 'N':
                if (idx + 2 < len && s.startsWith("NaN", idx)) {
                    throw new Failure("not finite: NaN literal (not JSON)");
                }
                break;
            case 'I':
                if (idx + 7 < len && s.startsWith("Infinity", idx)) {
                    throw new Failure("not finite: Infinity literal (not JSON)");
                }
                break;
            case '-':
                if (idx + 8 < len && s.startsWith("-Infinity", idx)) {
                    throw new Failure("not finite: -Infinity literal (not JSON)");
                }
                break;
            default:
                break;
        }
        return number(idx, out);
    }

    private static boolean digit(char c) {
        return c >= '0' && c <= '9';
    }

    private int number(int start, Object[] out) throws Failure {
        int end = len - 1;
        int idx = start;
        boolean negative = s.charAt(idx) == '-';
        if (negative) {
            idx++;
            if (idx > end) {
                return -start - 1;
            }
        }
        int intFrom = idx;
        char c = s.charAt(idx);
        if (c >= '1' && c <= '9') {
            idx++;
            while (idx <= end && digit(s.charAt(idx))) {
                idx++;
            }
        } else if (c == '0') {
            idx++;
        } else {
            return -start - 1;
        }
        int intEnd = idx;
        boolean isFloat = false;
        if (idx < end && s.charAt(idx) == '.' && digit(s.charAt(idx + 1))) {
            isFloat = true;
            idx += 2;
            while (idx <= end && digit(s.charAt(idx))) {
                idx++;
            }
        }
        int fracEnd = idx;
        boolean exponent = false;
        if (idx < end && (s.charAt(idx) == 'e' || s.charAt(idx) == 'E')) {
            int eStart = idx;
            idx++;
            if (idx < end && (s.charAt(idx) == '-' || s.charAt(idx) == '+')) {
                idx++;
            }
            while (idx <= end && digit(s.charAt(idx))) {
                idx++;
            }
            if (digit(s.charAt(idx - 1))) {
                isFloat = true;
                exponent = true;
            } else {
                idx = eStart;
            }
        }
        if (canonical && !canonicalNumber(negative, intFrom, intEnd, fracEnd, isFloat, exponent)) {
            canonical = false;
        }
        int intDigits = intEnd - intFrom;
        int fracDigits = isFloat && !exponent ? fracEnd - intEnd - 1 : 0;
        if ((!isFloat && intDigits <= 18) || (isFloat && !exponent && intDigits + fracDigits <= 15)) {
            // the usual literal, read without a substring: an integer that fits a long, or a decimal
            // m / 10^k with m < 2^53 and k <= 22, both exact doubles, so the division is correctly
            // rounded: the double Double.parseDouble (and Python's float) gives
            long m = 0;
            for (int i = intFrom; i < fracEnd; i++) {
                char d = s.charAt(i);
                if (d != '.') {
                    m = m * 10 + (d - '0');
                }
            }
            if (isFloat) {
                double v = m / POW10[fracDigits];
                out[0] = negative ? -v : v;
            } else {
                out[0] = BigInteger.valueOf(negative ? -m : m);
            }
            return idx;
        }
        String literal = s.substring(start, idx);
        if (isFloat) {
            double v = Double.parseDouble(literal);
            if (Double.isInfinite(v)) {
                throw new Failure("number out of range: " + (literal.length() > 40 ? literal.substring(0, 40) : literal));
            }
            out[0] = v;
        } else {
            if (intDigits > MAX_INT_DIGITS) {
                String msg = "Exceeds the limit (" + MAX_INT_DIGITS + " digits) for integer string conversion: "
                        + "value has " + intDigits + " digits; use sys.set_int_max_str_digits() to increase the limit";
                throw new Failure("invalid JSON: " + (msg.length() > 200 ? msg.substring(0, 200) : msg));
            }
            out[0] = new BigInteger(literal);
        }
        return idx;
    }

    /**
     * Whether Python prints the number just scanned in exactly its characters. Integers: all but
     * {@code -0} (JSON has no leading zeros). Fractions without an exponent, such as {@code 67.025}:
     * with at most 15 significant digits a decimal reads back from its double unchanged (DBL_DIG), so
     * no shorter digits read as the same double, and repr's shortest digits are the literal's own
     * unless it ends in a redundant zero ({@code 67.50}); repr keeps the fixed layout while
     * 1e-4 <= |v| < 1e16. Anything else (an exponent, more digits) is left to write().
     */
    private boolean canonicalNumber(boolean negative, int intFrom, int intEnd, int fracEnd, boolean isFloat,
            boolean exponent) {
        int intDigits = intEnd - intFrom;
        boolean zeroWhole = intDigits == 1 && s.charAt(intFrom) == '0';
        if (!isFloat) {
            return !(negative && zeroWhole);
        }
        if (exponent) {
            return false;
        }
        int fracDigits = fracEnd - intEnd - 1;
        if (fracDigits == 1 && s.charAt(intEnd + 1) == '0') {
            return intDigits <= 15; // "67.0": an integer-valued double, exact below 1e15
        }
        if (s.charAt(fracEnd - 1) == '0') {
            return false;
        }
        if (zeroWhole) {
            int zeros = 0;
            while (s.charAt(intEnd + 1 + zeros) == '0') {
                zeros++;
            }
            return zeros <= 3 && fracDigits - zeros <= 15; // below 1e-4 repr writes an exponent
        }
        return intDigits + fracDigits <= 15;
    }

    private int hex4(int from) {
        int c = 0;
        for (int i = from; i < from + 4; i++) {
            int d = Character.digit(s.charAt(i), 16);
            char ch = s.charAt(i);
            if (d < 0 || ch > 'f') {
                return -1;
            }
            c = (c << 4) | d;
        }
        return c;
    }

    /**
     * The names every reading repeats: taken as these constants (hash codes cached) rather than a new
     * substring each time, since every key is hashed into the record's map.
     */
    private static final String[] KNOWN = {"device_id", "ts", "seq", "temperature", "pressure", "vibration",
        "measurements"};

    /** The text between {@code from} and {@code to} (no escapes in it). */
    private String plain(int from, int to) {
        int n = to - from;
        for (String k : KNOWN) {
            if (k.length() == n && s.regionMatches(from, k, 0, n)) {
                return k;
            }
        }
        return s.substring(from, to);
    }

    /** A string whose opening quote is at {@code end - 1}. */
    private int string(int end, Object[] out) throws Failure {
        int begin = end - 1;
        StringBuilder sb = null;
        while (true) {
            int next = end;
            char c = 0;
            for (; next < len; next++) {
                c = s.charAt(next);
                if (c == '"' || c == '\\') {
                    break;
                }
                if (c <= 0x1f) {
                    throw syntax("Invalid control character at", next);
                }
                if (c > '~') {
                    canonical = false; // write() escapes it
                }
            }
            if (next >= len) {
                throw syntax("Unterminated string starting at", begin);
            }
            if (c == '"' && sb == null) {
                out[0] = plain(end, next);
                return next + 1;
            }
            if (sb == null) {
                sb = new StringBuilder(next - end + 16);
                canonical = false; // an escape: write() may spell it otherwise
            }
            sb.append(s, end, next);
            next++;
            if (c == '"') {
                end = next;
                break;
            }
            if (next == len) {
                throw syntax("Unterminated string starting at", begin);
            }
            c = s.charAt(next);
            if (c != 'u') {
                end = next + 1;
                switch (c) {
                    case '"': case '\\': case '/': break;
                    case 'b': c = '\b'; break;
                    case 'f': c = '\f'; break;
                    case 'n': c = '\n'; break;
                    case 'r': c = '\r'; break;
                    case 't': c = '\t'; break;
                    default:
                        throw syntax("Invalid \\escape", end - 2);
                }
                sb.append(c);
            } else {
                next++;
                end = next + 4;
                if (end >= len) {
                    throw syntax("Invalid \\uXXXX escape", next - 1);
                }
                int u = hex4(next);
                if (u < 0) {
                    throw syntax("Invalid \\uXXXX escape", end - 5);
                }
                sb.append((char) u);
                if (Character.isHighSurrogate((char) u) && end + 6 < len
                        && s.charAt(end) == '\\' && s.charAt(end + 1) == 'u') {
                    int u2 = hex4(end + 2);
                    if (u2 < 0) {
                        throw syntax("Invalid \\uXXXX escape", end + 1);
                    }
                    if (Character.isLowSurrogate((char) u2)) {
                        sb.append((char) u2);
                        end += 6;
                    }
                }
            }
        }
        out[0] = sb.toString();
        return end;
    }

    private int object(int idx, Object[] out) throws Failure {
        int end = len - 1;
        Map<String, Object> obj = new LinkedHashMap<>();
        String duplicate = null; // the first key seen twice: reported once the object parsed (as Python does)
        String key;
        idx = skipWs(idx);
        Object[] slot = new Object[1];
        if (idx > end || s.charAt(idx) != '}') {
            while (true) {
                if (idx > end || s.charAt(idx) != '"') {
                    throw syntax("Expecting property name enclosed in double quotes", idx);
                }
                idx = string(idx + 1, slot);
                key = (String) slot[0];
                idx = skipWs(idx);
                if (idx > end || s.charAt(idx) != ':') {
                    throw syntax("Expecting ':' delimiter", idx);
                }
                idx = skipWs(idx + 1);
                int next = value(idx, slot);
                if (next < 0) {
                    throw syntax("Expecting value", -next - 1);
                }
                int size = obj.size();
                obj.put(key, slot[0]);
                if (duplicate == null && obj.size() == size) {
                    duplicate = key;
                }
                idx = skipWs(next);
                if (idx <= end && s.charAt(idx) == '}') {
                    break;
                }
                if (idx > end || s.charAt(idx) != ',') {
                    throw syntax("Expecting ',' delimiter", idx);
                }
                idx = skipWs(idx + 1);
            }
        }
        if (duplicate != null) {
            throw new Failure("duplicate key: " + clip(duplicate, 80));
        }
        out[0] = obj;
        return idx + 1;
    }

    private int array(int idx, Object[] out) throws Failure {
        int end = len - 1;
        List<Object> items = new ArrayList<>();
        idx = skipWs(idx);
        Object[] slot = new Object[1];
        if (idx > end || s.charAt(idx) != ']') {
            while (true) {
                int next = value(idx, slot);
                if (next < 0) {
                    throw syntax("Expecting value", -next - 1);
                }
                items.add(slot[0]);
                idx = skipWs(next);
                if (idx <= end && s.charAt(idx) == ']') {
                    break;
                }
                if (idx > end || s.charAt(idx) != ',') {
                    throw syntax("Expecting ',' delimiter", idx);
                }
                idx = skipWs(idx + 1);
            }
        }
        out[0] = items;
        return idx + 1;
    }

    // ---------------------------------------------------------------- writing (as Python's json.dumps)

    /** Compact, ASCII-only JSON of a parsed value, byte for byte as Python's {@code json.dumps} writes it. */
    public static String write(Object value) {
        StringBuilder sb = new StringBuilder(128);
        write(value, sb);
        return sb.toString();
    }

    @SuppressWarnings("unchecked")
    static void write(Object v, StringBuilder sb) {
        if (v instanceof String) {
            quote((String) v, sb);
        } else if (v instanceof Map) {
            sb.append('{');
            boolean first = true;
            for (Map.Entry<String, Object> e : ((Map<String, Object>) v).entrySet()) {
                if (!first) {
                    sb.append(',');
                }
                first = false;
                quote(e.getKey(), sb);
                sb.append(':');
                write(e.getValue(), sb);
            }
            sb.append('}');
        } else if (v instanceof List) {
            sb.append('[');
            boolean first = true;
            for (Object item : (List<Object>) v) {
                if (!first) {
                    sb.append(',');
                }
                first = false;
                write(item, sb);
            }
            sb.append(']');
        } else if (v instanceof Double) {
            sb.append(pyRepr((Double) v));
        } else if (v == NULL) {
            sb.append("null");
        } else if (v instanceof BigInteger && ((BigInteger) v).bitLength() < 64) {
            sb.append(((BigInteger) v).longValue()); // same digits; BigInteger.toString is far slower
        } else {
            sb.append(v); // BigInteger, Long, Boolean
        }
    }

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    /** A JSON string literal, ASCII-only (Python's ensure_ascii escaping, lowercase hex). */
    public static void quote(String str, StringBuilder sb) {
        sb.append('"');
        for (int i = 0; i < str.length(); i++) {
            char c = str.charAt(i);
            if (c >= ' ' && c <= '~' && c != '\\' && c != '"') {
                sb.append(c);
                continue;
            }
            switch (c) {
                case '\\': sb.append("\\\\"); break;
                case '"': sb.append("\\\""); break;
                case '\b': sb.append("\\b"); break;
                case '\f': sb.append("\\f"); break;
                case '\n': sb.append("\\n"); break;
                case '\r': sb.append("\\r"); break;
                case '\t': sb.append("\\t"); break;
                default:
                    sb.append("\\u").append(HEX[(c >> 12) & 0xf]).append(HEX[(c >> 8) & 0xf])
                            .append(HEX[(c >> 4) & 0xf]).append(HEX[c & 0xf]);
            }
        }
        sb.append('"');
    }

    /**
     * A value for a dead-letter reason, as the Python reference's {@code _clip} gives it: strings
     * JSON-quoted (first 64 characters), numbers as Python prints them, containers by kind; cut to
     * {@code limit} characters.
     */
    public static String clip(Object value, int limit) {
        String text;
        if (value instanceof String) {
            String str = (String) value;
            int cps = str.codePointCount(0, str.length());
            StringBuilder sb = new StringBuilder();
            quote(cps > 64 ? str.substring(0, str.offsetByCodePoints(0, 64)) : str, sb);
            text = sb.append(cps > 64 ? "..." : "").toString();
        } else if (value instanceof Map) {
            text = "an object";
        } else if (value instanceof List) {
            text = "an array";
        } else if (value instanceof Double) {
            text = pyRepr((Double) value);
        } else {
            text = String.valueOf(value); // null, booleans, integers
        }
        return text.length() <= limit ? text : text.substring(0, limit - 3) + "...";
    }

    /** Python's {@code repr(float)}: the shortest digits that read back as {@code v}, Python's layout. */
    public static String pyRepr(double v) {
        if (v == 0) {
            return (Double.doubleToRawLongBits(v) < 0) ? "-0.0" : "0.0";
        }
        String fixed = fixedRepr(v);
        return fixed != null ? fixed : generalRepr(v);
    }

    private static final double[] POW10 = {
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17,
        1e18, 1e19};

    /**
     * {@link #pyRepr} of the usual reading (fixed notation, 1e-4 <= |v| < 1e15, a short decimal such
     * as 67.025), or null for the general path. With k decimals, the k-decimal m / 10^k nearest to
     * |v| is the only one that can read back as |v| while |v| * 10^k < 2^50 (k-decimals are then
     * more than 4 ulps apart, and the product is within 1/8 of its exact value), so the first k
     * whose m reads back (m and 10^k exact doubles: the division is correctly rounded, as Python's
     * float(str) is) gives the fewest decimals, hence the fewest digits: Python's repr. A reading's
     * values were printed each as Double.toString plus string surgery, a tenth of the parse.
     */
    static String fixedRepr(double v) {
        double a = Math.abs(v);
        if (!(a >= 1e-4 && a < 1e15)) {
            return null;
        }
        for (int k = 0; k < POW10.length; k++) {
            double scaled = a * POW10[k];
            if (scaled >= 0x1p50) {
                return null;
            }
            long m = Math.round(scaled);
            if ((double) m / POW10[k] == a) {
                return fixed(v < 0, m, k);
            }
        }
        return null;
    }

    /** {@code [-]m / 10^k} in Python's fixed layout (at least one decimal, "67.0"). */
    private static String fixed(boolean negative, long m, int k) {
        String d = Long.toString(m);
        StringBuilder sb = new StringBuilder(d.length() + 4);
        if (negative) {
            sb.append('-');
        }
        if (k == 0) {
            return sb.append(d).append(".0").toString();
        }
        if (d.length() <= k) {
            sb.append("0.");
            for (int i = d.length(); i < k; i++) {
                sb.append('0');
            }
            return sb.append(d).toString();
        }
        return sb.append(d, 0, d.length() - k).append('.').append(d, d.length() - k, d.length()).toString();
    }

    /** {@link #pyRepr} of any finite non-zero double, from Double.toString. */
    static String generalRepr(double v) {
        String digits;
        int decpt; // v = 0.<digits> x 10^decpt
        String js = Double.toString(Math.abs(v));
        int e = js.indexOf('E');
        String mant = e < 0 ? js : js.substring(0, e);
        int exp = e < 0 ? 0 : Integer.parseInt(js.substring(e + 1));
        int dot = mant.indexOf('.');
        String all = mant.substring(0, dot) + mant.substring(dot + 1);
        decpt = dot + exp;
        int lead = 0;
        while (lead < all.length() - 1 && all.charAt(lead) == '0') {
            lead++;
        }
        all = all.substring(lead);
        decpt -= lead;
        int trail = all.length();
        while (trail > 1 && all.charAt(trail - 1) == '0') {
            trail--;
        }
        digits = all.substring(0, trail);
        if (digits.length() > 15 || Math.abs(v) < 1e-290) {
            // JDK 17's Double.toString may give more digits than needed (JDK-4511638: long outputs and
            // subnormals): find the shortest that read back as v
            BigDecimal exact = new BigDecimal(Math.abs(v));
            for (int p = 1; p <= 17; p++) {
                BigDecimal r = exact.round(new MathContext(p, RoundingMode.HALF_EVEN));
                if (r.doubleValue() == Math.abs(v)) {
                    String u = r.unscaledValue().toString();
                    decpt = u.length() - r.scale();
                    int t = u.length();
                    while (t > 1 && u.charAt(t - 1) == '0') {
                        t--;
                    }
                    digits = u.substring(0, t);
                    break;
                }
            }
        }
        StringBuilder sb = new StringBuilder(24);
        if (v < 0) {
            sb.append('-');
        }
        int n = digits.length();
        if (decpt <= -4 || decpt > 16) {
            sb.append(digits.charAt(0));
            if (n > 1) {
                sb.append('.').append(digits, 1, n);
            }
            int x = decpt - 1;
            sb.append('e').append(x < 0 ? '-' : '+');
            int ax = Math.abs(x);
            if (ax < 10) {
                sb.append('0');
            }
            sb.append(ax);
        } else if (decpt <= 0) {
            sb.append("0.");
            for (int i = 0; i < -decpt; i++) {
                sb.append('0');
            }
            sb.append(digits);
        } else if (decpt >= n) {
            sb.append(digits);
            for (int i = n; i < decpt; i++) {
                sb.append('0');
            }
            sb.append(".0");
        } else {
            sb.append(digits, 0, decpt).append('.').append(digits, decpt, n);
        }
        return sb.toString();
    }
}
