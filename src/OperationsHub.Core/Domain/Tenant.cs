namespace OperationsHub.Core.Domain;

public sealed class Tenant
{
    public long Id { get; set; }

    /// <summary>The stable id used in URLs (<c>/admin/t/{ExternalId}/...</c>).</summary>
    public required string ExternalId { get; set; }

    public required string Name { get; set; }
}

public sealed class HubUser
{
    public long Id { get; set; }

    public required string DisplayName { get; set; }

    public string? Email { get; set; }
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
