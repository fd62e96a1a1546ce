using System.Text;
using Microsoft.EntityFrameworkCore;
using OperationsHub.Core.Data;

namespace OperationsHub.Web.Features.Status;

/// <summary>
/// A plain-text view of the newest runs, so the engine can be watched with curl until the hub's pages land.
/// </summary>
internal static class StatusEndpoints
{
    public static IEndpointRouteBuilder MapStatusEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/healthz", () => Results.Text("ok"));
        endpoints.MapGet("/", async (IDbContextFactory<HubDbContext> dbFactory, CancellationToken ct) =>
        {
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            var runs = await db.Runs.AsNoTracking()
                .OrderByDescending(r => r.Id)
                .Take(25)
                .Select(r => new { r.Id, Tenant = r.Tenant!.ExternalId, r.Type, r.Status, r.Outcome, r.ProcessedCount, r.TotalCount, r.InitiatorName })
                .ToListAsync(ct);
            var text = new StringBuilder("OperationsHub engine: newest runs\n\n");
            foreach (var r in runs)
            {
                text.Append(System.Globalization.CultureInfo.InvariantCulture,
                    $"#{r.Id,-6} {r.Tenant,-10} {r.Type,-16} {r.Status,-10} {r.Outcome,-19} {r.ProcessedCount}/{r.TotalCount}  {r.InitiatorName ?? "system"}\n");
            }

            return Results.Text(text.ToString());
        });
        return endpoints;
    }
}
