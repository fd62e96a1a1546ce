using Microsoft.EntityFrameworkCore;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;

namespace OperationsHub.Web.Features.StartSurfaces;

public sealed record CardRun(long Id, RunStatus Status, RunOutcome Outcome, DateTime CreatedAt);

public sealed record OperationCardState(CardRun? Last, CardRun? Active);

/// <summary>What each operation card shows: the type's latest run and its newest active one, per tenant.</summary>
public sealed class OperationCardQueries(IDbContextFactory<HubDbContext> dbFactory)
{
    public async Task<IReadOnlyDictionary<string, OperationCardState>> GetAsync(long tenantId, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        // Max id per type (the (tenant_id, type) index answers it); the active ones come from the partial index.
        var lastIds = await db.Runs.AsNoTracking().Where(r => r.TenantId == tenantId)
            .GroupBy(r => r.Type).Select(g => g.Max(r => r.Id)).ToListAsync(cancellationToken);
        var activeIds = await db.Runs.AsNoTracking()
            .Where(r => r.TenantId == tenantId && (r.Status == RunStatus.Queued || r.Status == RunStatus.Running))
            .GroupBy(r => r.Type).Select(g => g.Max(r => r.Id)).ToListAsync(cancellationToken);
        var ids = lastIds.Concat(activeIds).Distinct().ToList();
        var runs = await db.Runs.AsNoTracking().Where(r => ids.Contains(r.Id))
            .Select(r => new { r.Type, Run = new CardRun(r.Id, r.Status, r.Outcome, r.CreatedAt) })
            .ToListAsync(cancellationToken);
        return runs.GroupBy(r => r.Type).ToDictionary(
            g => g.Key,
            g => new OperationCardState(
                g.Where(r => lastIds.Contains(r.Run.Id)).Select(r => r.Run).FirstOrDefault(),
                g.Where(r => activeIds.Contains(r.Run.Id)).Select(r => r.Run).FirstOrDefault()),
            StringComparer.Ordinal);
    }
}
