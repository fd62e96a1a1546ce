using System.Globalization;
using System.Security.Claims;
using Microsoft.EntityFrameworkCore;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Web.Features.ApiTokens;
using OperationsHub.Web.Features.Auth;

namespace OperationsHub.Web.Features.Tenants;

public enum AccessStatus
{
    Allowed,
    NotFound,
    Forbidden,
    Unauthenticated,
}

/// <summary>The tenant a page or action works in, with the signed-in user's role there.</summary>
public sealed record TenantContext(long TenantId, string ExternalId, string Name, long UserId, string UserName, TenantRole Role)
{
    /// <summary>The API token acting, when it is one (then <see cref="UserId"/> is the token's creator).</summary>
    public long? ApiTokenId { get; init; }

    public bool CanStartRuns => TenantPermissions.CanStartRuns(Role);
}

public sealed record TenantAccessResult(AccessStatus Status, TenantContext? Tenant = null);

public sealed record RunAccessResult(AccessStatus Status, TenantContext? Tenant = null, long RunId = 0);

public sealed record UserTenant(string ExternalId, string Name, TenantRole Role);

public static class TenantPermissions
{
    public static bool CanStartRuns(TenantRole role) => role >= TenantRole.Operator;

    /// <summary>Who may grant and take away roles (members and group bindings) in a tenant.</summary>
    public static bool CanManageAccess(TenantRole role) => role == TenantRole.Owner;

    /// <summary>Operators and up cancel runs, their own and others' (Readonly members act on nothing).</summary>
    public static bool CanCancelRun(TenantRole role) => role >= TenantRole.Operator;

    /// <summary>Operators and up retry (or run again) completed runs, their own and others'.</summary>
    public static bool CanRetryRun(TenantRole role) => role >= TenantRole.Operator;

    /// <summary>Managers and owners act on many runs at once (bulk cancel and retry).</summary>
    public static bool CanBulkAct(TenantRole role) => role >= TenantRole.Manager;

    /// <summary>Managers and owners create and revoke the tenant's API tokens (each with at most their own role).</summary>
    public static bool CanManageApiTokens(TenantRole role) => role >= TenantRole.Manager;

    /// <summary>Owners register, delete and re-send the tenant's webhooks (they decide where its run events go).</summary>
    public static bool CanManageWebhooks(TenantRole role) => role == TenantRole.Owner;

    /// <summary>Managers and owners see the webhooks and their delivery log (never a secret).</summary>
    public static bool CanViewWebhooks(TenantRole role) => role >= TenantRole.Manager;
}

/// <summary>
/// The one answer to "may this user see this tenant (and this run)?". Pages and actions both ask it, on the server,
/// every time: hidden buttons are a courtesy, this is the check. The session and the memberships come from the
/// database, never from the cookie, so a sign-out elsewhere or a revoked membership takes effect at once.
/// </summary>
public sealed class TenantAccess(IDbContextFactory<HubDbContext> dbFactory, HubSessions sessions)
{
    private const int MaxExternalIdLength = 64;

