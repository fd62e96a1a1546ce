using Microsoft.EntityFrameworkCore;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Samples;

namespace OperationsHub.Web.Features.Directory;

/// <summary>Where a tenant's directory cache stands, for the helper text every directory-backed page shows.</summary>
public sealed record DirectoryCacheStatus(
    int LiveGroups,
    int RemovedGroups,
    DateTime? LastSyncedAt,
    long? LastRunId,
    int LastAdded,
    int LastUpdated,
    int LastRemoved,
    long? ActiveSyncRunId,
    string? DirectoryTenantId)
{
    public bool Empty => LiveGroups == 0;

    /// <summary>Older than this, the helper text says the cache may be out of date.</summary>
    public static readonly TimeSpan StaleAfter = TimeSpan.FromDays(1);

    public bool IsStale(DateTime now) => LastSyncedAt is not { } at || now - at > StaleAfter;
}

public sealed record DirectoryGroupRow(
    string ObjectId,
    string DisplayName,
    string? Description,
    DirectoryGroupKind Kind,
    string? Mail,
    int? MemberCount,
    DateTime LastSeenAt,
    DateTime? DeletedAt);

public sealed record DirectoryGroupsPage(IReadOnlyList<DirectoryGroupRow> Rows, int Total);

/// <summary>The directory cache as pages read it: from the database only, never from Microsoft Graph.</summary>
public sealed class DirectoryQueries(IDbContextFactory<HubDbContext> dbFactory)
{
    public const int MaxSearchLength = CachedGroupSearch.MaxTextLength;

    public async Task<DirectoryCacheStatus> GetStatusAsync(long tenantId, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var counts = await db.DirectoryGroups.AsNoTracking().Where(g => g.TenantId == tenantId)
            .GroupBy(g => g.DeletedAt == null).Select(g => new { Live = g.Key, Count = g.Count() }).ToListAsync(ct);
        var state = await db.DirectorySyncStates.AsNoTracking().SingleOrDefaultAsync(s => s.TenantId == tenantId, ct);
        var directory = await db.Tenants.AsNoTracking().Where(t => t.Id == tenantId).Select(t => t.DirectoryTenantId).SingleOrDefaultAsync(ct);
        var active = await db.Runs.AsNoTracking()
            .Where(r => r.TenantId == tenantId && r.Type == SampleOperations.DirectorySync && (r.Status == RunStatus.Queued || r.Status == RunStatus.Running))
            .OrderByDescending(r => r.Id).Select(r => (long?)r.Id).FirstOrDefaultAsync(ct);
        return new DirectoryCacheStatus(
            counts.Where(c => c.Live).Sum(c => c.Count),
            counts.Where(c => !c.Live).Sum(c => c.Count),
            state?.LastSyncedAt,
            state?.LastRunId,
            state?.LastAdded ?? 0,
            state?.LastUpdated ?? 0,
            state?.LastRemoved ?? 0,
            active,
            directory);
    }

    public async Task<DirectoryGroupsPage> ListAsync(long tenantId, string? search, bool includeRemoved, int page, int pageSize, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var query = db.DirectoryGroups.AsNoTracking().Where(g => g.TenantId == tenantId);
        if (!includeRemoved)
        {
            query = query.Where(g => g.DeletedAt == null);
        }

        query = query.Matching(search, matchObjectId: true);
        var total = await query.CountAsync(ct);
        var size = Math.Clamp(pageSize, 5, 100);
        var rows = await query.OrderBy(g => g.DisplayName).ThenBy(g => g.ObjectId)
            .Skip(Math.Max(0, page) * size).Take(size)
            .Select(g => new DirectoryGroupRow(g.ObjectId, g.DisplayName, g.Description, g.Kind, g.Mail, g.MemberCount, g.LastSeenAt, g.DeletedAt))
            .ToListAsync(ct);
        return new DirectoryGroupsPage(rows, total);
    }
}
