using System.Text.Json;
using System.Text.Json.Serialization;
using OperationsHub.Core.Domain;

namespace OperationsHub.Core.Runs;

/// <summary>Who asked for a run. Null for system runs, which notify nobody.</summary>
public sealed record RunInitiator(long UserId, string DisplayName);

/// <summary>A request to start work, from any start surface (button, HTTP API, demo seed).</summary>
public sealed record StartRunRequest
{
    public required long TenantId { get; init; }

    public required string Type { get; init; }

    /// <summary>The inputs that make two requests the same work; hashed with tenant and type for dedupe.</summary>
    public IReadOnlyDictionary<string, string> IdentityInputs { get; init; } = new Dictionary<string, string>();

    /// <summary>What the run is about, shown on its page (sanitized before storage).</summary>
    public string? Target { get; init; }

    /// <summary>Further inputs for the handler; identity inputs are included automatically.</summary>
    public IReadOnlyDictionary<string, string> Inputs { get; init; } = new Dictionary<string, string>();

    public RunInitiator? Initiator { get; init; }

    /// <summary>
    /// The items the run is to work on, when it works on a given list (the failed items of the run it retries, the runs
    /// of a bulk action); kept in the run's context for its handler. Null: the handler decides what its work covers.
    /// </summary>
    public IReadOnlyList<string>? Items { get; init; }

    /// <summary>The run this one retries; the new run links to it and it to the new run.</summary>
    public long? RetryOfRunId { get; init; }
}

/// <summary>The run a start request got: a new one, or the active run it was deduped to.</summary>
public sealed record StartRunResult(RunSummary Run, bool Deduped);

/// <summary>Enough of a run for a start surface to answer with a status and a "View run" link.</summary>
public sealed record RunSummary(
    long Id,
    long TenantId,
    string Type,
    RunStatus Status,
    RunOutcome Outcome,
    DateTime CreatedAt,
    long? InitiatorUserId);

public readonly record struct RunCounts(int Total, int Processed, int Succeeded, int Failed, int Skipped);

/// <summary>Thrown by <see cref="OperationRunService.StartAsync"/> for a type nobody registered.</summary>
public sealed class UnknownOperationTypeException(string type)
    : Exception($"Unknown operation type '{Sanitization.Sanitizer.SanitizeKey(type)}'.")
{
    public string Type { get; } = type;
}

/// <summary>The stored JSON forms of a run's context and failures; the one place that reads and writes them.</summary>
public static class RunJson
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static string SerializeContext(RunContext context) => JsonSerializer.Serialize(context, Options);

    public static RunContext DeserializeContext(string json) =>
        JsonSerializer.Deserialize<RunContext>(json, Options) ?? RunContext.Empty;

    public static string? SerializeFailures(IReadOnlyList<RunFailure> failures) =>
        failures.Count == 0 ? null : JsonSerializer.Serialize(failures, Options);

    public static IReadOnlyList<RunFailure> DeserializeFailures(string? json) =>
        string.IsNullOrEmpty(json) ? [] : JsonSerializer.Deserialize<List<RunFailure>>(json, Options) ?? [];
}
