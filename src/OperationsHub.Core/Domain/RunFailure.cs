namespace OperationsHub.Core.Domain;

/// <summary>A failure recorded by a run: a stable machine code and a sanitized, bounded message.</summary>
public sealed record RunFailure(string Code, string Message, string? Item = null);

/// <summary>
/// What the run is about: its target and inputs, as shown on the run's page (sanitized before storage); and, for a run
/// that works on a given list of items (a retry of the failed items of a run, a bulk action over runs), those items.
/// <see cref="Identity"/> names the inputs that were its identity (what a retry must hash again to be the same work).
/// </summary>
public sealed record RunContext(
    string? Target,
    IReadOnlyDictionary<string, string> Inputs,
    IReadOnlyList<string>? Items = null,
    IReadOnlyList<string>? Identity = null)
{
    public static RunContext Empty { get; } = new(null, new Dictionary<string, string>());
}

/// <summary>Well-known failure codes written by the engine itself.</summary>
public static class RunFailureCodes
{
    public const string DispatchFailed = "dispatch_failed";
    public const string UnknownOperationType = "unknown_operation_type";
    public const string Abandoned = "abandoned";
    public const string HandlerException = "handler_exception";
}
