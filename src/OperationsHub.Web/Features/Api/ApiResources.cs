namespace OperationsHub.Web.Features.Api;

/// <summary>A page of runs, newest first; <see cref="NextCursor"/> asks for the next page (null on the last).</summary>
public sealed record RunListResource(IReadOnlyList<RunResource> Items, string? NextCursor, RunListLinks Links);

public sealed record RunListLinks(string Self, string? Next);

/// <summary>One run in full: the list's fields, and its context, the failures it recorded and its timeline.</summary>
public sealed record RunDetailResource : RunResource
{
    public RunDetailResource(RunResource run)
        : base(run)
    {
    }

    public IReadOnlyDictionary<string, string> Inputs { get; init; } = new Dictionary<string, string>();

    public int Attempt { get; init; }

    public DateTime? CancelRequestedAt { get; init; }

    /// <summary>How many failures the run recorded; <see cref="Failures"/> holds the first of them (the stored list is bounded).</summary>
    public int FailureTotal { get; init; }

    public IReadOnlyList<RunFailureResource> Failures { get; init; } = [];

    /// <summary>What happened to the run, oldest first: queued, started, cancelled by whom and why, retried as.</summary>
    public IReadOnlyList<RunEventResource> Timeline { get; init; } = [];

    /// <summary>The runs that retry this one, newest first.</summary>
    public IReadOnlyList<long> RetriedAs { get; init; } = [];

    /// <summary>The OpenTelemetry trace the run was started in (32 hex), when the hub exports traces; null otherwise.</summary>
    public string? TraceId { get; init; }
}

public sealed record RunFailureResource(string Code, string Message, string? Item);

public sealed record RunEventResource(string Kind, string Message, DateTime At);

/// <summary>An operation type a tenant can start, with the inputs that make two starts the same work (dedupe).</summary>
public sealed record OperationTypeResource(
    string Type,
    string DisplayName,
    string Description,
    IReadOnlyList<string> IdentityInputs,
    string DefaultTarget,
    bool RetrySafe,
    bool RetriesFailedItems);
