using System.Globalization;

namespace OperationsHub.Web.Features.Tenants;

/// <summary>The addresses of a tenant's pages, built in one place (the tenant id escaped once, the same way).</summary>
public static class HubLinks
{
    public static string Dashboard(string tenantExternalId) => $"/admin/t/{Uri.EscapeDataString(tenantExternalId)}";

    public static string Operations(string tenantExternalId) => $"{Dashboard(tenantExternalId)}/operations";

    public static string Directory(string tenantExternalId) => $"{Dashboard(tenantExternalId)}/directory";

    public static string Restore(string tenantExternalId) => $"{Dashboard(tenantExternalId)}/restore";

    public static string Access(string tenantExternalId) => $"{Dashboard(tenantExternalId)}/access";

    public static string Run(string tenantExternalId, long runId) =>
        $"{Operations(tenantExternalId)}/{runId.ToString(CultureInfo.InvariantCulture)}";
}
