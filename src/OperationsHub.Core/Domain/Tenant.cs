namespace OperationsHub.Core.Domain;

public sealed class Tenant
{
    public long Id { get; set; }

    /// <summary>The stable id used in URLs (<c>/admin/t/{ExternalId}/...</c>).</summary>
    public required string ExternalId { get; set; }

    public required string Name { get; set; }

    /// <summary>
    /// The customer's Entra directory (tenant) id: directory sync asks Graph for an app-only token in that directory.
    /// Null for tenants whose directory the hub does not sync.
    /// </summary>
    public string? DirectoryTenantId { get; set; }
}

public sealed class HubUser
{
    public long Id { get; set; }

    public required string DisplayName { get; set; }

    public string? Email { get; set; }

    /// <summary>Upper-case invariant form of <see cref="Email"/>, unique: the local sign-in name.</summary>
    public string? NormalizedEmail { get; set; }

    /// <summary>ASP.NET Core <c>PasswordHasher</c> output; null for users who sign in through Entra ID only.</summary>
    public string? PasswordHash { get; set; }

    public int AccessFailedCount { get; set; }

    public DateTime? LockoutEndsAt { get; set; }

    /// <summary>Entra ID object id (<c>oid</c>) and directory tenant id (<c>tid</c>), which together name a user.</summary>
    public string? EntraObjectId { get; set; }

    public string? EntraTenantId { get; set; }

    public ThemePreference Theme { get; set; }

    public DateTime CreatedAt { get; set; }
}

public enum ThemePreference
{
    System = 0,
    Light = 1,
    Dark = 2,
}

public enum TenantRole
{
    Readonly = 0,
    Operator = 1,
    Manager = 2,
    Owner = 3,
}

public sealed class TenantMembership
{
    public long TenantId { get; set; }

    public long UserId { get; set; }

    public TenantRole Role { get; set; }
}