    public async Task<TenantAccessResult> ResolveAsync(ClaimsPrincipal user, string? tenantExternalId, CancellationToken cancellationToken)
    {
        if (user.GetApiTokenGrant() is { } grant)
        {
            return await ResolveBearerAsync(user, tenantExternalId,
                (tenantId, _) => tenantId == grant.TenantId ? (grant.Role, grant.TokenId) : null, cancellationToken);
        }

        if (user.GetEntraApiGrant() is { } entra)
        {
            return await ResolveBearerAsync(user, tenantExternalId,
                (_, directory) => entra.Role is { } role && string.Equals(directory, entra.DirectoryTenantId, StringComparison.OrdinalIgnoreCase)
                    ? (role, null) : null,
                cancellationToken);
        }

        if (user.GetHubUserId() is not { } userId
            || await sessions.CheckAsync(user, touch: false, cancellationToken) != SessionState.Live)
        {
            return new TenantAccessResult(AccessStatus.Unauthenticated);
        }

        if (!IsWellFormedExternalId(tenantExternalId))
        {
            return new TenantAccessResult(AccessStatus.NotFound);
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var row = await db.Tenants.AsNoTracking()
            .Where(t => t.ExternalId == tenantExternalId)
            .Select(t => new
            {
                t.Id,
                t.ExternalId,
                t.Name,
                Role = db.Memberships.Where(m => m.TenantId == t.Id && m.UserId == userId).Select(m => (TenantRole?)m.Role).FirstOrDefault(),
            })
            .SingleOrDefaultAsync(cancellationToken);
        if (row is null)
        {
            return new TenantAccessResult(AccessStatus.NotFound);
        }

        // A role through a group binding counts as much as a direct one; the highest of all applies. Read every time,
        // so removing a binding takes the role away at the next request or action.
        var roles = new List<TenantRole>();
        if (row.Role is { } direct)
        {
            roles.Add(direct);
        }

        var groups = user.GetDirectoryGroupIds();
        if (groups.Count > 0)
        {
            roles.AddRange(await db.GroupRoleBindings.AsNoTracking()
                .Where(b => b.TenantId == row.Id && groups.Contains(b.GroupObjectId)).Select(b => b.Role).ToListAsync(cancellationToken));
        }

        return roles.Count > 0
            ? new TenantAccessResult(AccessStatus.Allowed, new TenantContext(row.Id, row.ExternalId, row.Name, userId, user.GetDisplayName(), roles.Max()))
            : new TenantAccessResult(AccessStatus.Forbidden);
    }

    /// <summary>
    /// A bearer token's request (the API): no session, the token's own checks moments ago are its session. A hub API
    /// token acts in its one tenant with the role its handler settled on (it checked that the token is live and its
    /// creator still in the tenant); an Entra ID access token acts in the tenants linked to its directory with the role
    /// its app roles grant. Any other tenant, or an Entra token with none of the hub's app roles, is 403, as for people.
    /// </summary>
    private async Task<TenantAccessResult> ResolveBearerAsync(
        ClaimsPrincipal user, string? tenantExternalId, Func<long, string?, (TenantRole Role, long? TokenId)?> grant,
        CancellationToken cancellationToken)
    {
        if (!IsWellFormedExternalId(tenantExternalId) || user.GetHubUserId() is not { } userId)
        {
            return new TenantAccessResult(AccessStatus.NotFound);
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var tenant = await db.Tenants.AsNoTracking().Where(t => t.ExternalId == tenantExternalId)
            .Select(t => new { t.Id, t.ExternalId, t.Name, t.DirectoryTenantId }).SingleOrDefaultAsync(cancellationToken);
        if (tenant is null)
        {
            return new TenantAccessResult(AccessStatus.NotFound);
        }

        return grant(tenant.Id, tenant.DirectoryTenantId) is { } granted
            ? new TenantAccessResult(AccessStatus.Allowed,
                new TenantContext(tenant.Id, tenant.ExternalId, tenant.Name, userId, user.GetDisplayName(), granted.Role) { ApiTokenId = granted.TokenId })
            : new TenantAccessResult(AccessStatus.Forbidden);
    }

    /// <summary>
    /// A run of a tenant: 404 for an unknown tenant, an unknown run or a run id that is not a positive integer;
    /// 403 when the user is no member of the tenant, or the run belongs to another tenant.
    /// </summary>
    public async Task<RunAccessResult> ResolveRunAsync(
        ClaimsPrincipal user, string? tenantExternalId, string? runIdText, CancellationToken cancellationToken)
    {
        var tenant = await ResolveAsync(user, tenantExternalId, cancellationToken);
        if (tenant.Status != AccessStatus.Allowed)
        {
            return new RunAccessResult(tenant.Status);
        }

        if (!TryParseRunId(runIdText, out var runId))
        {
            return new RunAccessResult(AccessStatus.NotFound);
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var runTenantId = await db.Runs.AsNoTracking().Where(r => r.Id == runId).Select(r => (long?)r.TenantId)
            .SingleOrDefaultAsync(cancellationToken);
        return runTenantId switch
        {
            null => new RunAccessResult(AccessStatus.NotFound),
            var id when id == tenant.Tenant!.TenantId => new RunAccessResult(AccessStatus.Allowed, tenant.Tenant, runId),
            _ => new RunAccessResult(AccessStatus.Forbidden),
        };
    }

    /// <summary>
    /// For a run that was not found: the tenant, when it is one of the user's own (so the answer can lead back to its
    /// Operations); null otherwise, so nothing about another tenant is told.
    /// </summary>
    public async Task<TenantContext?> TenantOfMissingRunAsync(ClaimsPrincipal user, string? tenantExternalId, CancellationToken cancellationToken) =>
        await ResolveAsync(user, tenantExternalId, cancellationToken) is { Status: AccessStatus.Allowed, Tenant: { } tenant } ? tenant : null;

    public async Task<IReadOnlyList<UserTenant>> GetUserTenantsAsync(ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        if (user.GetHubUserId() is not { } userId
            || await sessions.CheckAsync(user, touch: false, cancellationToken) != SessionState.Live)
        {
            return [];
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var direct = await (
            from m in db.Memberships
            join t in db.Tenants on m.TenantId equals t.Id
            where m.UserId == userId
            select new UserTenant(t.ExternalId, t.Name, m.Role)).AsNoTracking().ToListAsync(cancellationToken);
        var groups = user.GetDirectoryGroupIds();
        var bound = groups.Count == 0 ? [] : await (
            from b in db.GroupRoleBindings
            join t in db.Tenants on b.TenantId equals t.Id
            where groups.Contains(b.GroupObjectId)
            select new UserTenant(t.ExternalId, t.Name, b.Role)).AsNoTracking().ToListAsync(cancellationToken);
        return direct.Concat(bound)
            .GroupBy(t => t.ExternalId, StringComparer.Ordinal)
            .Select(g => g.MaxBy(t => t.Role)!)
            .OrderBy(t => t.Name, StringComparer.CurrentCulture).ToList();
    }

    public static bool TryParseRunId(string? text, out long runId) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out runId) && runId > 0;

    private static bool IsWellFormedExternalId(string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > MaxExternalIdLength)
        {
            return false;
        }

        foreach (var c in value)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            {
                return false;
            }
        }

        return true;
    }
}
