using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;

namespace OperationsHub.Web.Features.Auth;

public enum LocalSignInStatus
{
    Succeeded,
    InvalidCredentials,
    LockedOut,
}

/// <summary>The outcome; on success, the user and the token of the server-side session just started for them.</summary>
public sealed record LocalSignInResult(LocalSignInStatus Status, HubUser? User = null, DateTime? LockedUntil = null, string? SessionToken = null);

/// <summary>Checks a local password, counting failures and locking the account after too many in a row.</summary>
public sealed class LocalSignIn(
    IDbContextFactory<HubDbContext> dbFactory,
    IPasswordHasher<HubUser> hasher,
    IOptions<HubAuthenticationOptions> options,
    HubSessions sessions,
    TimeProvider time)
{
    // Hashed once; verifying against it for unknown emails keeps both answers equally slow (no user enumeration by timing).
    private static readonly Lazy<string> DummyHash = new(() =>
        new PasswordHasher<HubUser>().HashPassword(new HubUser { DisplayName = "dummy" }, Guid.NewGuid().ToString()));

    public static string Normalize(string email) => email.Trim().ToUpperInvariant();

    public async Task<LocalSignInResult> SignInAsync(string email, string password, CancellationToken cancellationToken)
    {
        var normalized = Normalize(email);
        var now = time.GetUtcNow().UtcDateTime;
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var user = await db.Users.SingleOrDefaultAsync(u => u.NormalizedEmail == normalized, cancellationToken);
        if (user?.PasswordHash is null)
        {
            return await SignInUnknownAsync(db, normalized, password, now, cancellationToken);
        }

        if (user.LockoutEndsAt > now)
        {
            return new LocalSignInResult(LocalSignInStatus.LockedOut, LockedUntil: user.LockoutEndsAt);
        }

        var verdict = hasher.VerifyHashedPassword(user, user.PasswordHash, password);
        if (verdict == PasswordVerificationResult.Failed)
        {
            (user.AccessFailedCount, user.LockoutEndsAt) = CountFailure(user.AccessFailedCount, user.LockoutEndsAt, now);
            await db.SaveChangesAsync(cancellationToken);
            if (user.LockoutEndsAt > now)
            {
                // A locked account has no power anywhere: its open sessions end with it.
                await sessions.EndAllAsync(user.Id, SessionEndReason.LockedOut, cancellationToken);
                return new LocalSignInResult(LocalSignInStatus.LockedOut, LockedUntil: user.LockoutEndsAt);
            }

            return new LocalSignInResult(LocalSignInStatus.InvalidCredentials);
        }

        if (verdict == PasswordVerificationResult.SuccessRehashNeeded)
        {
            user.PasswordHash = hasher.HashPassword(user, password);
        }

        user.AccessFailedCount = 0;
        user.LockoutEndsAt = null;
        await db.SaveChangesAsync(cancellationToken);
        var token = await sessions.StartAsync(user.Id, cancellationToken);
        return new LocalSignInResult(LocalSignInStatus.Succeeded, user, SessionToken: token);
    }

    /// <summary>
    /// One more failure, by the one rule for accounts and unknown emails alike: the Nth in a row locks for the
    /// lockout duration and starts the count again.
    /// </summary>
    private (int FailedCount, DateTime? LockoutEndsAt) CountFailure(int failedCount, DateTime? lockoutEndsAt, DateTime now)
    {
        var settings = options.Value;
        return failedCount + 1 >= settings.MaxFailedAttempts
            ? (0, now + settings.LockoutDuration)
            : (failedCount + 1, lockoutEndsAt);
    }

    /// <summary>
    /// An email with no local account walks the same steps as a wrong password for a real one: the lockout check
    /// first (a locked account answers without hashing), a hash verification against a dummy, a counted failure
    /// written to the database, and a lockout after as many failures. So the answers and their cost are the same.
    /// </summary>
    private async Task<LocalSignInResult> SignInUnknownAsync(
        HubDbContext db, string normalized, string password, DateTime now, CancellationToken cancellationToken)
    {
        // Bounded like the users' column, so a very long email costs no more than a real one.
        var key = normalized.Length > 320 ? normalized[..320] : normalized;
        var throttle = await db.SignInThrottles.SingleOrDefaultAsync(t => t.NormalizedEmail == key, cancellationToken);
        if (throttle?.LockoutEndsAt > now)
        {
            return new LocalSignInResult(LocalSignInStatus.LockedOut, LockedUntil: throttle.LockoutEndsAt);
        }

        hasher.VerifyHashedPassword(new HubUser { DisplayName = "dummy" }, DummyHash.Value, password);
        if (throttle is null)
        {
            throttle = new SignInThrottle { NormalizedEmail = key };
            db.SignInThrottles.Add(throttle);
        }

        (throttle.AccessFailedCount, throttle.LockoutEndsAt) = CountFailure(throttle.AccessFailedCount, throttle.LockoutEndsAt, now);
        throttle.UpdatedAt = now;

        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException)
        {
            // Two attempts for the same unknown email raced to create its row; the other one counted.
        }

        return throttle.LockoutEndsAt > now
            ? new LocalSignInResult(LocalSignInStatus.LockedOut, LockedUntil: throttle.LockoutEndsAt)
            : new LocalSignInResult(LocalSignInStatus.InvalidCredentials);
    }
}
