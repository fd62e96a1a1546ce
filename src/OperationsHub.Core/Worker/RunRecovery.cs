using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Operations;
using OperationsHub.Core.Runs;
using Quartz;

namespace OperationsHub.Core.Worker;

/// <summary>What one recovery pass did.</summary>
public readonly record struct RecoveryResult(int Requeued, int Abandoned, int UnknownType, int DispatchFailed);

/// <summary>
/// The database is the source of truth. Each pass ends runs whose worker died (lease expired): back to Queued while
/// attempts remain and the type is retry-safe, else Failed(abandoned); and fails queued runs of a type no handler
/// here knows, which no worker would ever claim. Queued runs need nothing else: every worker claims from the table.
/// Safe on every node at once: each transition is conditional.
/// </summary>
internal sealed partial class RunRecovery(
    IDbContextFactory<HubDbContext> dbFactory,
    RunTransitions transitions,
    IRunDispatcher dispatcher,
    OperationTypeRegistry registry,
    IOptions<WorkerOptions> options,
    ILogger<RunRecovery> logger)
{
    public async Task<RecoveryResult> RunOnceAsync(CancellationToken ct)
    {
        var settings = options.Value;
        var now = transitions.UtcNow;
        int requeued = 0, abandoned = 0, unknownType = 0, dispatchFailed = 0;

        List<ExpiredRun> expired;
        await using (var db = await dbFactory.CreateDbContextAsync(ct))
        {
            expired = await db.Runs.AsNoTracking()
                .Where(r => r.Status == RunStatus.Running && r.LeaseExpiresAt < now)
                .OrderBy(r => r.LeaseExpiresAt)
                .Take(settings.RecoveryBatchSize)
                .Select(r => new ExpiredRun(r.Id, r.Type, r.LeaseOwner!, r.Attempt))
                .ToListAsync(ct);
        }

        foreach (var run in expired)
        {
            var retrySafe = registry.TryGet(run.Type, out var descriptor) && descriptor.RetrySafe;
            if (retrySafe && run.Attempt < settings.MaxAttempts
                && await transitions.TryRequeueAsync(run.Id, run.LeaseOwner, settings.MaxAttempts, ct) is not null)
            {
                requeued++;
                LogRequeued(logger, run.Id, run.Attempt);
                if (!await TryDispatchAsync(run.Id, ct))
                {
                    dispatchFailed++;
                }

                continue;
            }

            var reason = retrySafe
                ? $"The worker running this operation stopped responding, and all {settings.MaxAttempts} attempts are used."
                : "The worker running this operation stopped responding. This operation is not safe to repeat automatically; start it again when ready.";
            if (await transitions.TryAbandonAsync(run.Id, run.LeaseOwner, new RunFailure(RunFailureCodes.Abandoned, reason), ct) is not null)
            {
                abandoned++;
                LogAbandoned(logger, run.Id, run.Attempt);
            }
        }

        var waitedSince = now - settings.UnknownTypeGrace;
        var known = registry.Types;
        List<QueuedRun> orphans;
        await using (var db = await dbFactory.CreateDbContextAsync(ct))
        {
            orphans = await db.Runs.AsNoTracking()
                .Where(r => r.Status == RunStatus.Queued && r.UpdatedAt < waitedSince && !known.Contains(r.Type))
                .OrderBy(r => r.Id)
                .Take(settings.RecoveryBatchSize)
                .Select(r => new QueuedRun(r.Id, r.Type))
                .ToListAsync(ct);
        }

        foreach (var run in orphans)
        {
            if (await transitions.TryFailUnknownTypeAsync(run.Id, run.Type) is not null)
            {
                unknownType++;
            }
        }

        return new RecoveryResult(requeued, abandoned, unknownType, dispatchFailed);
    }

    private async Task<bool> TryDispatchAsync(long runId, CancellationToken ct)
    {
        try
        {
            await dispatcher.DispatchAsync(runId, ct);
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            await transitions.FailDispatchAsync(runId, ex);
            return false;
        }
    }

    private sealed record QueuedRun(long Id, string Type);

    private sealed record ExpiredRun(long Id, string Type, string LeaseOwner, int Attempt);

    [LoggerMessage(EventId = 1201, Level = LogLevel.Warning, Message = "Run {RunId}: worker lease expired during attempt {Attempt}; queued again")]
    private static partial void LogRequeued(ILogger logger, long runId, int attempt);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Warning, Message = "Run {RunId}: worker lease expired during attempt {Attempt}; failed as abandoned")]
    private static partial void LogAbandoned(ILogger logger, long runId, int attempt);
}

/// <summary>Runs <see cref="RunRecovery"/> at start-up and every <see cref="WorkerOptions.RecoveryInterval"/>.</summary>
[DisallowConcurrentExecution]
internal sealed class RecoveryJob(RunRecovery recovery) : IJob
{
    public static readonly JobKey Key = new("recovery", "operationshub");

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken) =>
        await recovery.RunOnceAsync(cancellationToken);
}
