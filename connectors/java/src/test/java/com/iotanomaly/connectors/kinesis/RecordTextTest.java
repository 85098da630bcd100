package com.iotanomaly.connectors.kinesis;

import org.junit.Test;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.Random;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

public class RecordTextTest {

    private static byte[] bytes(int... values) {
        byte[] b = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            b[i] = (byte) values[i];
        }
        return b;
    }

    /** What the Python side does: strip the prefix and base64-decode, else UTF-8 encode. */
    private static byte[] decode(String s) {
        if (s.startsWith(RecordText.BINARY_PREFIX)) {
            return Base64.getDecoder().decode(s.substring(RecordText.BINARY_PREFIX.length()));
        }
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static void assertBinary(byte[] data) {
        String s = RecordText.encode(data);
        assertEquals(RecordText.BINARY_PREFIX + Base64.getEncoder().encodeToString(data), s);
        assertTrue(RecordText.isBinary(s));
        assertArrayEquals(data, decode(s));
    }

    @Test
    public void validUtf8IsTheDecodedText() {
        String text = "{\"device_id\":\"press-1\",\"note\":\"Grüße ✓ 𝄞\"}";
        assertEquals(text, RecordText.encode(text.getBytes(StandardCharsets.UTF_8)));
        assertEquals("plain ascii", RecordText.encode("plain ascii".getBytes(StandardCharsets.US_ASCII)));
        assertFalse(RecordText.isBinary(text));
    }

    @Test
    public void emptyDataIsTheEmptyString() {
        assertEquals("", RecordText.encode(new byte[0]));
        assertEquals("", RecordText.encode(null));
    }

    @Test
    public void invalidUtf8IsBase64WithThePrefix() {
        assertBinary(bytes(0xff, 0xfe, 0x00, 0x41));
        assertBinary(bytes(0x7b, 0x22, 0xc3)); // truncated 2-byte sequence at the end
        assertBinary(bytes(0x80)); // lone continuation byte
        assertBinary(bytes(0xf5, 0x80, 0x80, 0x80)); // beyond U+10FFFF
        assertEquals("\u0000base64:/w==", RecordText.encode(bytes(0xff))); // padding kept
    }

    @Test
    public void overlongEncodingsAreBinary() {
        assertBinary(bytes(0xc0, 0xaf)); // overlong '/'
        assertBinary(bytes(0xe0, 0x80, 0xaf)); // 3-byte overlong '/'
        assertBinary(bytes(0xc0, 0x80)); // "modified UTF-8" NUL
        assertBinary(bytes(0xf0, 0x80, 0x80, 0xaf)); // 4-byte overlong
    }

    @Test
    public void encodedSurrogatesCesu8AreBinary() {
        assertBinary(bytes(0xed, 0xa0, 0x80)); // lone high surrogate U+D800
        assertBinary(bytes(0xed, 0xbf, 0xbf)); // lone low surrogate U+DFFF
        // U+1D11E as a CESU-8 surrogate pair instead of one 4-byte sequence
        assertBinary(bytes(0xed, 0xa0, 0xb4, 0xed, 0xb4, 0x9e));
    }

    @Test
    public void textStartingWithNulIsBinarySoThePrefixStaysUnambiguous() {
        assertBinary("\u0000base64:QUJD".getBytes(StandardCharsets.UTF_8));
        assertBinary(bytes(0x00));
        // NUL later in the text is fine
        assertEquals("a\u0000b", RecordText.encode(bytes(0x61, 0x00, 0x62)));
    }

    @Test
    public void oneMegabyteRoundTrips() {
        byte[] text = new byte[1 << 20];
        Arrays.fill(text, (byte) 'x');
        text[0] = '{';
        String s = RecordText.encode(text);
        assertEquals(1 << 20, s.length());
        assertArrayEquals(text, decode(s));

        byte[] random = new byte[1 << 20];
        new Random(42).nextBytes(random);
        random[0] = (byte) 0xff; // certainly not UTF-8
        assertBinary(random);

        StringBuilder multi = new StringBuilder();
        while (multi.length() < (1 << 19)) {
            multi.append("ä€𝄞");
        }
        byte[] utf8 = multi.toString().getBytes(StandardCharsets.UTF_8);
        assertEquals(multi.toString(), RecordText.encode(utf8));
    }
}
