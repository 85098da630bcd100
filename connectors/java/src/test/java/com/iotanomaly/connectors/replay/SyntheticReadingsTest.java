package com.iotanomaly.connectors.replay;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

public class SyntheticReadingsTest {

    private final SyntheticReadings gen = new SyntheticReadings(1000);

    @Test
    public void readingsAreAPureFunctionOfTheIndexExceptTheirTimestamp() {
        String a = gen.reading(4242, 1_000L);
        String b = gen.reading(4242, 2_000L);
        assertEquals(a.replace("\"ts\":1000", "\"ts\":2000"), b);
        assertTrue(a, a.startsWith("{\"device_id\":\"machine-00242\",\"ts\":1000,\"seq\":4242,\"temperature\":"));
        assertTrue(a, a.endsWith("}"));
    }

    @Test
    public void thresholdBreachesAndSpikesAreWhereTheDocumentationSays() {
        String breach = gen.reading(3 * SyntheticReadings.THRESHOLD_EVERY, 0L);
        assertTrue(breach, breach.contains("\"temperature\":105.000"));
        String spike = gen.reading(5 * SyntheticReadings.SPIKE_EVERY + 1, 0L);
        assertTrue(spike, spike.contains("\"vibration\":3.7000"));
        for (long i = 2; i < 2003; i++) {
            String normal = gen.reading(i, 0L);
            assertFalse(normal, normal.contains("105.000") || normal.contains("\"vibration\":3.7000"));
        }
    }

    @Test
    public void eachDeviceBelongsToOneReaderAndEveryDeviceToSome() {
        int devices = 1001;
        int readers = 3;
        java.util.Map<Long, Integer> owner = new java.util.HashMap<>();
        for (int r = 0; r < readers; r++) {
            SyntheticReadings g = new SyntheticReadings(devices);
            g.owner(r, readers);
            for (long i = 5_000L * r; i < 5_000L * r + 2_000; i++) {  // a reader's range: any indices
                long d = g.deviceOf(i);
                assertTrue(d >= 0 && d < devices);
                Integer before = owner.put(d, r);
                assertTrue("device " + d + " read by " + before + " and " + r, before == null || before == r);
            }
        }
        assertEquals(devices, owner.size());
        SyntheticReadings few = new SyntheticReadings(2);  // more readers than devices: the third shares
        few.owner(2, 3);
        assertEquals(1L, few.deviceOf(1));
    }

    @Test(expected = IllegalArgumentException.class)
    public void aFleetNeedsADevice() {
        new SyntheticReadings(0);
    }
}
