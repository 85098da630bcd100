package com.iotanomaly.records;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * Runs {@link Readings#parse} over JSON lines {@code {"record": ..., "now_ms": ..., "max_future_ms": ...}}
 * read from stdin and prints one result line per input: {@code {"error", "canonical", "device_id",
 * "ts", "values", "dead_letter"}}. The parity tests compare it with the Python reference.
 *
 * <pre>java -cp build/libs/pyflink-dependencies.jar com.iotanomaly.records.ParseCli &lt; in.jsonl</pre>
 */
public final class ParseCli {

    private ParseCli() {}

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        PrintStream out = new PrintStream(System.out, false, "UTF-8");
        String line;
        int n = 0;
        while ((line = in.readLine()) != null) {
            n++;
            if (line.isEmpty()) {
                continue;
            }
            Map<?, ?> req;
            try {
                req = (Map<?, ?>) StrictJson.parse(line);
            } catch (StrictJson.Failure | ClassCastException e) {
                System.err.println("line " + n + ": not a request object: " + e.getMessage());
                System.exit(2);
                return;
            }
            Object record = req.get("record");
            String text = record instanceof String ? (String) record : null;
            long now = ((BigInteger) req.get("now_ms")).longValueExact();
            Object maxFuture = req.get("max_future_ms");
            long maxFutureMs = maxFuture instanceof BigInteger ? ((BigInteger) maxFuture).longValueExact() : 300_000L;
            out.println(resultJson(Readings.parse(text, now, maxFutureMs), text, now));
        }
        out.flush();
    }

    static String resultJson(Readings.Result r, String record, long now) {
        StringBuilder sb = new StringBuilder(256).append('{');
        sb.append("\"error\":");
        quoteOrNull(r.error, sb);
        sb.append(",\"canonical\":");
        quoteOrNull(r.canonical, sb);
        sb.append(",\"device_id\":");
        quoteOrNull(r.deviceId, sb);
        sb.append(",\"ts\":").append(r.ok() ? String.valueOf(r.tsMs) : "null");
        sb.append(",\"values\":{");
        for (int i = 0; i < r.names.length; i++) {
            sb.append(i == 0 ? "" : ",");
            StrictJson.quote(r.names[i], sb);
            sb.append(':').append(StrictJson.pyRepr(r.values[i]));
        }
        sb.append("},\"dead_letter\":");
        quoteOrNull(r.ok() ? null : Readings.deadLetter(r, record, now), sb);
        return sb.append('}').toString();
    }

    private static void quoteOrNull(String s, StringBuilder sb) {
        if (s == null) {
            sb.append("null");
        } else {
            StrictJson.quote(s, sb);
        }
    }
}
