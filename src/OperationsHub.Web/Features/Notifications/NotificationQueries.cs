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
    string TenantName,
    string? Target = null,
    DateTime? QueuedAt = null)
{
    public string RunLink => Tenants.HubLinks.Run(TenantExternalId, RunId);
}

/// <summary>
/// A user's notifications: rows the engine wrote for the runs that user started. Every call is scoped to the
/// signed-in user's id inside the query, so no id a client sends can reach someone else's notifications.
/// The bell reads them as one entry per run: a run's newest notification (its end, once it ended) stands for the
/// run's story, says when it was queued, is unread while any of the run's notifications is, and marking it read
/// marks them all; the unread count counts such entries.
/// </summary>
public sealed class NotificationQueries(IDbContextFactory<HubDbContext> dbFactory, TimeProvider time)
{
    public const int PageSize = 10;

    public async Task<int> CountUnreadAsync(long userId, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await db.Notifications.Where(n => n.UserId == userId && n.ReadAt == null).Select(n => n.RunId).Distinct().CountAsync(cancellationToken);
    }

    /// <summary>One entry per run, newest first; <paramref name="take"/> (entries) is bounded.</summary>
    public async Task<IReadOnlyList<NotificationRow>> GetNewestAsync(long userId, int take, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await Rows(db, userId).Take(Math.Clamp(take, 1, 200)).ToListAsync(cancellationToken);
    }

    /// <summary>
    /// Terminal notifications created at or after <paramref name="since"/> that are not among <paramref name="seen"/>,
    /// oldest first: the toasts still to show. By time and by what was seen, never by "ids above X" (see CommitOrder).
    /// </summary>
    public async Task<IReadOnlyList<NotificationRow>> GetCompletedSinceAsync(
        long userId, DateTime since, IReadOnlyCollection<long> seen, CancellationToken cancellationToken)
    {
        var seenIds = seen.ToList();
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await (
            from n in db.Notifications.AsNoTracking()
            where n.UserId == userId && n.CreatedAt >= since && n.Kind == NotificationKinds.Completed && !seenIds.Contains(n.Id)
            join t in db.Tenants on n.TenantId equals t.Id
            orderby n.CreatedAt, n.Id
            select new NotificationRow(n.Id, n.Kind, n.Outcome, n.Title, n.Body, n.CreatedAt, n.ReadAt, n.RunId, t.ExternalId, t.Name,
                db.Runs.Where(r => r.Id == n.RunId).Select(r => r.Target).FirstOrDefault()))
            .Take(MaxToastsPerRead)
            .ToListAsync(cancellationToken);
    }

    /// <summary>Toasts read at once at most; the rest come with the next read.</summary>
    public const int MaxToastsPerRead = 20;

    /// <summary>
    /// Marks the entry read: the user's notifications about the same run as <paramref name="notificationId"/>, up to
    /// it. An entry read while its run was queued stays news when the run ends later.
    /// </summary>
    public async Task<bool> MarkReadAsync(long userId, long notificationId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var run = db.Notifications.Where(x => x.Id == notificationId && x.UserId == userId).Select(x => x.RunId);
        return await db.Notifications.Where(n => n.UserId == userId && n.ReadAt == null && n.Id <= notificationId && run.Contains(n.RunId))
            .ExecuteUpdateAsync(s => s.SetProperty(n => n.ReadAt, now), cancellationToken) > 0;
    }

    public async Task<int> MarkAllReadAsync(long userId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await db.Notifications.Where(n => n.UserId == userId && n.ReadAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(n => n.ReadAt, now), cancellationToken);
    }

    /// <summary>
    /// Each run's newest notification of the user's (no later one for the same run), with the run's queued time and
    /// read state folded in. A run has at most two notifications, found through the run-id index.
    /// </summary>
    private static IQueryable<NotificationRow> Rows(HubDbContext db, long userId) =>
        from n in db.Notifications.AsNoTracking().Where(n => n.UserId == userId)
        where !db.Notifications.Any(o => o.UserId == userId && o.RunId == n.RunId && o.Id > n.Id)
        join t in db.Tenants on n.TenantId equals t.Id
        orderby n.Id descending
        let unread = db.Notifications.Any(o => o.UserId == userId && o.RunId == n.RunId && o.ReadAt == null)
        select new NotificationRow(n.Id, n.Kind, n.Outcome, n.Title, n.Body, n.CreatedAt, unread ? null : n.ReadAt, n.RunId,
            t.ExternalId, t.Name, null,
            n.Kind == NotificationKinds.Completed
                ? db.Notifications.Where(o => o.UserId == userId && o.RunId == n.RunId && o.Kind == NotificationKinds.Queued)
                    .Select(o => (DateTime?)o.CreatedAt).FirstOrDefault()
                : null);
}
