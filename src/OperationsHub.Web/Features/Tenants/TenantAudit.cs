using OperationsHub.Core.Domain;
using OperationsHub.Core.Sanitization;

namespace OperationsHub.Web.Features.Tenants;

/// <summary>The tenant's audit trail: one row per change to its settings, written in the same commit as the change.</summary>
public static class TenantAudit
{
    public static AuditEvent Event(TenantContext tenant, DateTime at, string action, string detail)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        return new AuditEvent
        {
            TenantId = tenant.TenantId,
            At = at,
            ActorUserId = tenant.UserId,
            ActorName = Sanitizer.SanitizeText(tenant.UserName, 200),
            Action = action,
            Detail = Sanitizer.SanitizeText(detail, 1000),
        };
    }
}
