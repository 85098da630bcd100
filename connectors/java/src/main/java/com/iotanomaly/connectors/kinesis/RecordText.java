package com.iotanomaly.connectors.kinesis;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * Lossless framing of a Kinesis record's bytes as one {@code String}, so that no record can fail the
 * reader.
 *
 * <p>Contract:
 *
 * <ul>
 *   <li>0 bytes: {@code ""} (the empty string).
 *   <li>Valid UTF-8 (strict: no overlong forms, no encoded surrogates/CESU-8, nothing above U+10FFFF)
 *       whose decoded text does not start with U+0000: the decoded text.
 *   <li>Anything else: {@link #BINARY_PREFIX} ({@code "\\u0000base64:"}) followed by the standard
 *       base64 (RFC 4648, with padding) of the raw bytes.
 * </ul>
 *
 * <p>A decoded text can never start with U+0000, so the prefix is unambiguous: a consumer decodes
 * {@code s.startsWith(BINARY_PREFIX) ? base64(s.substring(prefix length)) : s.getBytes(UTF_8)} and
 * gets the original bytes back in every case.
 */
public final class RecordText {

    /** Marks a record whose bytes are not (NUL-free-leading) UTF-8 text; base64 follows. */
    public static final String BINARY_PREFIX = "\u0000base64:";

    private RecordText() {}

    /** The string form of {@code data} (see the class contract); never throws for any input. */
    public static String encode(byte[] data) {
        if (data == null || data.length == 0) {
            return "";
        }
        if (data[0] != 0) {
            String text = decodeStrict(data);
            if (text != null) {
                return text;
            }
        }
        return BINARY_PREFIX + Base64.getEncoder().encodeToString(data);
    }

    /** True when {@code text} carries binary (base64) data rather than decoded UTF-8 text. */
    public static boolean isBinary(String text) {
        return text != null && text.startsWith(BINARY_PREFIX);
    }

    /** Strict UTF-8 decoding; null when the bytes are not valid UTF-8. */
    public static String decodeStrict(byte[] data) {
        boolean ascii = true;
        for (byte b : data) {
            if (b < 0) {
                ascii = false;
                break;
            }
        }
        if (ascii) {
            // Fast path: ASCII is valid UTF-8 and maps byte for byte.
            return new String(data, StandardCharsets.ISO_8859_1);
        }
        try {
            CharBuffer chars = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(data));
            return chars.toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }
}
