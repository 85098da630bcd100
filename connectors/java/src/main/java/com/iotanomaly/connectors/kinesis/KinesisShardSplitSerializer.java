package com.iotanomaly.connectors.kinesis;

import org.apache.flink.core.io.SimpleVersionedSerializer;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.LinkedHashSet;
import java.util.Set;

/** Versioned binary form of {@link KinesisShardSplit} (checkpoints and split assignment). */
public final class KinesisShardSplitSerializer implements SimpleVersionedSerializer<KinesisShardSplit> {

    public static final KinesisShardSplitSerializer INSTANCE = new KinesisShardSplitSerializer();

    private static final int VERSION = 1;

    @Override
    public int getVersion() {
        return VERSION;
    }

    @Override
    public byte[] serialize(KinesisShardSplit split) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(128);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            write(split, out);
        }
        return bytes.toByteArray();
    }

    @Override
    public KinesisShardSplit deserialize(int version, byte[] serialized) throws IOException {
        if (version != VERSION) {
            throw new IOException("Unknown KinesisShardSplit serializer version " + version);
        }
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized))) {
            return read(in);
        }
    }

    static void write(KinesisShardSplit split, DataOutputStream out) throws IOException {
        out.writeUTF(split.getStreamArn());
        out.writeUTF(split.getShardId());
        out.writeUTF(split.getStartType().name());
        out.writeBoolean(split.getStartingSequenceNumber() != null);
        if (split.getStartingSequenceNumber() != null) {
            out.writeUTF(split.getStartingSequenceNumber());
        }
        out.writeLong(split.getStartingTimestampMillis());
        out.writeInt(split.getParentShardIds().size());
        for (String parent : split.getParentShardIds()) {
            out.writeUTF(parent);
        }
        out.writeBoolean(split.isFinished());
    }

    static KinesisShardSplit read(DataInputStream in) throws IOException {
        String streamArn = in.readUTF();
        String shardId = in.readUTF();
        KinesisShardSplit.StartType startType = KinesisShardSplit.StartType.valueOf(in.readUTF());
        String sequenceNumber = in.readBoolean() ? in.readUTF() : null;
        long timestamp = in.readLong();
        int parents = in.readInt();
        Set<String> parentIds = new LinkedHashSet<>();
        for (int i = 0; i < parents; i++) {
            parentIds.add(in.readUTF());
        }
        boolean finished = in.readBoolean();
        return new KinesisShardSplit(
                streamArn, shardId, startType, sequenceNumber, timestamp, parentIds, finished);
    }
}
