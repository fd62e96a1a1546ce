using Microsoft.EntityFrameworkCore;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;

namespace OperationsHub.Web.Features.Notifications;

public sealed record NotificationRow(
    long Id,
    string Kind,
    RunOutcome Outcome,
    string Title,
    string Body,
    DateTime CreatedAt,
    DateTime? ReadAt,
    long RunId,
    string TenantExternalId,
    string TenantName)
{
    public string RunLink => Tenants.HubLinks.Run(TenantExternalId, RunId);
}

/// <summary>
/// A user's notifications: rows the engine wrote for the runs that user started. Every call is scoped to the
/// signed-in user's id inside the query, so no id a client sends can reach someone else's notifications.
/// </summary>
public sealed class NotificationQueries(IDbContextFactory<HubDbContext> dbFactory, TimeProvider time)
{
    public const int PageSize = 10;

    public async Task<int> CountUnreadAsync(long userId, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await db.Notifications.CountAsync(n => n.UserId == userId && n.ReadAt == null, cancellationToken);
    }

    /// <summary>Newest first; <paramref name="take"/> is bounded.</summary>
    public async Task<IReadOnlyList<NotificationRow>> GetNewestAsync(long userId, int take, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await Rows(db, userId).Take(Math.Clamp(take, 1, 200)).ToListAsync(cancellationToken);
    }

    /// <summary>Terminal notifications newer than <paramref name="afterId"/>, oldest first: the toasts still to show.</summary>
    public async Task<IReadOnlyList<NotificationRow>> GetCompletedAfterAsync(long userId, long afterId, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var rows = await Rows(db, userId, n => n.Id > afterId && n.Kind == NotificationKinds.Completed)
            .Take(20).ToListAsync(cancellationToken);
        rows.Reverse();
        return rows;
    }

    public async Task<long> GetLatestIdAsync(long userId, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await db.Notifications.Where(n => n.UserId == userId).MaxAsync(n => (long?)n.Id, cancellationToken) ?? 0;
    }

    public async Task<bool> MarkReadAsync(long userId, long notificationId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await db.Notifications.Where(n => n.Id == notificationId && n.UserId == userId && n.ReadAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(n => n.ReadAt, now), cancellationToken) > 0;
    }

    public async Task<int> MarkAllReadAsync(long userId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await db.Notifications.Where(n => n.UserId == userId && n.ReadAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(n => n.ReadAt, now), cancellationToken);
    }

    private static IQueryable<NotificationRow> Rows(
        HubDbContext db, long userId, System.Linq.Expressions.Expression<Func<UserNotification, bool>>? filter = null) =>
        from n in db.Notifications.AsNoTracking().Where(n => n.UserId == userId).Where(filter ?? (n => true))
        join t in db.Tenants on n.TenantId equals t.Id
        orderby n.Id descending
        select new NotificationRow(n.Id, n.Kind, n.Outcome, n.Title, n.Body, n.CreatedAt, n.ReadAt, n.RunId, t.ExternalId, t.Name);
}
