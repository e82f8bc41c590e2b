using System.Text;
using System.Threading.Channels;
using LlmWorkflow.Contracts;
using LlmWorkflow.Engine.Execution;
using LlmWorkflow.Engine.Steps;

namespace LlmWorkflow.Engine.Agents;

/// <summary>Streamed text of an agent turn (SSE <c>agent_delta</c>), several provider chunks per event.</summary>
public sealed record AgentDeltaProgress(string RunId, DateTimeOffset Timestamp, string StepId, string StepKey, int Turn, int Attempt, string Text)
    : ProgressEvent(RunId, Timestamp)
{
    public override string Kind => LiveEventTypes.AgentDelta;

    public override LiveJobEvent ToWire() => new AgentDeltaEvent(RunId, Timestamp, StepId, StepKey, Turn, Attempt, Text);
}

/// <summary>A streamed attempt of an agent turn was abandoned (SSE <c>agent_turn_restarted</c>): its deltas are void.</summary>
public sealed record AgentTurnRestartedProgress(string RunId, DateTimeOffset Timestamp, string StepId, string StepKey, int Turn, int Attempt, int DiscardedChars)
    : ProgressEvent(RunId, Timestamp)
{
    public override string Kind => LiveEventTypes.AgentTurnRestarted;

    public override LiveJobEvent ToWire() => new AgentTurnRestartedEvent(RunId, Timestamp, StepId, StepKey, Turn, Attempt, DiscardedChars);
}

/// <summary>
/// One streamed agent turn's text on its way to the job's live events. The gateway hands each chunk over on the
/// provider's stream (<see cref="Text"/>, never blocking it); a pump publishes them coalesced: what arrived within
/// <see cref="Window"/> of the first unsent chunk, split once it reaches <see cref="MaxChars"/>. Each attempt of the turn
/// (a retry of the model, a fallback to the next: <see cref="AttemptStarted"/>) numbers its deltas; an attempt that
/// follows one that had streamed text is announced by <c>agent_turn_restarted</c>, so a reader drops the void text.
/// Deltas are live only: never checkpointed, never replayed by a resumed run (the recorded turn is the answer).
/// </summary>
internal sealed class AgentTurnDeltas
{
    /// <summary>
    /// Why coalesce: every live event is a Redis stream entry (an XADD, the waiting readers' notice, an SSE write to
    /// each), and providers stream about one token (3-4 characters) per chunk, 30-100 chunks a second; an entry per
    /// chunk would cost 2-5 times the entries of 50-ms batches (far more for a burst) for text people read a phrase at a
    /// time. 50 ms stays below what a reader sees as stutter and bounds the added latency.
    /// </summary>
    public static readonly TimeSpan Window = TimeSpan.FromMilliseconds(50);

    /// <summary>Characters after which an event is sent without waiting for the window, so a burst (a long answer at once) is split.</summary>
    public const int MaxChars = 512;

    private readonly Channel<Piece> _pieces = Channel.CreateUnbounded<Piece>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly CancellationTokenSource _ended = new();
    private readonly StepContext _context;
    private readonly int _turn;
    private readonly Task _pump;
    private int _attempt = -1;
    private int _attemptChars;
    private int _discarded;

    public AgentTurnDeltas(StepContext context, int turn, CancellationToken cancellationToken)
    {
        _context = context;
        _turn = turn;
        _pump = PumpAsync(cancellationToken);
    }

    /// <summary>A provider call of the turn begins (the chat-client middleware's <see cref="AgentToolCallScope.StreamStarted"/>).</summary>
    public void AttemptStarted()
    {
        _attempt++;
        if (_attemptChars > 0)
        {
            _discarded += _attemptChars;
            _attemptChars = 0;
            _pieces.Writer.TryWrite(new Piece(null, _attempt, _discarded));
        }
    }

    /// <summary>A chunk of the current attempt's text (the gateway's <c>OnDelta</c>).</summary>
    public void Text(string text)
    {
        _attemptChars += text.Length;
        _pieces.Writer.TryWrite(new Piece(text, Math.Max(_attempt, 0), 0));
    }

    /// <summary>The turn's call ended: sends what is left at once and returns when every delta is published.</summary>
    public async Task CompleteAsync()
    {
        _pieces.Writer.TryComplete();
        await _ended.CancelAsync().ConfigureAwait(false);
        await _pump.ConfigureAwait(false);
        _ended.Dispose();
    }

    private async Task PumpAsync(CancellationToken cancellationToken)
    {
        var reader = _pieces.Reader;
        var text = new StringBuilder();
        var attempt = 0;
        try
        {
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                // Gather what the provider streams within the window (cut short when the call ends).
                await Task.Delay(Window, _ended.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                while (reader.TryRead(out var piece))
                {
                    if (piece.Attempt != attempt)
                    {
                        // A delta never mixes two attempts' text.
                        await FlushAsync(text, attempt, cancellationToken).ConfigureAwait(false);
                        attempt = piece.Attempt;
                    }

                    if (piece.Text is null)
                    {
                        await Publish(new AgentTurnRestartedProgress(_context.Run.RunId, _context.Run.Now, _context.Step.Id, _context.StepKey, _turn,
                            piece.Attempt, piece.Discarded), cancellationToken).ConfigureAwait(false);
                        continue;
                    }

                    text.Append(piece.Text);
                    if (text.Length >= MaxChars)
                    {
                        await FlushAsync(text, attempt, cancellationToken).ConfigureAwait(false);
                    }
                }

                await FlushAsync(text, attempt, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The job was cancelled: its live events end here; the step reports the cancellation.
        }
    }

    private async ValueTask FlushAsync(StringBuilder text, int attempt, CancellationToken cancellationToken)
    {
        if (text.Length == 0)
        {
            return;
        }

        var delta = text.ToString();
        text.Clear();
        await Publish(new AgentDeltaProgress(_context.Run.RunId, _context.Run.Now, _context.Step.Id, _context.StepKey, _turn, attempt, delta),
            cancellationToken).ConfigureAwait(false);
    }

    private ValueTask Publish(ProgressEvent progressEvent, CancellationToken cancellationToken) =>
        _context.Run.Progress.PublishAsync(progressEvent, cancellationToken);

    /// <summary>A chunk of text, or (null text) the start of an attempt after one that streamed <see cref="Discarded"/> characters in all.</summary>
    private readonly record struct Piece(string? Text, int Attempt, int Discarded);
}
