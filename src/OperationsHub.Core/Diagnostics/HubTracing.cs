using System.Diagnostics;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Storage;

namespace OperationsHub.Core.Diagnostics;

/// <summary>
/// The "OperationsHub" activity source: a span where a run is started, one where a worker claims it, and one for its
/// execution through to completion. The run stores the start span's trace context, so the claim and execute spans,
/// written on whichever node takes the run and however long it waited in the queue, continue the start's trace (the
/// execute span also links to the start span, as a consumer links to the message it processes). Without a listener
/// (no exporter configured) <see cref="ActivitySource.StartActivity(string, ActivityKind)"/> returns null and nothing
/// here allocates or stores anything.
/// </summary>
public static class HubTracing
{
    public const string SourceName = "OperationsHub";

    /// <summary>A W3C <c>traceparent</c>: version, 32 hex trace id, 16 hex span id, flags (55 characters).</summary>
    public const int MaxTraceParentLength = 55;

    public const string RunIdTag = "operationshub.run.id";
    public const string TenantIdTag = "operationshub.tenant.id";
    public const string TypeTag = "operationshub.run.type";
    public const string DedupedTag = "operationshub.run.deduped";
    public const string AttemptTag = "operationshub.run.attempt";
    public const string OutcomeTag = "operationshub.run.outcome";
    public const string WorkerTag = "operationshub.worker";

    public const string StartSpan = "operationshub.run.start";
    public const string ClaimSpan = "operationshub.run.claim";
    public const string ExecuteSpan = "operationshub.run.execute";

    internal static readonly ActivitySource Source = new(SourceName, typeof(HubTracing).Assembly.GetName().Version?.ToString());

    /// <summary>The span around a start request (insert or dedupe, and the hand-off to the worker); null when nobody listens.</summary>
    internal static Activity? StartRun(long tenantId, string type)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var activity = Source.StartActivity(StartSpan, ActivityKind.Producer);
        activity?.SetTag(TenantIdTag, tenantId).SetTag(TypeTag, type);
        return activity;
    }

    /// <summary>What the run stores of <paramref name="activity"/>: its W3C id when it is recorded, else nothing.</summary>
    internal static string? TraceParentOf(Activity? activity) =>
        activity is { Recorded: true, IdFormat: ActivityIdFormat.W3C } ? activity.Id : null;

    /// <summary>The trace id inside a stored <c>traceparent</c>, or null when there is none or it is malformed.</summary>
    public static string? TraceIdOf(string? traceParent) =>
        ActivityContext.TryParse(traceParent, null, out var context) ? context.TraceId.ToHexString() : null;

    /// <summary>
    /// One claim span per claimed run, in the run's own trace, spanning the claim statement that took it (from
    /// <paramref name="began"/> to now): a batch claim takes many runs in one statement, each of a trace of its own.
    /// </summary>
    internal static void Claimed(IReadOnlyList<RunRow> rows, string owner, DateTimeOffset began)
    {
        if (!Source.HasListeners())
        {
            return;
        }

        foreach (var row in rows)
        {
            if (!ActivityContext.TryParse(row.TraceParent, null, out var parent))
            {
                continue;
            }

            using var activity = Source.StartActivity(ClaimSpan, ActivityKind.Internal, parent, RunTags(row), startTime: began);
            activity?.SetTag(WorkerTag, owner).SetTag(AttemptTag, row.Attempt);
        }
    }

    /// <summary>
    /// The span of a run's execution through to its completion, a child of the start span and linked to it; current
    /// while the handler runs, so what the handler calls (Microsoft Graph over HttpClient) is traced inside it.
    /// </summary>
    internal static Activity? Execute(RunRow run, string owner)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var started = ActivityContext.TryParse(run.TraceParent, null, out var start);
        var activity = Source.StartActivity(
            ExecuteSpan,
            ActivityKind.Consumer,
            started ? start : default,
            RunTags(run),
            started ? [new ActivityLink(start)] : null);
        activity?.SetTag(WorkerTag, owner).SetTag(AttemptTag, run.Attempt);
        return activity;
    }

    /// <summary>Records how an execution ended on its span: the outcome, and an error status unless it succeeded.</summary>
    internal static void Ended(Activity? activity, RunOutcome? outcome, string? failure)
    {
        if (activity is null)
        {
            return;
        }

        if (outcome is not { } final)
        {
            activity.SetTag(OutcomeTag, "interrupted").SetStatus(ActivityStatusCode.Error, failure ?? "The run did not complete here.");
            return;
        }

        activity.SetTag(OutcomeTag, OutcomeName(final));
        if (final is RunOutcome.Failed or RunOutcome.PartiallySucceeded)
        {
            activity.SetStatus(ActivityStatusCode.Error, failure);
        }
    }

    internal static string OutcomeName(RunOutcome outcome) => outcome switch
    {
        RunOutcome.Succeeded => "succeeded",
        RunOutcome.PartiallySucceeded => "partially_succeeded",
        RunOutcome.Failed => "failed",
        RunOutcome.Cancelled => "cancelled",
        _ => "pending",
    };

    private static ActivityTagsCollection RunTags(RunRow run) => new()
    {
        [RunIdTag] = run.RunId,
        [TenantIdTag] = run.TenantId,
        [TypeTag] = run.Type,
    };

}
