namespace OperationsHub.Core.Domain;

/// <summary>How much a log line matters to the admin reading the run.</summary>
public enum RunLogLevel
{
    Information,
    Warning,
    Error,
}

/// <summary>
/// One line of a run's log, as its handler wrote it through <c>IOperationContext.Log</c>: sanitized, bounded, written
/// in batches by the worker and deleted with the run.
/// </summary>
public sealed class RunLogLine
{
    /// <summary>Bound for one line's message.</summary>
    public const int MaxMessageLength = 2000;

    public long Id { get; set; }

    public long RunId { get; set; }

    public DateTime At { get; set; }

    public RunLogLevel Level { get; set; }

    public required string Message { get; set; }
}
