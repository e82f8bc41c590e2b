using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmWorkflow.Engine.Execution;

/// <summary>Keeps step records small: large outputs are replaced by a pointer object with their size.</summary>
public static class StepOutputCap
{
    public const int MaxBytes = 256 * 1024;

    // As JsonNode.ToJsonString writes: the default encoder and the serializer's default depth limit.
    private static readonly JsonWriterOptions CountingOptions = new() { MaxDepth = 64 };

    [ThreadStatic]
    private static ByteCounter? _counter;

    [ThreadStatic]
    private static Utf8JsonWriter? _writer;

    /// <summary>A copy of <paramref name="output"/> safe to keep in a record, or <c>{"truncated": true, "size_bytes": n}</c>.</summary>
    public static JsonNode? Apply(JsonNode? output)
    {
        if (output is null)
        {
            return null;
        }

        var size = SizeInBytes(output);
        return size > MaxBytes
            ? new JsonObject { ["truncated"] = true, ["size_bytes"] = size }
            : output.DeepClone();
    }

    /// <summary>
    /// The length of <paramref name="node"/>'s compact JSON in UTF-8, as <c>ToJsonString</c> would write it, counted
    /// by a writer whose bytes go nowhere: every step's output is measured, and the string was only ever counted.
    /// </summary>
    public static long SizeInBytes(JsonNode node)
    {
        var counter = _counter ??= new ByteCounter();
        counter.Count = 0;
        var writer = _writer;
        if (writer is null)
        {
            _writer = writer = new Utf8JsonWriter(counter, CountingOptions);
        }
        else
        {
            writer.Reset(counter);
        }

        node.WriteTo(writer);
        writer.Flush();
        return counter.Count;
    }

    /// <summary>Counts what is written into one scratch buffer, reused for every write.</summary>
    private sealed class ByteCounter : IBufferWriter<byte>
    {
        private readonly byte[] _scratch = new byte[4096];

        public long Count { get; set; }

        public void Advance(int count) => Count += count;

        public Memory<byte> GetMemory(int sizeHint = 0) => Scratch(sizeHint);

        public Span<byte> GetSpan(int sizeHint = 0) => Scratch(sizeHint);

        // The writer asks for room for a whole long string value at once; such a buffer is used once, not kept by the
        // thread (a 10 MB answer would otherwise pin a 60 MB scratch to a pool thread for good).
        private byte[] Scratch(int sizeHint) => sizeHint > _scratch.Length ? new byte[sizeHint] : _scratch;
    }
}
