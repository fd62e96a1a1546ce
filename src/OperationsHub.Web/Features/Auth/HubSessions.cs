using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;

namespace OperationsHub.Web.Features.Auth;

/// <summary>What a principal's session is now: live, or why not.</summary>
public enum SessionState
{
    Live,

    /// <summary>The principal carries no session, or one this hub never issued.</summary>
    Missing,

    SignedOut,
    LockedOut,
    Revoked,

    /// <summary>Idle longer than <see cref="HubAuthenticationOptions.SessionLifetime"/>, or older than the absolute limit.</summary>
    Expired,
}

/// <summary>
/// Server-side sign-in sessions. A sign-in starts one and puts its token in the cookie; the cookie handler, the
/// circuit's revalidation and every action ask whether it is still live; sign-out and lockout end it. So a copied
/// cookie, or a tab left open elsewhere, loses its power the moment the session ends, on every node.
/// </summary>
public sealed class HubSessions(IDbContextFactory<HubDbContext> dbFactory, IOptions<HubAuthenticationOptions> options, TimeProvider time)
{
    /// <summary>Activity is recorded at most this often per session, so a busy tab costs reads, not writes.</summary>
    internal static readonly TimeSpan TouchInterval = TimeSpan.FromMinutes(1);

    // Activity waiting to be written by FlushActivityAsync: never on a request's path, so a page is served even while
    // another process holds the database's write lock.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, DateTime> _activity = new(StringComparer.Ordinal);

    public async Task<string> StartAsync(long userId, CancellationToken cancellationToken)
    {
        var token = Base64Url(RandomNumberGenerator.GetBytes(32));
        var now = time.GetUtcNow().UtcDateTime;
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        db.Sessions.Add(new HubSession { Id = Hash(token), UserId = userId, CreatedAt = now, LastSeenAt = now });
        await db.SaveChangesAsync(cancellationToken);
        return token;
    }

    /// <summary>
    /// The state of <paramref name="principal"/>'s session; with <paramref name="touch"/>, a live session's last
    /// activity moves to now (at most once a <see cref="TouchInterval"/>).
    /// </summary>
    public async Task<SessionState> CheckAsync(ClaimsPrincipal principal, bool touch, CancellationToken cancellationToken)
    {
        if (principal.GetHubUserId() is not { } userId || principal.FindFirstValue(HubClaims.SessionId) is not { Length: > 0 } token)
        {
            return SessionState.Missing;
        }

        var id = Hash(token);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var session = await db.Sessions.AsNoTracking().Where(s => s.Id == id && s.UserId == userId)
            .Select(s => new { s.CreatedAt, s.LastSeenAt, s.EndReason })
            .SingleOrDefaultAsync(cancellationToken);
        if (session is null)
        {
            return SessionState.Missing;
        }

        var now = time.GetUtcNow().UtcDateTime;
        var state = StateOf(session.EndReason, session.CreatedAt, session.LastSeenAt, now);
        if (state == SessionState.Live && touch && now - session.LastSeenAt >= TouchInterval)
        {
            _activity[id] = now;
        }

        return state;
    }

    /// <summary>
    /// Writes the activity recorded since the last flush, one short transaction; what fails stays for the next one.
    /// Conditional on each row still being live, so a late write never revives a session that ended meanwhile.
    /// </summary>
    public async Task<int> FlushActivityAsync(CancellationToken cancellationToken)
    {
        var pending = _activity.ToArray();
        if (pending.Length == 0)
        {
            return 0;
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        foreach (var (id, seenAt) in pending)
        {
            await db.Sessions.Where(s => s.Id == id && s.EndedAt == null && s.LastSeenAt < seenAt)
                .ExecuteUpdateAsync(s => s.SetProperty(x => x.LastSeenAt, seenAt), cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        foreach (var entry in pending)
        {
            // Only what was written: a newer touch recorded meanwhile waits for the next flush.
            _activity.TryRemove(entry);
        }

        return pending.Length;
    }

    public async Task EndAsync(ClaimsPrincipal principal, SessionEndReason reason, CancellationToken cancellationToken)
    {
        if (principal.FindFirstValue(HubClaims.SessionId) is not { Length: > 0 } token)
        {
            return;
        }

        var id = Hash(token);
        var now = time.GetUtcNow().UtcDateTime;
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        await db.Sessions.Where(s => s.Id == id && s.EndedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(x => x.EndedAt, now).SetProperty(x => x.EndReason, reason), cancellationToken);
    }

    /// <summary>Ends every live session of a user (a lockout, an administrator's revocation); returns how many.</summary>
    public async Task<int> EndAllAsync(long userId, SessionEndReason reason, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await db.Sessions.Where(s => s.UserId == userId && s.EndedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(x => x.EndedAt, now).SetProperty(x => x.EndReason, reason), cancellationToken);
    }

    /// <summary>
    /// Deletes sessions that ended, went idle or passed their absolute limit before <paramref name="before"/>: none
    /// can be live again. (Kept a while after ending, so an open page can still say why it was signed out.)
    /// </summary>
    public async Task<int> PruneAsync(DateTime before, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var seenBefore = before - settings.SessionLifetime;
        var createdBefore = before - settings.SessionMaxLifetime;
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await db.Sessions.Where(s => s.EndedAt < before || s.LastSeenAt < seenBefore || s.CreatedAt < createdBefore)
            .ExecuteDeleteAsync(cancellationToken);
    }

    private SessionState StateOf(SessionEndReason? ended, DateTime createdAt, DateTime lastSeenAt, DateTime now)
    {
        var settings = options.Value;
        return ended switch
        {
            SessionEndReason.SignedOut => SessionState.SignedOut,
            SessionEndReason.LockedOut => SessionState.LockedOut,
            SessionEndReason.Revoked => SessionState.Revoked,
            _ when now - lastSeenAt > settings.SessionLifetime || now - createdAt > settings.SessionMaxLifetime => SessionState.Expired,
            _ => SessionState.Live,
        };
    }

    private static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(token)));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
