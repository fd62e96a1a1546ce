using Microsoft.EntityFrameworkCore;
using OperationsHub.Core.Data;
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
    IReadOnlyList<EarlierRun> EarlierRuns);

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
        var row = new RunRow(run.Id, run.Type, registry.DisplayNameOf(run.Type), run.Status, run.Outcome, run.InitiatorName,
            run.CreatedAt, run.StartedAt, run.CompletedAt, run.ProcessedCount, run.TotalCount);
        return new RunDetails(row, RunJson.DeserializeContext(run.ContextJson), RunJson.DeserializeFailures(run.FailuresJson),
            run.FailureTotal, run.SucceededCount, run.FailedCount, run.SkippedCount, run.Attempt, run.InitiatorUserId,
            run.CancelRequestedAt, run.RunIdentityHash, events, earlier);
    }

}
