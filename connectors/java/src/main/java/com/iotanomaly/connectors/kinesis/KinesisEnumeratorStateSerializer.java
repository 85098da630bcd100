package com.iotanomaly.connectors.kinesis;

import org.apache.flink.core.io.SimpleVersionedSerializer;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Versioned binary form of {@link KinesisEnumeratorState}. Version 2 appends the pinned LATEST start
 * time; version 1 (without it) is still read.
 */
public final class KinesisEnumeratorStateSerializer
        implements SimpleVersionedSerializer<KinesisEnumeratorState> {

    private static final int VERSION = 2;

    @Override
    public int getVersion() {
        return VERSION;
    }

    @Override
    public byte[] serialize(KinesisEnumeratorState state) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(256);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            writeIds(state.getAssignedShardIds(), out);
            writeIds(state.getFinishedShardIds(), out);
            out.writeInt(state.getUnassignedSplits().size());
            for (KinesisShardSplit split : state.getUnassignedSplits()) {
                KinesisShardSplitSerializer.write(split, out);
            }
            out.writeBoolean(state.isInitialDiscoveryDone());
            out.writeLong(state.getPinnedStartMillis());
        }
        return bytes.toByteArray();
    }

    @Override
    public KinesisEnumeratorState deserialize(int version, byte[] serialized) throws IOException {
        if (version != 1 && version != 2) {
            throw new IOException("Unknown KinesisEnumeratorState serializer version " + version);
        }
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized))) {
            Set<String> assigned = readIds(in);
            Set<String> finished = readIds(in);
            int n = in.readInt();
            List<KinesisShardSplit> unassigned = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                unassigned.add(KinesisShardSplitSerializer.read(in));
            }
            boolean initialDiscoveryDone = in.readBoolean();
            long pinnedStartMillis = version >= 2 ? in.readLong() : -1L;
            return new KinesisEnumeratorState(
                    assigned, finished, unassigned, initialDiscoveryDone, pinnedStartMillis);
        }
    }

    private static void writeIds(Set<String> ids, DataOutputStream out) throws IOException {
        out.writeInt(ids.size());
        for (String id : ids) {
            out.writeUTF(id);
        }
    }

    private static Set<String> readIds(DataInputStream in) throws IOException {
        int n = in.readInt();
        Set<String> ids = new LinkedHashSet<>();
        for (int i = 0; i < n; i++) {
            ids.add(in.readUTF());
        }
        return ids;
    }
}
