using Microsoft.EntityFrameworkCore;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Operations;
using OperationsHub.Core.Sanitization;

namespace OperationsHub.Core.Runs;

/// <summary>A request to retry (or run again) a completed run, as a new run linked to it.</summary>
public sealed record RetryRequest
{
    public required long TenantId { get; init; }

    public required long RunId { get; init; }

    public required RunInitiator Initiator { get; init; }

    /// <summary>Only the items that failed (for a type that declares <c>RetriesFailedItems</c>), else the whole work.</summary>
    public bool FailedItemsOnly { get; init; }

    /// <summary>Who the original run's timeline names ("Priya Operator", "bulk action #60 (Mateo Manager)").</summary>
    public string? RequestedBy { get; init; }
}

public enum RetryRefusalKind
{
    /// <summary>No such run in this tenant.</summary>
    NotFound,

    /// <summary>The run cannot be retried as asked (still active, a type nobody runs, no failed items known…).</summary>
    NotRetryable,
}

public sealed record RetryRefusal(RetryRefusalKind Kind, string Message);

/// <summary>The retry's run (new, or the active run of the same work it was deduped to), or why there is none.</summary>
public sealed record RetryResult(StartRunResult? Started, RetryRefusal? Refusal);

public sealed partial class OperationRunService
{
    /// <summary>
    /// Retries a completed run: a new run of the same type, identity inputs, inputs and items (or only its failed items),
    /// started through <see cref="StartAsync"/> so dedupe applies, linked to the original both ways: the new run names
    /// the one it retries, and the original's timeline says what it was retried as and by whom. A completed run is
    /// never given a second life. The caller checks the user's right to retry.
    /// </summary>
    public async Task<RetryResult> RetryAsync(RetryRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        RetrySource? source;
        await using (var db = await _dbFactory.CreateDbContextAsync(cancellationToken))
        {
            source = await db.Runs.AsNoTracking()
                .Where(r => r.Id == request.RunId && r.TenantId == request.TenantId)
                .Select(r => new RetrySource(r.Id, r.TenantId, r.Type, r.Status, r.Outcome, r.CreatedAt, r.InitiatorUserId,
                    r.ContextJson, r.FailuresJson, r.FailureTotal, r.FailedCount))
                .SingleOrDefaultAsync(cancellationToken);
        }

        if (source is null)
        {
            return Refused(RetryRefusalKind.NotFound, "There is no such run.");
        }

        if (source.Status != RunStatus.Completed)
        {
            return Refused(RetryRefusalKind.NotRetryable,
                $"Run #{source.Id} is still {source.Status.ToString().ToLowerInvariant()}: only a completed run can be retried.");
        }

        if (!_registry.TryGet(source.Type, out var descriptor) || descriptor.Internal)
        {
            return Refused(RetryRefusalKind.NotRetryable, descriptor is null
                ? $"No handler is registered for '{Sanitizer.SanitizeKey(source.Type)}' any more, so run #{source.Id} cannot be retried."
                : $"{descriptor.DisplayName} runs are not retried: start a new one instead.");
        }

        var context = RunJson.DeserializeContext(source.ContextJson);
        if (context.Inputs.Values.Any(value => value == Sanitizer.Redacted))
        {
            return Refused(RetryRefusalKind.NotRetryable,
                $"Run #{source.Id} had an input the hub does not keep (a secret): start the work again from where you started it.");
        }

        var items = context.Items;
        if (request.FailedItemsOnly)
        {
            if (FailedItemsRefusal(source, descriptor) is { } refusal)
            {
                return Refused(RetryRefusalKind.NotRetryable, refusal);
            }

            items = [.. RunJson.DeserializeFailures(source.FailuresJson).Select(f => f.Item!).Distinct(StringComparer.Ordinal)];
        }

        // The inputs that were its identity, so the retry is the same work (runs from before the context said so: the type's).
        var identityKeys = context.Identity ?? descriptor.IdentityInputs;
        var identity = context.Inputs.Where(p => identityKeys.Contains(p.Key)).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        var inputs = context.Inputs.Where(p => !identity.ContainsKey(p.Key)).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        try
        {
            var started = await StartAsync(new StartRunRequest
            {
                TenantId = source.TenantId,
                Type = source.Type,
                IdentityInputs = identity,
                Inputs = inputs,
                Target = context.Target,
                Items = items,
                Initiator = request.Initiator,
                RetryOfRunId = source.Id,
            }, cancellationToken);
            if (!started.Deduped)
            {
                var summary = new RunSummary(source.Id, source.TenantId, source.Type, source.Status, source.Outcome, source.CreatedAt, source.InitiatorUserId);
                await _transitions.RecordRetriedAsync(summary, started.Run.Id, Sanitizer.SanitizeText(request.RequestedBy ?? request.Initiator.DisplayName, 300), CancellationToken.None);
            }

            return new RetryResult(started, null);
        }
        catch (StartRejectedException rejected)
        {
            // The work's own checks still hold for a retry (a restore's backup was deleted, its groups left the cache).
            return Refused(RetryRefusalKind.NotRetryable, rejected.Rejection.Message);
        }
    }

    /// <summary>Whether "retry failed items" is offered for a run: null when it can be, else why not.</summary>
    public static string? FailedItemsRefusal(
        Domain.RunOutcome outcome, int failedCount, int failureTotal, IReadOnlyList<RunFailure> storedFailures, bool typeSupportsIt)
    {
        if (!typeSupportsIt)
        {
            return "This operation type can only be retried as a whole.";
        }

        if (outcome is not (RunOutcome.PartiallySucceeded or RunOutcome.Failed) || failedCount == 0)
        {
            return "The run has no failed items to retry.";
        }

        var keyed = storedFailures.Count(f => f.Item is not null);
        if (keyed == 0)
        {
            return "The run's failures name no items, so only the whole run can be retried.";
        }

        return failureTotal > storedFailures.Count || keyed < failedCount
            ? $"Only {keyed:N0} of the {failedCount:N0} failed items were kept with the run: retry the whole run instead."
            : null;
    }

    private static string? FailedItemsRefusal(RetrySource source, Operations.OperationTypeDescriptor descriptor) =>
        FailedItemsRefusal(source.Outcome, source.FailedCount, source.FailureTotal,
            RunJson.DeserializeFailures(source.FailuresJson), descriptor.RetriesFailedItems);

    private static RetryResult Refused(RetryRefusalKind kind, string message) => new(null, new RetryRefusal(kind, message));

    private sealed record RetrySource(
        long Id, long TenantId, string Type, RunStatus Status, RunOutcome Outcome, DateTime CreatedAt, long? InitiatorUserId,
        string ContextJson, string? FailuresJson, int FailureTotal, int FailedCount);
}
