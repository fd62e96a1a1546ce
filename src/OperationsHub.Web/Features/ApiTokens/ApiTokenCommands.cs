using System.Globalization;
using System.Security.Claims;
using Microsoft.EntityFrameworkCore;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Sanitization;
using OperationsHub.Web.Features.Operations;
using OperationsHub.Web.Features.Tenants;

namespace OperationsHub.Web.Features.ApiTokens;

public sealed record ApiTokenRow(
    long Id, string Name, TenantRole Role, string Hint, string CreatedBy, DateTime CreatedAt, DateTime ExpiresAt,
    DateTime? LastUsedAt, DateTime? RevokedAt, string? RevokedBy)
{
    public bool IsActive(DateTime now) => RevokedAt is null && ExpiresAt > now;
}

public sealed record AuditRow(long Id, DateTime At, string ActorName, string Action, string Detail);

/// <summary>A token just created: the only moment its secret exists outside the caller's hands.</summary>
public sealed record CreatedApiToken(ApiTokenRow Token, string Secret);

/// <summary>
/// A tenant's API tokens: created and revoked by its Managers and Owners (checked here on every call, whatever the page
/// showed), each change written to the tenant's audit trail in the same commit.
/// </summary>
public sealed class ApiTokenCommands(TenantAccess access, IDbContextFactory<HubDbContext> dbFactory, TimeProvider time)
{
    public const int DefaultLifetimeDays = 90;
    public const int MaxLifetimeDays = 366;

    /// <summary>The expiries the page offers, in days; any whole number from 1 to <see cref="MaxLifetimeDays"/> is accepted.</summary>
    public static readonly IReadOnlyList<int> LifetimeChoices = [7, 30, DefaultLifetimeDays, 180, MaxLifetimeDays];

    public async Task<IReadOnlyList<ApiTokenRow>> ListAsync(long tenantId, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await (
            from t in db.ApiTokens
            join u in db.Users on t.CreatedByUserId equals u.Id
            where t.TenantId == tenantId
            orderby t.RevokedAt != null, t.Name
            select new ApiTokenRow(t.Id, t.Name, t.Role, t.Hint, u.DisplayName, t.CreatedAt, t.ExpiresAt, t.LastUsedAt, t.RevokedAt, t.RevokedBy))
            .AsNoTracking().ToListAsync(ct);
    }

    /// <summary>The tenant's audit trail, newest first.</summary>
    public async Task<IReadOnlyList<AuditRow>> AuditAsync(long tenantId, int limit, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.AuditEvents.AsNoTracking().Where(a => a.TenantId == tenantId).OrderByDescending(a => a.Id).Take(limit)
            .Select(a => new AuditRow(a.Id, a.At, a.ActorName, a.Action, a.Detail)).ToListAsync(ct);
    }

    public async Task<CommandResult<CreatedApiToken>> CreateAsync(
        ClaimsPrincipal user, string tenantExternalId, string? name, TenantRole role, int lifetimeDays, CancellationToken ct)
    {
        var (refusal, tenant) = await AuthorizeAsync(user, tenantExternalId, ct);
        if (refusal is not null)
        {
            return new(refusal.Status, Message: refusal.Message);
        }

        var cleanName = Sanitizer.SanitizeText(name?.Trim() ?? "", ApiToken.MaxNameLength + 1).Trim();
        if (cleanName.Length == 0)
        {
            return new(CommandStatus.Invalid, Message: "Name the token after what will use it, for example \"ci-pipeline\".", Field: "name");
        }

        if (cleanName.Length > ApiToken.MaxNameLength)
        {
            return new(CommandStatus.Invalid, Message: $"A token's name is at most {ApiToken.MaxNameLength} characters.", Field: "name");
        }

        if (!Enum.IsDefined(role))
        {
            return new(CommandStatus.Invalid, Message: "Choose the token's role.", Field: "role");
        }

        if (role > tenant!.Role)
        {
            return new(CommandStatus.Invalid, Message: $"A token can have at most your own role ({tenant.Role}).", Field: "role");
        }

        if (lifetimeDays is < 1 or > MaxLifetimeDays)
        {
            return new(CommandStatus.Invalid, Message: $"A token expires in 1 to {MaxLifetimeDays} days.", Field: "expiry");
        }

        var now = time.GetUtcNow().UtcDateTime;
        var secret = ApiTokenSecrets.Generate();
        var token = new ApiToken
        {
            TenantId = tenant.TenantId,
            Name = cleanName,
            Role = role,
            SecretHash = ApiTokenSecrets.Hash(secret),
            Hint = ApiTokenSecrets.Hint(secret),
            CreatedByUserId = tenant.UserId,
            CreatedAt = now,
            ExpiresAt = now.AddDays(lifetimeDays),
        };
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        if (await db.ApiTokens.AnyAsync(t => t.TenantId == tenant.TenantId && t.Name == cleanName, ct))
        {
            return NameTaken(cleanName);
        }

        db.ApiTokens.Add(token);
        db.AuditEvents.Add(TenantAudit.Event(tenant, now, AuditActions.ApiTokenCreated,
            $"Created API token '{cleanName}' ({role}, expires {Day(token.ExpiresAt)})."));
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            // The unique index on (tenant, name): someone created one of that name at the same moment.
            return NameTaken(cleanName);
        }

