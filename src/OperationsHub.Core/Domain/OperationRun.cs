namespace OperationsHub.Core.Domain;

/// <summary>
/// One unit of background work for one tenant. Rows are written only through <c>RunTransitions</c>:
/// every status change is a single conditional UPDATE, never a read-modify-write of this entity.
/// </summary>
public sealed class OperationRun
{
    public long Id { get; set; }

    public long TenantId { get; set; }

    public Tenant? Tenant { get; set; }

    public required string Type { get; set; }

    public RunStatus Status { get; set; }

    public RunOutcome Outcome { get; set; }

    /// <summary>SHA-256 (hex) over tenant, type and the identity inputs; unique among active runs of a tenant.</summary>
    public required string RunIdentityHash { get; set; }

    /// <summary>What the run works on (sanitized, bounded), also inside <see cref="ContextJson"/>; a column so the grid can search it.</summary>
    public string? Target { get; set; }

    /// <summary>Sanitized JSON of <see cref="RunContext"/>: the target and the inputs.</summary>
    public required string ContextJson { get; set; }

    public int TotalCount { get; set; }

    public int ProcessedCount { get; set; }

    public int SucceededCount { get; set; }

    public int FailedCount { get; set; }

    public int SkippedCount { get; set; }

    /// <summary>Sanitized JSON array of <see cref="RunFailure"/>, bounded in length; null when none.</summary>
    public string? FailuresJson { get; set; }

    /// <summary>How many failures were recorded in all, including those the bounded list dropped.</summary>
    public int FailureTotal { get; set; }

    public long? InitiatorUserId { get; set; }

    public string? InitiatorName { get; set; }

    public DateTime CreatedAt { get; set; }

    public DateTime? StartedAt { get; set; }

    public DateTime? CompletedAt { get; set; }

    public DateTime UpdatedAt { get; set; }

    /// <summary>
    /// How long the run took, in milliseconds, for the grid's Duration sort: computed by the database from
    /// <see cref="StartedAt"/> and <see cref="CompletedAt"/> (a generated column with an index), 0 for a run that has
    /// not both started and completed. Never written by the hub.
    /// </summary>
    public long DurationMs { get; set; }

    public int Attempt { get; set; }

    public string? LeaseOwner { get; set; }

    public DateTime? LeaseExpiresAt { get; set; }

    public DateTime? CancelRequestedAt { get; set; }

    /// <summary>The run this one retries (a retry is a new run, linked to the one it retries); null for a first run.</summary>
    public long? RetryOfRunId { get; set; }

    /// <summary>
    /// The W3C trace context (<c>traceparent</c>) of the span that started the run, when tracing was on: the worker's
    /// execute span continues this trace, so one trace shows the request, the start, the claim and the work.
    /// </summary>
    public string? TraceParent { get; set; }

    /// <summary>Incremented by every write; carried by change signals so subscribers can drop stale ones.</summary>
    public int Version { get; set; }
}
