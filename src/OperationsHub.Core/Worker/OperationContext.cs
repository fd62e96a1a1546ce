using OperationsHub.Core.Domain;
using OperationsHub.Core.Operations;
using OperationsHub.Core.Runs;
using OperationsHub.Core.Sanitization;
using OperationsHub.Core.Storage;

namespace OperationsHub.Core.Worker;

/// <summary>
/// The handler's view of its run. Counters are updated lock-free; the heartbeat loop in <see cref="RunExecutor"/>
/// is the only writer to the database while the handler runs, so progress reports cost nothing but an increment.
/// </summary>
internal sealed class OperationContext(
    RunRow run,
    RunContext context,
    CancellationToken cancellationToken,
    Func<ValueTask> renewLease,
    TimeProvider time,
    int logLinesLeft) : IOperationContext
{
    /// <summary>Failures kept on the run; more are counted but not stored, so one bad run cannot bloat a row.</summary>
    public const int MaxStoredFailures = 100;

    // A line is cut to this before it is buffered (the writer bounds it further): a 10 MB message costs its cut only.
    private const int MaxBufferedMessageLength = RunLogLine.MaxMessageLength * 2;

    private readonly Lock _logGate = new();
    private List<LogEntry> _log = [];
    private int _logLinesLeft = logLinesLeft;
    private bool _logTruncated;

    private readonly Lock _failuresGate = new();
    private readonly List<RunFailure> _failures = [];
    private int _total;
    private int _processed;
    private int _succeeded;
    private int _failed;
    private int _skipped;
    private int _failureTotal;
    private long _changes;

    public long RunId => run.RunId;

    public long TenantId => run.TenantId;

    public string Type => run.Type;

    public int Attempt => run.Attempt;

    public RunContext Context => context;

    public CancellationToken CancellationToken => cancellationToken;

    /// <summary>Bumped by every report; the heartbeat writes progress only when it moved.</summary>
    public long ChangeCount => Interlocked.Read(ref _changes);

    public int FailureTotal => Volatile.Read(ref _failureTotal);

    public void SetTotal(int total)
    {
        Volatile.Write(ref _total, Math.Max(0, total));
        Changed();
    }

    public void ReportProcessed(int processed)
    {
        Volatile.Write(ref _processed, Math.Max(0, processed));
        Changed();
    }

    public void ItemSucceeded()
    {
        Interlocked.Increment(ref _succeeded);
        Interlocked.Increment(ref _processed);
        Changed();
    }

    public void ItemSkipped()
    {
        Interlocked.Increment(ref _skipped);
        Interlocked.Increment(ref _processed);
        Changed();
    }

    public void ItemFailed(string code, string message, string? item = null)
    {
        Interlocked.Increment(ref _failed);
        Interlocked.Increment(ref _processed);
        AddFailure(code, message, item);
    }

    public void RecordFailure(string code, string message) => AddFailure(code, message, null);

    public ValueTask RenewLeaseAsync() => renewLease();

    public void Log(RunLogLevel level, string message)
    {
        var at = time.GetUtcNow().UtcDateTime;
        var text = message is { Length: > MaxBufferedMessageLength } ? message[..MaxBufferedMessageLength] : message ?? "";
        lock (_logGate)
        {
            if (_logLinesLeft > 0)
            {
                _logLinesLeft--;
                _log.Add(new LogEntry(at, level, text));
            }
            else if (!_logTruncated)
            {
                _logTruncated = true;
                _log.Add(new LogEntry(at, RunLogLevel.Warning,
                    "Log truncated: this run reached its limit of log lines; later lines were not kept."));
            }
        }
    }

    /// <summary>The lines logged since the last take, oldest first; the buffer starts again empty.</summary>
    public IReadOnlyList<LogEntry> TakeLog()
    {
        lock (_logGate)
        {
            if (_log.Count == 0)
            {
                return [];
            }

            var lines = _log;
            _log = [];
            return lines;
        }
    }

    /// <summary>Puts back lines a failed write took, ahead of any logged since, so none is lost or reordered.</summary>
    public void ReturnLog(IReadOnlyList<LogEntry> lines)
    {
        lock (_logGate)
        {
            _log.InsertRange(0, lines);
        }
    }

    public RunCounts Counts => new(
        Volatile.Read(ref _total),
        Volatile.Read(ref _processed),
        Volatile.Read(ref _succeeded),
        Volatile.Read(ref _failed),
        Volatile.Read(ref _skipped));

    /// <summary>
    /// The handler threw: the item it was working on (when it had said how many there are and not all were
    /// processed) failed with it, so "Failures (1)" never stands beside "0 failed".
    /// </summary>
    public void FailItemInFlight()
    {
        if (Volatile.Read(ref _processed) < Volatile.Read(ref _total))
        {
            Interlocked.Increment(ref _failed);
            Interlocked.Increment(ref _processed);
            Changed();
        }
    }

    /// <summary>
    /// The counts a completed run keeps, consistent whatever the handler reported: items processed but never said
    /// to have succeeded, failed or been skipped (a handler that reports only progress) did what they were for, so
    /// they count as succeeded; and processed is never less than the items accounted for.
    /// </summary>
    public RunCounts FinalCounts()
    {
        var counts = Counts;
        var accounted = counts.Succeeded + counts.Failed + counts.Skipped;
        return counts.Processed > accounted
            ? counts with { Succeeded = counts.Succeeded + (counts.Processed - accounted) }
            : counts with { Processed = accounted };
    }

    public IReadOnlyList<RunFailure> Failures
    {
        get
        {
            lock (_failuresGate)
            {
                return [.. _failures];
            }
        }
    }

    /// <summary>All items ok: Succeeded; some ok and some failed: PartiallySucceeded; none ok but failures: Failed.</summary>
    public RunOutcome OutcomeFromReports()
    {
        var counts = Counts;
        if (counts.Failed == 0 && FailureTotal == 0)
        {
            return RunOutcome.Succeeded;
        }

        return counts.Succeeded > 0 ? RunOutcome.PartiallySucceeded : RunOutcome.Failed;
    }

    private void AddFailure(string code, string message, string? item)
    {
        Interlocked.Increment(ref _failureTotal);
        var failure = new RunFailure(
            string.IsNullOrWhiteSpace(code) ? "unspecified" : Sanitizer.SanitizeKey(code),
            Sanitizer.SanitizeText(message),
            item is null ? null : Sanitizer.SanitizeText(item, Sanitizer.MaxValueLength));
        lock (_failuresGate)
        {
            if (_failures.Count < MaxStoredFailures)
            {
                _failures.Add(failure);
            }
        }

        Changed();
    }

    private void Changed() => Interlocked.Increment(ref _changes);
}
