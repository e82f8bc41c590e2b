using System.Net;
using System.Text;
using LlmWorkflow.Engine.Llm;

namespace LlmWorkflow.Tests.Llm;

/// <summary>
/// <see cref="AnswerGuard"/> reads answers through buffers from the shared array pools. Hundreds of answers read at
/// once, arriving in small pieces that split multi-byte characters, each come out as their own bytes (invalid ones
/// replaced, counted); a response disposed while its read waits on the network gets no buffer back until that read
/// has ended, so the late bytes land in a buffer no other reader holds.
/// </summary>
[UnitTest]
public sealed class AnswerGuardTests
{
    [Fact]
    public async Task AnswersReadAtOnceEachComeOutAsTheirOwnBytes()
    {
        var ct = TestContext.Current.CancellationToken;
        var reads = Enumerable.Range(0, 300).Select(async i =>
        {
            // A body longer than one 16 KB read, with 2-, 3- and 4-byte characters that 7-byte pieces split.
            var text = string.Concat(Enumerable.Repeat($"answer {i}: é€😀 ", 1_200));
            var body = Encoding.UTF8.GetBytes(text);
            var invalid = i % 3 == 0;
            byte[] sent = invalid ? [.. body, 0xFF, .. body] : body;
            var repairs = new AnswerRepairs();
            using var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(new PiecesStream(sent, 7)) };
            AnswerGuard.Current = repairs;
            AnswerGuard.Apply(response, 10 * 1024 * 1024);
            var read = await response.Content.ReadAsByteArrayAsync(ct);

            var expected = invalid ? Encoding.UTF8.GetBytes(text + "\uFFFD" + text) : body;
            Assert.True(expected.AsSpan().SequenceEqual(read), $"answer {i} came out changed");
            Assert.Equal(invalid ? 1 : 0, repairs.Replaced);
        });

        await Task.WhenAll(reads);
    }

    [Fact]
    public async Task AResponseDisposedWhileItsReadWaitsKeepsItsBuffersUntilTheReadEnds()
    {
        var ct = TestContext.Current.CancellationToken;
        var waiting = new WaitingStream();
        var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(waiting) };
        AnswerGuard.Apply(response, 1024 * 1024);
        var guarded = await response.Content.ReadAsStreamAsync(ct);
        var read = guarded.ReadAsync(new byte[64], ct).AsTask();
        var target = await waiting.Reading.WaitAsync(TimeSpan.FromSeconds(10), ct);

        response.Dispose();
        // Were the guard's input buffer back in the pool, these 16 KB rentals would get it (the pool hands out the
        // array returned last on this thread first); the waiting read still owns it.
        var rented = Enumerable.Range(0, 4).Select(_ => System.Buffers.ArrayPool<byte>.Shared.Rent(16 * 1024)).ToList();
        Assert.DoesNotContain(rented, array => ReferenceEquals(array, target));
        rented.ForEach(array => System.Buffers.ArrayPool<byte>.Shared.Return(array));

        waiting.Complete("late"u8.ToArray());
        Assert.Equal(4, await read.WaitAsync(TimeSpan.FromSeconds(10), ct));
    }

    /// <summary>Serves its bytes a few at a time, each read completing asynchronously, as a slow network does.</summary>
    private sealed class PiecesStream(byte[] bytes, int piece) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => bytes.Length;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            var n = Math.Min(Math.Min(piece, buffer.Length), bytes.Length - _position);
            bytes.AsSpan(_position, n).CopyTo(buffer.Span);
            _position += n;
            return n;
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>A first read that waits until the test completes it, and exposes the array it was given.</summary>
    private sealed class WaitingStream : Stream
    {
        private readonly TaskCompletionSource<byte[]> _reading = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource<byte[]> _data = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private bool _served;

        public Task<byte[]> Reading => _reading.Task;

        public void Complete(byte[] data) => _data.SetResult(data);

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_served)
            {
                return 0;
            }

            _served = true;
            System.Runtime.InteropServices.MemoryMarshal.TryGetArray<byte>(buffer, out var segment);
            _reading.SetResult(segment.Array!);
            var data = await _data.Task;
            data.CopyTo(buffer);
            return data.Length;
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
