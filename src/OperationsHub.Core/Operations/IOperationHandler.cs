using OperationsHub.Core.Domain;

namespace OperationsHub.Core.Operations;

/// <summary>
/// The work behind one operation type. Resolved from DI by type key, in a scope of its own per run.
/// A handler reports what it did through the context and never writes the run's status: the worker maps what it
/// reports, returns or throws to the outcome (all items ok: Succeeded; some failed: PartiallySucceeded; none ok or
/// an exception: Failed; cancellation observed: Cancelled). The counts a run keeps always add up: processed items
/// not reported one by one count as succeeded, and an exception fails the item in flight (when a total was set).
/// </summary>
public interface IOperationHandler
{
    Task ExecuteAsync(IOperationContext context, CancellationToken cancellationToken);
}

/// <summary>What a running handler sees of its run, and how it reports progress. Thread-safe.</summary>
public interface IOperationContext
{
    long RunId { get; }

    long TenantId { get; }

    string Type { get; }

    /// <summary>1 for the first attempt; higher when recovery re-queued the run after a worker died.</summary>
    int Attempt { get; }

    /// <summary>The run's target and inputs, as sanitized at start.</summary>
    RunContext Context { get; }

    /// <summary>Signalled when the run is cancelled, the worker loses its lease, or the host shuts down.</summary>
    CancellationToken CancellationToken { get; }

    /// <summary>How many items the run will process, when known.</summary>
    void SetTotal(int total);

    /// <summary>Sets the processed count for handlers that do not report items one by one.</summary>
    void ReportProcessed(int processed);

    void ItemSucceeded();

    void ItemSkipped();

    /// <summary>One item failed: counts it and records a failure (code and message are sanitized).</summary>
    void ItemFailed(string code, string message, string? item = null);

    /// <summary>Records a failure that is not tied to an item (sanitized, bounded in number).</summary>
    void RecordFailure(string code, string message);

    /// <summary>Renews the lease now; the worker also renews it on its own while the handler runs.</summary>
    ValueTask RenewLeaseAsync();

    /// <summary>
    /// Writes a line to the run's log, shown live on its page. Costs an append to a buffer: the worker writes the
    /// buffered lines in batches beside the heartbeat, sanitized and timestamped when logged. A run keeps at most
    /// <c>Worker:MaxLogLinesPerRun</c> lines; past that one "truncated" line is written and later lines are dropped.
    /// </summary>
    void Log(RunLogLevel level, string message);
}

/// <summary>Throw to fail a run with a stable code and a message meant for the tenant's admins.</summary>
public sealed class OperationFailedException(string code, string message, Exception? innerException = null)
    : Exception(message, innerException)
{
    public string Code { get; } = code;
}
