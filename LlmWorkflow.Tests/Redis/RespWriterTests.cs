using System.Buffers;
using System.Text;
using LlmWorkflow.Pipeline.Redis;

namespace LlmWorkflow.Tests.Redis;

public sealed class RespWriterTests
{
    [Fact]
    public void WritesCommandsAsArraysOfBulkStrings()
    {
        var output = new ArrayBufferWriter<byte>();
        RespWriter.Write(output, new RedisCommand("XINFO GROUPS", ["ké", new byte[] { 1, 2 }, new ReadOnlyMemory<byte>([3]), 7, -8L, 0.5]));

        Assert.Equal(
            "*8\r\n$5\r\nXINFO\r\n$6\r\nGROUPS\r\n$3\r\nké\r\n$2\r\n\u0001\u0002\r\n$1\r\n\u0003\r\n$1\r\n7\r\n$2\r\n-8\r\n$3\r\n0.5\r\n",
            Encoding.UTF8.GetString(output.WrittenSpan));
    }

    [Theory]
    [MemberData(nameof(UnsupportedArguments))]
    public void RejectsArgumentsWithoutAnExplicitEncoding(object argument) =>
        Assert.Throws<ArgumentException>(() => RespWriter.Validate(new RedisCommand("SET", ["key", argument])));

    public static TheoryData<object> UnsupportedArguments() => [TimeSpan.FromSeconds(1), DateTime.UnixEpoch, true, 1.5m];
}
