using System.Buffers;
using System.Text;

namespace LlmWorkflow.Engine.Llm;

/// <summary>
/// Guards the body of a provider's successful answer before the SDK parses it: at most
/// <see cref="LlmOptions.MaxAnswerBytes"/> bytes are read (beyond that <see cref="AnswerTooLargeException"/>), and
/// bytes that are not valid UTF-8 are replaced by U+FFFD instead of making the SDK's JSON parser throw. Either way the
/// answer was paid for once and is never asked for again because of its content. The replacements are counted in
/// <see cref="Current"/>, which the gateway reads into <see cref="LlmCallResult.InvalidUtf8Replaced"/>.
/// </summary>
internal static class AnswerGuard
{
    private static readonly AsyncLocal<AnswerRepairs?> CurrentRepairs = new();

    /// <summary>The repair count of the call in flight on this async flow (set by the gateway around each attempt).</summary>
    public static AnswerRepairs? Current
    {
        get => CurrentRepairs.Value;
        set => CurrentRepairs.Value = value;
    }

    /// <summary>Wraps a successful response's content; refuses at once a body whose declared length is over the limit.</summary>
    public static void Apply(HttpResponseMessage response, long maxBytes)
    {
        var original = response.Content;
        if (original.Headers.ContentLength is { } declared && declared > maxBytes)
        {
            throw new AnswerTooLargeException(declared, maxBytes);
        }

        var guarded = new StreamContent(new GuardedStream(original, maxBytes, Current));
        foreach (var header in original.Headers.Where(h => !h.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)))
        {
            guarded.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }

        response.Content = guarded;
    }

    /// <summary>
    /// Reads the original body through a UTF-8 decoder with replacement (it keeps partial sequences across reads, so
    /// a character split between two network reads is not damaged) and re-encodes it: valid UTF-8 passes unchanged.
    /// Its buffers come from the shared array pools and go back once the body is read or the stream disposed: fresh
    /// ones were 48 KB per answer, a third of what a worker allocated per LLM job.
    /// </summary>
    private sealed class GuardedStream(HttpContent content, long maxBytes, AnswerRepairs? repairs) : Stream
    {
        private const int ChunkBytes = 16 * 1024;
        private readonly Decoder _decoder = new UTF8Encoding(false, throwOnInvalidBytes: false).GetDecoder();
        private readonly Lock _gate = new();
        private byte[]? _input;
        private char[]? _chars;
        private byte[]? _output;
        private int _outputStart;
        private int _outputEnd;
        private long _read;
        private bool _ended;
        private bool _reading;
        private bool _disposed;
        private Stream? _source;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) =>
            ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                _reading = true;
            }

            try
            {
                while (_outputStart == _outputEnd)
                {
                    if (_ended)
                    {
                        return 0;
                    }

                    await FillAsync(cancellationToken).ConfigureAwait(false);
                }

                var n = Math.Min(buffer.Length, _outputEnd - _outputStart);
                _output.AsSpan(_outputStart, n).CopyTo(buffer.Span);
                _outputStart += n;
                return n;
            }
            finally
            {
                lock (_gate)
                {
                    _reading = false;
                    // Read to the end, or disposed while reading: no later read needs the buffers.
                    if (_disposed || (_ended && _outputStart == _outputEnd))
                    {
                        ReturnBuffers();
                    }
                }
            }
        }

        private async Task FillAsync(CancellationToken cancellationToken)
        {
            _source ??= await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            _input ??= ArrayPool<byte>.Shared.Rent(ChunkBytes);
            // A chunk of bytes decodes to at most as many chars, plus the decoder's carried partial sequence.
            _chars ??= ArrayPool<char>.Shared.Rent(_input.Length + 4);
            var read = await _source.ReadAsync(_input, cancellationToken).ConfigureAwait(false);
            _read += read;
            if (_read > maxBytes)
            {
                throw new AnswerTooLargeException(_read, maxBytes);
            }

            _ended = read == 0;
            var charCount = _decoder.GetChars(_input, 0, read, _chars, 0, flush: _ended);
            if (repairs is not null)
            {
                // U+FFFD produced from bytes that did not hold it: count the difference to the valid input.
                repairs.Add(CountReplacements(_input.AsSpan(0, read), _chars.AsSpan(0, charCount)));
            }

            var byteCount = Encoding.UTF8.GetByteCount(_chars, 0, charCount);
            if (_output is null || _output.Length < byteCount)
            {
                // Only this read uses the buffers (the gate holds Dispose off them), so the old one can go back now.
                Return(ref _output);
                _output = ArrayPool<byte>.Shared.Rent(Math.Max(byteCount, 1));
            }

            _outputStart = 0;
            _outputEnd = Encoding.UTF8.GetBytes(_chars, 0, charCount, _output, 0);
        }

        /// <summary>Called under <see cref="_gate"/> once no read can use the buffers any more.</summary>
        private void ReturnBuffers()
        {
            Return(ref _input);
            Return(ref _chars);
            Return(ref _output);
        }

        private static void Return<T>(ref T[]? buffer)
        {
            if (buffer is not null)
            {
                ArrayPool<T>.Shared.Return(buffer);
                buffer = null;
            }
        }

        /// <summary>How many U+FFFD the decoder made: those in the output minus those the input encoded as EF BF BD.</summary>
        private static int CountReplacements(ReadOnlySpan<byte> input, ReadOnlySpan<char> output)
        {
            var produced = output.Count('\uFFFD');
            if (produced == 0)
            {
                return 0;
            }

            ReadOnlySpan<byte> encoded = [0xEF, 0xBF, 0xBD];
            var genuine = 0;
            var rest = input;
            while (rest.IndexOf(encoded) is var at && at >= 0)
            {
                genuine++;
                rest = rest[(at + encoded.Length)..];
            }

            return Math.Max(0, produced - genuine);
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                lock (_gate)
                {
                    // A read still in flight (a cancelled call disposes its response from another thread) keeps the
                    // buffers until it ends and returns them itself; returning them twice, or while the network
                    // still writes into one, would hand the same array to two readers.
                    _disposed = true;
                    if (!_reading)
                    {
                        ReturnBuffers();
                    }
                }

                _source?.Dispose();
                content.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}

/// <summary>Bytes of one call's answer that were not valid UTF-8 and were replaced by U+FFFD.</summary>
internal sealed class AnswerRepairs
{
    private int _replaced;

    public int Replaced => Volatile.Read(ref _replaced);

    public void Add(int count) => Interlocked.Add(ref _replaced, count);

    /// <summary>A retried attempt starts from zero: only the answer that is used counts.</summary>
    public void Reset() => Volatile.Write(ref _replaced, 0);
}

/// <summary>A provider's answer larger than <see cref="LlmOptions.MaxAnswerBytes"/>; it is not read further.</summary>
public sealed class AnswerTooLargeException(long bytes, long maxBytes)
    : Exception($"The answer is larger than the {maxBytes:N0}-byte limit (Llm:MaxAnswerBytes){(bytes > maxBytes ? $": at least {bytes:N0} bytes" : "")}.")
{
    public long Bytes { get; } = bytes;

    public long MaxBytes { get; } = maxBytes;
}
