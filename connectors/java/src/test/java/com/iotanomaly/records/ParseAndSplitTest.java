package com.iotanomaly.records;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.apache.flink.types.Row;
import org.apache.flink.util.OutputTag;
import org.junit.Test;

/** The parse/split operator on Flink's test harness: where each record goes, with which event time. */
public class ParseAndSplitTest {

    private static final long TS = 1_764_547_200_000L; // 2025-12-01T00:00:00Z

    private static OneInputStreamOperatorTestHarness<String, Row> harness() throws Exception {
        OneInputStreamOperatorTestHarness<String, Row> h =
                new OneInputStreamOperatorTestHarness<>(new ParseAndSplit(300_000L));
        h.open();
        return h;
    }

    private static String reading(String device, long ts, double temperature) {
        return "{\"device_id\":\"" + device + "\",\"ts\":" + ts + ",\"temperature\":" + temperature
                + ",\"measurements\":{\"rpm\":1200}}";
    }

    private static List<String> side(OneInputStreamOperatorTestHarness<String, Row> h, OutputTag<String> tag) {
        List<String> out = new ArrayList<>();
        if (h.getSideOutput(tag) != null) {
            for (StreamRecord<String> r : h.getSideOutput(tag)) {
                out.add(r.getValue());
            }
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> json(String line) throws Exception {
        return (Map<String, Object>) StrictJson.parse(line);
    }

    @Test
    public void aValidReadingIsArchivedAndGoesOnWithItsTsAsEventTime() throws Exception {
        OneInputStreamOperatorTestHarness<String, Row> h = harness();
        h.processElement(new StreamRecord<>(reading("d-1", TS, 64.5), 0L));
        List<StreamRecord<? extends Row>> out = h.extractOutputStreamRecords();
        assertEquals(1, out.size());
        assertEquals(TS, out.get(0).getTimestamp());
        Row r = out.get(0).getValue();
        assertEquals("d-1", r.getField(0));
        assertEquals(TS, r.getField(1));
        Row[] sensors = (Row[]) r.getField(2);
        assertArrayEquals(new Row[] {Row.of("temperature", 64.5), Row.of("rpm", 1200.0)}, sensors);
        List<String> lines = side(h, ParseAndSplit.VALID_LINES);
        assertEquals(1, lines.size());
        assertEquals(Readings.parse(reading("d-1", TS, 64.5), TS, 300_000L).canonical, lines.get(0));
        assertTrue(side(h, ParseAndSplit.DEAD_LETTERS).isEmpty());
        assertTrue(side(h, ParseAndSplit.LATE).isEmpty());
        h.close();
    }

    @Test
    public void aBadRecordIsOnlyADeadLetterWithItsReason() throws Exception {
        OneInputStreamOperatorTestHarness<String, Row> h = harness();
        h.processElement(new StreamRecord<>("{\"device_id\":\"d-1\",\"ts\":\"soon\",\"temperature\":1}", 0L));
        h.processElement(new StreamRecord<>("not json", 0L));
        h.processElement(new StreamRecord<>(null, 0L));
        assertTrue(h.extractOutputStreamRecords().isEmpty());
        assertTrue(side(h, ParseAndSplit.VALID_LINES).isEmpty());
        List<String> dead = side(h, ParseAndSplit.DEAD_LETTERS);
        assertEquals(3, dead.size());
        assertTrue(json(dead.get(0)).get("reason").toString().contains("ts"));
        assertEquals("not json", json(dead.get(1)).get("record"));
        for (String d : dead) {
            assertTrue(d, json(d).get("received_at") instanceof String);
        }
        h.close();
    }

    @Test
    public void aReadingAtOrBehindTheWatermarkIsArchivedAndListedLateNotPassedOn() throws Exception {
        OneInputStreamOperatorTestHarness<String, Row> h = harness();
        h.processWatermark(new Watermark(TS + 5_500));
        h.processElement(new StreamRecord<>(reading("d-1", TS, 1.0), 0L));
        h.processElement(new StreamRecord<>(reading("d-1", TS + 5_500, 2.0), 0L)); // at the watermark
        h.processElement(new StreamRecord<>(reading("d-1", TS + 5_501, 3.0), 0L)); // after it: on time
        List<StreamRecord<? extends Row>> out = h.extractOutputStreamRecords();
        assertEquals(1, out.size());
        assertEquals(TS + 5_501, out.get(0).getTimestamp());
        assertEquals(3, side(h, ParseAndSplit.VALID_LINES).size());
        List<String> late = side(h, ParseAndSplit.LATE);
        assertEquals(2, late.size());
        Map<String, Object> first = json(late.get(0));
        assertEquals("late: 5 s behind the watermark; not in detection or aggregates", first.get("reason"));
        assertEquals(side(h, ParseAndSplit.VALID_LINES).get(0), first.get("record"));
        assertTrue(first.get("received_at").toString().matches("\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3}"));
        assertEquals("late: 0 s behind the watermark; not in detection or aggregates", json(late.get(1)).get("reason"));
        assertEquals(1, h.getOutput().stream().filter(o -> o instanceof Watermark).count()); // forwarded
        h.close();
    }

    @Test
    public void aNegativeMaxFutureIsRefused() {
        try {
            new ParseAndSplit(-1);
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage().contains("maxFutureMs"));
            return;
        }
        throw new AssertionError("accepted maxFutureMs -1");
    }
}
