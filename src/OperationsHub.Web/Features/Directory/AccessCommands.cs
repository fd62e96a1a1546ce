using System.Security.Claims;
using Microsoft.EntityFrameworkCore;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Sanitization;
using OperationsHub.Web.Features.Operations;
using OperationsHub.Web.Features.Tenants;

namespace OperationsHub.Web.Features.Directory;

public sealed record TenantMemberRow(long UserId, string DisplayName, string? Email, TenantRole Role, bool Entra);

public sealed record GroupBindingRow(string GroupObjectId, string GroupDisplayName, TenantRole Role, DateTime CreatedAt, string CreatedBy, bool InCache);

public sealed record TenantAccessList(IReadOnlyList<TenantMemberRow> Members, IReadOnlyList<GroupBindingRow> Bindings);

/// <summary>
/// Who has which role in a tenant, and the group bindings that grant roles to every member of an Entra group.
/// Everyone in the tenant may read it; only an Owner changes it, checked here on every call, whatever the page showed.
/// </summary>
public sealed class AccessCommands(TenantAccess access, IDbContextFactory<HubDbContext> dbFactory, TimeProvider time)
{
    public async Task<TenantAccessList> ListAsync(long tenantId, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var members = await (
            from m in db.Memberships
            join u in db.Users on m.UserId equals u.Id
            where m.TenantId == tenantId
            orderby u.DisplayName
            select new TenantMemberRow(u.Id, u.DisplayName, u.Email, m.Role, u.EntraObjectId != null)).AsNoTracking().ToListAsync(ct);
        var bindings = await db.GroupRoleBindings.AsNoTracking().Where(b => b.TenantId == tenantId)
            .OrderBy(b => b.GroupDisplayName).ThenBy(b => b.GroupObjectId)
            .Select(b => new GroupBindingRow(b.GroupObjectId, b.GroupDisplayName, b.Role, b.CreatedAt, b.CreatedBy,
                db.DirectoryGroups.Any(g => g.TenantId == tenantId && g.ObjectId == b.GroupObjectId && g.DeletedAt == null)))
            .ToListAsync(ct);
        return new TenantAccessList(members, bindings);
    }

    /// <summary>Binds (or re-binds with another role) the group; the name is the cache's when it knows the group.</summary>
    public async Task<CommandResult<GroupBindingRow>> BindAsync(
        ClaimsPrincipal user, string tenantExternalId, string? groupObjectId, string? displayName, TenantRole role, CancellationToken ct)
    {
        var (refusal, tenant) = await AuthorizeAsync(user, tenantExternalId, ct);
        if (refusal is not null)
        {
            return new(refusal.Status, Message: refusal.Message);
        }

        if (!Guid.TryParse(groupObjectId?.Trim(), out var id))
        {
            return new(CommandStatus.Invalid, Message: "A group's object id is a GUID, like 0f8fad5b-d9cb-469f-a165-70867728950e.", Field: "group");
        }

        if (!Enum.IsDefined(role))
        {
            return new(CommandStatus.Invalid, Message: "Choose a role.", Field: "role");
        }

        var objectId = id.ToString();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var cachedName = await db.DirectoryGroups.AsNoTracking()
            .Where(g => g.TenantId == tenant!.TenantId && g.ObjectId == objectId).Select(g => g.DisplayName).FirstOrDefaultAsync(ct);
        var name = cachedName ?? (string.IsNullOrWhiteSpace(displayName) ? objectId : Sanitizer.SanitizeText(displayName, 256));
        var binding = await db.GroupRoleBindings.SingleOrDefaultAsync(b => b.TenantId == tenant!.TenantId && b.GroupObjectId == objectId, ct);
        if (binding is null)
        {
            binding = new GroupRoleBinding { TenantId = tenant!.TenantId, GroupObjectId = objectId, GroupDisplayName = name, CreatedBy = tenant.UserName };
            db.GroupRoleBindings.Add(binding);
        }

        binding.Role = role;
        binding.GroupDisplayName = name;
        binding.CreatedBy = Sanitizer.SanitizeText(tenant!.UserName, 200);
        binding.CreatedAt = time.GetUtcNow().UtcDateTime;
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            return new(CommandStatus.Conflict, Message: "Someone bound this group at the same moment. Reload to see the binding.");
        }

        return new(CommandStatus.Ok, new GroupBindingRow(objectId, name, role, binding.CreatedAt, binding.CreatedBy, cachedName is not null));
    }

    /// <summary>Links the tenant to its Entra directory (the tenant id directory sync asks Graph's tokens for); null unlinks.</summary>
    public async Task<CommandResult<string?>> LinkDirectoryAsync(ClaimsPrincipal user, string tenantExternalId, string? directoryTenantId, CancellationToken ct)
    {
        var (refusal, tenant) = await AuthorizeAsync(user, tenantExternalId, ct);
        if (refusal is not null)
        {
            return new(refusal.Status, Message: refusal.Message);
        }

        string? value = null;
        if (!string.IsNullOrWhiteSpace(directoryTenantId))
        {
            if (!Guid.TryParse(directoryTenantId.Trim(), out var id))
            {
                return new(CommandStatus.Invalid, Message: "An Entra directory (tenant) id is a GUID, shown in the Entra admin center under Overview.", Field: "directory");
            }

            value = id.ToString();
        }

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await db.Tenants.Where(t => t.Id == tenant!.TenantId).ExecuteUpdateAsync(s => s.SetProperty(t => t.DirectoryTenantId, value), ct);
        return new(CommandStatus.Ok, value);
    }

    public async Task<CommandResult<bool>> UnbindAsync(ClaimsPrincipal user, string tenantExternalId, string groupObjectId, CancellationToken ct)
    {
        var (refusal, tenant) = await AuthorizeAsync(user, tenantExternalId, ct);
        if (refusal is not null)
        {
            return new(refusal.Status, Message: refusal.Message);
        }

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var removed = await db.GroupRoleBindings.Where(b => b.TenantId == tenant!.TenantId && b.GroupObjectId == groupObjectId).ExecuteDeleteAsync(ct);
        return removed > 0 ? new(CommandStatus.Ok, true) : new(CommandStatus.NotFound, false, "That binding was already removed.");
    }

    private async Task<(Refusal? Refusal, TenantContext? Tenant)> AuthorizeAsync(ClaimsPrincipal user, string tenantExternalId, CancellationToken ct)
    {
        var resolved = await access.ResolveAsync(user, tenantExternalId, ct);
        if (resolved.Status != AccessStatus.Allowed)
        {
            return (new Refusal(RunCommands.Map(resolved.Status), RunCommands.Refusal(resolved.Status, "tenant")), null);
        }

        var tenant = resolved.Tenant!;
        return TenantPermissions.CanManageAccess(tenant.Role)
            ? (null, tenant)
            : (new Refusal(CommandStatus.Forbidden, $"Only owners change who has access to {tenant.Name}; your role is {tenant.Role}."), null);
    }

    private sealed record Refusal(CommandStatus Status, string Message);
}