        return new(CommandStatus.Ok, new CreatedApiToken(
            new ApiTokenRow(token.Id, token.Name, token.Role, token.Hint, tenant.UserName, now, token.ExpiresAt, null, null, null), secret));
    }

    /// <summary>Revokes at once: the next request with the token gets 401.</summary>
    public async Task<CommandResult<bool>> RevokeAsync(ClaimsPrincipal user, string tenantExternalId, long tokenId, CancellationToken ct)
    {
        var (refusal, tenant) = await AuthorizeAsync(user, tenantExternalId, ct);
        if (refusal is not null)
        {
            return new(refusal.Status, Message: refusal.Message);
        }

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var token = await db.ApiTokens.SingleOrDefaultAsync(t => t.Id == tokenId && t.TenantId == tenant!.TenantId, ct);
        if (token is null)
        {
            return new(CommandStatus.NotFound, false, "There is no such token in this tenant.");
        }

        if (token.RevokedAt is not null)
        {
            return new(CommandStatus.Ok, true);
        }

        var now = time.GetUtcNow().UtcDateTime;
        token.RevokedAt = now;
        token.RevokedBy = Sanitizer.SanitizeText(tenant!.UserName, 200);
        db.AuditEvents.Add(TenantAudit.Event(tenant, now, AuditActions.ApiTokenRevoked, $"Revoked API token '{token.Name}' ({token.Role})."));
        await db.SaveChangesAsync(ct);
        return new(CommandStatus.Ok, true);
    }

    private static CommandResult<CreatedApiToken> NameTaken(string name) =>
        new(CommandStatus.Invalid, Message: $"This tenant has a token named \"{name}\" already; choose another name.", Field: "name");

    private static string Day(DateTime at) => at.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private async Task<(Refusal? Refusal, TenantContext? Tenant)> AuthorizeAsync(ClaimsPrincipal user, string tenantExternalId, CancellationToken ct)
    {
        var resolved = await access.ResolveAsync(user, tenantExternalId, ct);
        if (resolved.Status != AccessStatus.Allowed)
        {
            return (new Refusal(RunCommands.Map(resolved.Status), RunCommands.Refusal(resolved.Status, "tenant")), null);
        }

        var tenant = resolved.Tenant!;
        if (tenant.ApiTokenId is not null)
        {
            return (new Refusal(CommandStatus.Forbidden, "API tokens are created and revoked by people, on the API tokens page; a token cannot."), null);
        }

        return TenantPermissions.CanManageApiTokens(tenant.Role)
            ? (null, tenant)
            : (new Refusal(CommandStatus.Forbidden, $"Only managers and owners create and revoke API tokens of {tenant.Name}; your role is {tenant.Role}."), null);
    }

    private sealed record Refusal(CommandStatus Status, string Message);
}
