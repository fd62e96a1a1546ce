using System.Security.Claims;
using Microsoft.EntityFrameworkCore;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Sanitization;

namespace OperationsHub.Web.Features.Auth;

/// <summary>
/// Maps an Entra ID sign-in to a hub user by object id and directory tenant id, creating the user on first sign-in
/// with no memberships: an administrator grants access to tenants, never the identity provider.
/// </summary>
public sealed partial class EntraUserProvisioning(
    IDbContextFactory<HubDbContext> dbFactory,
    HubSessions sessions,
    TimeProvider time,
    ILogger<EntraUserProvisioning> logger)
{
    private const string ObjectIdClaim = "http://schemas.microsoft.com/identity/claims/objectidentifier";
    private const string TenantIdClaim = "http://schemas.microsoft.com/identity/claims/tenantid";

    /// <summary>
    /// The Entra ID object (a person, or an app's service principal) and directory a token names, by their mapped claim
    /// types or the raw <c>oid</c> / <c>tid</c>; null when either is missing or blank.
    /// </summary>
    public static (string ObjectId, string DirectoryId)? ReadEntraObject(ClaimsPrincipal principal)
    {
        var objectId = principal.FindFirstValue(ObjectIdClaim) ?? principal.FindFirstValue("oid");
        var directoryId = principal.FindFirstValue(TenantIdClaim) ?? principal.FindFirstValue("tid");
        return string.IsNullOrWhiteSpace(objectId) || string.IsNullOrWhiteSpace(directoryId) ? null : (objectId, directoryId);
    }

    /// <summary>Adds the hub's user id and a new session to the identity; returns false when the token lacks oid or tid.</summary>
    public async Task<bool> ProvisionAsync(ClaimsPrincipal principal, CancellationToken cancellationToken)
    {
        if (ReadEntraObject(principal) is not var (objectId, directoryId) || principal.Identity is not ClaimsIdentity identity)
        {
            return false;
        }

        var displayName = Sanitizer.SanitizeText(principal.FindFirstValue("name") ?? principal.FindFirstValue(ClaimTypes.Name) ?? "Entra user", 200);
        var email = principal.FindFirstValue("preferred_username") ?? principal.FindFirstValue(ClaimTypes.Email);
        var user = await FindOrCreateAsync(objectId, directoryId, displayName, email, cancellationToken);

        identity.AddClaim(new Claim(HubClaims.UserId, user.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        identity.AddClaim(new Claim(HubClaims.SessionId, await sessions.StartAsync(user.Id, cancellationToken)));
        return true;
    }

    /// <summary>The hub user of an Entra ID object (a person, or an app's service principal), created with no memberships the first time.</summary>
    public async Task<HubUser> FindOrCreateAsync(string objectId, string directoryId, string displayName, string? email, CancellationToken cancellationToken) =>
        await FindAsync(objectId, directoryId, cancellationToken)
            ?? await CreateAsync(objectId, directoryId, displayName, email, cancellationToken);

    private async Task<HubUser?> FindAsync(string objectId, string directoryId, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Users.AsNoTracking()
            .SingleOrDefaultAsync(u => u.EntraObjectId == objectId && u.EntraTenantId == directoryId, ct);
    }

    private async Task<HubUser> CreateAsync(string objectId, string directoryId, string displayName, string? email, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var user = new HubUser
        {
            DisplayName = displayName,
            Email = email,
            EntraObjectId = objectId,
            EntraTenantId = directoryId,
            CreatedAt = time.GetUtcNow().UtcDateTime,
        };
        db.Users.Add(user);
        try
        {
            await db.SaveChangesAsync(ct);
            LogProvisioned(logger, user.Id);
            return user;
        }
        catch (DbUpdateException)
        {
            // Two first sign-ins of the same person raced; the unique index kept one. Use it.
            return await FindAsync(objectId, directoryId, ct)
                ?? throw new InvalidOperationException("The Entra ID user could not be provisioned.");
        }
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "Provisioned hub user {UserId} on first Entra ID sign-in")]
    private static partial void LogProvisioned(ILogger logger, long userId);
}
