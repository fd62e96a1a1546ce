namespace OperationsHub.Web.Features.Tenants;

/// <summary>A run number the user's own tenant does not have.</summary>
public sealed record MissingRun(TenantContext Tenant, string? RunId);
