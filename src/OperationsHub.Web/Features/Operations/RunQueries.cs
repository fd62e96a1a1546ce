using Microsoft.EntityFrameworkCore;
using OperationsHub.Core.Data;
using OperationsHub.Core.Diagnostics;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Operations;
using OperationsHub.Core.Runs;

namespace OperationsHub.Web.Features.Operations;

public sealed record RunRow(
    long Id,
    string Type,
    string DisplayName,
    RunStatus Status,
    RunOutcome Outcome,
    string? InitiatorName,
    DateTime CreatedAt,
    DateTime? StartedAt,
    DateTime? CompletedAt,
    int Processed,
    int Total);

public sealed record RunEventRow(long Id, string Kind, string Message, DateTime At);

/// <summary>A run that retries another ("Retried as #57 by Priya Operator").</summary>
public sealed record RetryLink(long Id, string? InitiatorName, DateTime CreatedAt);

public sealed record EarlierRun(long Id, RunStatus Status, RunOutcome Outcome, DateTime CreatedAt, string? InitiatorName);

public sealed record RunDetails(
    RunRow Run,
    RunContext Context,
    IReadOnlyList<RunFailure> Failures,
    int FailureTotal,
    int Succeeded,
    int Failed,
    int Skipped,
    int Attempt,
    long? InitiatorUserId,
    DateTime? CancelRequestedAt,
    string RunIdentityHash,
    IReadOnlyList<RunEventRow> Events,
    IReadOnlyList<EarlierRun> EarlierRuns)
{
    /// <summary>The run this one retries, when it is a retry.</summary>
    public long? RetryOfRunId { get; init; }

    /// <summary>The runs that retry this one, newest first.</summary>
    public IReadOnlyList<RetryLink> RetriedAs { get; init; } = [];

    /// <summary>The lease of a running run: when its last heartbeat was, and so whether it may be stuck.</summary>
    public DateTime? LeaseExpiresAt { get; init; }

    /// <summary>Why "retry failed items" is not offered for this run; null when it is.</summary>
    public string? FailedItemsRetryRefusal { get; init; }

    /// <summary>The trace the run was started in (32 hex), when tracing was on; its worker spans continue it.</summary>
    public string? TraceId { get; init; }

    /// <summary>Whether the run's type is one the hub retries (registered, and not the engine's own like bulk actions).</summary>
    public bool Retryable { get; init; }
}

/// <summary>The reads the operations pages need, shaped by the screens; never a DbContext in a component.</summary>
public sealed class RunQueries(IDbContextFactory<HubDbContext> dbFactory, OperationTypeRegistry registry)
{
    public async Task<RunDetails?> GetDetailsAsync(long tenantId, long runId, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var run = await db.Runs.AsNoTracking().Where(r => r.Id == runId && r.TenantId == tenantId).SingleOrDefaultAsync(cancellationToken);
        if (run is null)
        {
            return null;
        }

        var events = await db.RunEvents.AsNoTracking().Where(e => e.RunId == runId).OrderBy(e => e.Id)
            .Select(e => new RunEventRow(e.Id, e.Kind, e.Message, e.At)).ToListAsync(cancellationToken);
        var earlier = await db.Runs.AsNoTracking()
            .Where(r => r.TenantId == tenantId && r.RunIdentityHash == run.RunIdentityHash && r.Id != runId)
            .OrderByDescending(r => r.CreatedAt)
            .Take(10)
            .Select(r => new EarlierRun(r.Id, r.Status, r.Outcome, r.CreatedAt, r.InitiatorName))
            .ToListAsync(cancellationToken);
        var retriedAs = await db.Runs.AsNoTracking()
            .Where(r => r.RetryOfRunId == runId && r.TenantId == tenantId)
            .OrderByDescending(r => r.Id)
            .Take(10)
            .Select(r => new RetryLink(r.Id, r.InitiatorName, r.CreatedAt))
            .ToListAsync(cancellationToken);
        var failures = RunJson.DeserializeFailures(run.FailuresJson);
        registry.TryGet(run.Type, out var descriptor);
        var row = new RunRow(run.Id, run.Type, registry.DisplayNameOf(run.Type), run.Status, run.Outcome, run.InitiatorName,
            run.CreatedAt, run.StartedAt, run.CompletedAt, run.ProcessedCount, run.TotalCount);
        return new RunDetails(row, RunJson.DeserializeContext(run.ContextJson), failures,
            run.FailureTotal, run.SucceededCount, run.FailedCount, run.SkippedCount, run.Attempt, run.InitiatorUserId,
            run.CancelRequestedAt, run.RunIdentityHash, events, earlier)
        {
            RetryOfRunId = run.RetryOfRunId,
            RetriedAs = retriedAs,
            LeaseExpiresAt = run.Status == RunStatus.Running ? run.LeaseExpiresAt : null,
            FailedItemsRetryRefusal = OperationRunService.FailedItemsRefusal(
                run.Outcome, run.FailedCount, run.FailureTotal, failures, descriptor?.RetriesFailedItems == true),
            Retryable = descriptor is { Internal: false },
            TraceId = HubTracing.TraceIdOf(run.TraceParent),
        };
    }

}
