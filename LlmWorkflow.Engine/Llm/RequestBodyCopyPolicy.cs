using System.ClientModel;
using System.ClientModel.Primitives;

namespace LlmWorkflow.Engine.Llm;

/// <summary>
/// Sends each request body of an OpenAI SDK client from an array of its own size, and hands the SDK's pooled buffer
/// back before the request goes out.
/// </summary>
/// <remarks>
/// The SDK writes a body into buffers rented from the shared array pool (at least 16 KB) and returns them only when
/// the call ends, after the answer. With hundreds of calls waiting on providers the pool runs dry (a trace of one
/// worker: 1,775 of 3,000 bodies found it empty, and 1,732 buffers were dropped on return), so the bodies and every
/// other renter in the worker (JSON writers, the answer guard) allocate fresh arrays instead. A body is a few hundred
/// bytes to a few kilobytes: the copy costs far less than the buffer the pool could not serve.
/// </remarks>
internal sealed class RequestBodyCopyPolicy : PipelinePolicy
{
    public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
    {
        if (message.Request.Content is { } content)
        {
            using var copy = new MemoryStream(InitialCapacity(content));
            content.WriteTo(copy, message.CancellationToken);
            Replace(message, content, copy);
        }

        ProcessNext(message, pipeline, currentIndex);
    }

    public override async ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
    {
        if (message.Request.Content is { } content)
        {
            using var copy = new MemoryStream(InitialCapacity(content));
            await content.WriteToAsync(copy, message.CancellationToken).ConfigureAwait(false);
            Replace(message, content, copy);
        }

        await ProcessNextAsync(message, pipeline, currentIndex).ConfigureAwait(false);
    }

    private static int InitialCapacity(BinaryContent content) =>
        content.TryComputeLength(out var length) && length is > 0 and <= int.MaxValue ? (int)length : 1024;

    private static void Replace(PipelineMessage message, BinaryContent original, MemoryStream copy)
    {
        message.Request.Content = BinaryContent.Create(new BinaryData(copy.GetBuffer().AsMemory(0, (int)copy.Length)));
        // The request no longer owns the original body, so it would not dispose it: returning its buffers is ours.
        original.Dispose();
    }
}
