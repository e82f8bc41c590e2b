using System.Buffers;
using System.Text;
using LlmWorkflow.Pipeline.Redis;

namespace LlmWorkflow.Tests.Redis;

public sealed class RespReaderTests
{
    [Fact]
    public void ReadsEveryScalarType()
    {
        var replies = ReadAll("+OK\r\n-ERR bad thing\r\n:-42\r\n$5\r\nhello\r\n$0\r\n\r\n$-1\r\n*-1\r\n");

        Assert.Equal(
            [RedisValueKind.SimpleString, RedisValueKind.Error, RedisValueKind.Integer, RedisValueKind.BulkString,
             RedisValueKind.BulkString, RedisValueKind.Null, RedisValueKind.Null],
            replies.Select(r => r.Kind));
        Assert.Equal("OK", replies[0].AsString());
        Assert.True(replies[1].IsError);
        Assert.Equal("ERR bad thing", replies[1].AsString());
        Assert.Equal(-42, replies[2].AsInt64());
        Assert.Equal("hello", replies[3].AsString());
        Assert.Equal("", replies[4].AsString());
        Assert.True(replies[5].IsNull);
        Assert.Null(replies[5].AsString());
        Assert.Empty(replies[6].AsArray());
    }

    [Fact]
    public void ReadsNestedArraysWithNulls()
    {
        var reply = Assert.Single(ReadAll("*3\r\n*2\r\n$2\r\nid\r\n*0\r\n$-1\r\n:7\r\n"));

        var items = reply.AsArray();
        Assert.Equal(3, items.Count);
        Assert.Equal("id", items[0].AsArray()[0].AsString());
        Assert.Empty(items[0].AsArray()[1].AsArray());
        Assert.True(items[1].IsNull);
        Assert.Equal(7, items[2].AsInt64());
    }

    [Fact]
    public void BulkStringsAreBinarySafe()
    {
        byte[] payload = [0, 13, 10, 255, (byte)'$'];
        var wire = Concat(Encoding.ASCII.GetBytes("$5\r\n"), payload, "\r\n"u8.ToArray());

        Assert.Equal(payload, Assert.Single(ReadAll(wire)).AsBytes());
    }

    [Fact]
    public void IncompleteRepliesAreLeftUnconsumedAtEverySplitPoint()
    {
        var wire = Encoding.UTF8.GetBytes("*2\r\n$3\r\nfoo\r\n*2\r\n:1\r\n+bär\r\n");
        for (var cut = 0; cut < wire.Length; cut++)
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(wire, 0, cut));
            Assert.False(RespReader.TryRead(ref reader, out _));
            Assert.Equal(0, reader.Consumed);
        }
    }

    [Fact]
    public void ReadsRepliesSplitAcrossBufferSegments()
    {
        var wire = Encoding.UTF8.GetBytes("*2\r\n$11\r\nhello world\r\n:12345\r\n");
        for (var size = 1; size <= 4; size++)
        {
            var reader = new SequenceReader<byte>(Segments(wire, size));
            Assert.True(RespReader.TryRead(ref reader, out var reply));
            Assert.Equal("hello world", reply.AsArray()[0].AsString());
            Assert.Equal(12345, reply.AsArray()[1].AsInt64());
            Assert.True(reader.End);
        }
    }

    [Theory]
    [InlineData("?what\r\n")]
    [InlineData(":12x\r\n")]
    [InlineData("$3\r\nabcd\r\n")]
    [InlineData("*9223372036854775807\r\n")]
    [InlineData("$999999999999\r\n")]
    public void ProtocolErrorsFailTheConnection(string wire) =>
        Assert.Throws<RedisConnectionException>(() => ReadAll(wire));

    [Fact]
    public void ValueConversionsRejectTheWrongKind()
    {
        var reply = Assert.Single(ReadAll("*1\r\n:1\r\n"));
        Assert.Throws<InvalidCastException>(() => reply.AsString());
        Assert.Throws<InvalidCastException>(() => RedisValue.SimpleString("x").AsArray());
        Assert.Equal(12, RedisValue.BulkString("12"u8.ToArray()).AsInt64());
        Assert.Equal(0.25, RedisValue.BulkString("0.25"u8.ToArray()).AsDouble());
        Assert.Equal(3, RedisValue.Integer(3).AsDouble());
        Assert.Throws<InvalidCastException>(() => RedisValue.Null.AsDouble());
        Assert.Equal("[1, (nil), (error) ERR x]", RedisValue.Array([RedisValue.Integer(1), RedisValue.Null, RedisValue.Error("ERR x")]).ToString());
    }

    private static List<RedisValue> ReadAll(string wire) => ReadAll(Encoding.UTF8.GetBytes(wire));

    private static List<RedisValue> ReadAll(byte[] wire)
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(wire));
        List<RedisValue> replies = [];
        while (RespReader.TryRead(ref reader, out var reply))
        {
            replies.Add(reply);
        }
        Assert.True(reader.End, "all bytes consumed");
        return replies;
    }

    private static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(p => p)];

    private static ReadOnlySequence<byte> Segments(byte[] data, int size)
    {
        var first = new Segment(data.AsMemory(0, Math.Min(size, data.Length)), 0);
        var last = first;
        for (var offset = size; offset < data.Length; offset += size)
        {
            last = last.Append(data.AsMemory(offset, Math.Min(size, data.Length - offset)));
        }
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
