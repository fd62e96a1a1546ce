using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using OperationsHub.Core.Data;
using OperationsHub.Core.Feed;
using OperationsHub.Core.Worker;

namespace OperationsHub.Web.Features.Health;

/// <summary>
/// What a load balancer asks: <c>/healthz</c> (liveness: the process answers) and <c>/healthz/ready</c> (readiness:
/// the database answers and this node's worker is running, or is switched off on purpose). Readiness answers 200 or
/// 503 with a small JSON body naming each check; it never names a server, a connection string or an exception text.
/// </summary>
internal static class HubHealthChecks
{
    public const string ReadyPath = "/healthz/ready";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static IServiceCollection AddHubHealthChecks(this IServiceCollection services)
    {
        services.AddHealthChecks()
            .AddCheck<DatabaseHealthCheck>("database", timeout: TimeSpan.FromSeconds(5))
            .AddCheck<WorkerHealthCheck>("worker")
            .AddCheck<ChangeFeedHealthCheck>("changeFeed");
        return services;
    }

    public static IEndpointRouteBuilder MapHubHealthChecks(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/healthz", () => Results.Text("ok")).AllowAnonymous();
        endpoints.MapHealthChecks(ReadyPath, new HealthCheckOptions { ResponseWriter = WriteAsync }).AllowAnonymous();
        return endpoints;
    }

    private static Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        var body = new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(
                e => e.Key,
                e => new { status = e.Value.Status.ToString(), description = e.Value.Description }),
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, Json));
    }
}

/// <summary>The database answers a connection from this node.</summary>
internal sealed class DatabaseHealthCheck(IDbContextFactory<HubDbContext> dbFactory) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
            return await db.Database.CanConnectAsync(cancellationToken)
                ? HealthCheckResult.Healthy("The database answers.")
                : HealthCheckResult.Unhealthy("The database does not answer.");
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The exception's text can name the server: it goes to the log through the health-check service, not here.
            return HealthCheckResult.Unhealthy("The database does not answer.", ex);
        }
    }
}

/// <summary>
/// This node hears the other nodes' changes (PostgreSQL's relay). A lost listener is Degraded, not Unhealthy: the node
/// still serves what the database says and reconnects by itself; only its pages' live updates from elsewhere wait.
/// </summary>
internal sealed class ChangeFeedHealthCheck(IServiceProvider services) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(services.GetService<IChangeFeedRelay>() switch
        {
            null => HealthCheckResult.Healthy("One node on this database: changes need no relay."),
            { Listening: true } => HealthCheckResult.Healthy("The change feed hears the other nodes."),
            _ => HealthCheckResult.Degraded("The change feed is reconnecting: pages here miss other nodes' changes until it is back."),
        });
}

/// <summary>This node's worker runs and can claim (or the node serves pages only, by configuration).</summary>
internal sealed class WorkerHealthCheck(IWorkerStatus worker, IOptions<WorkerOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var status = worker.Current;
        var result = status switch
        {
            { Enabled: false } => HealthCheckResult.Healthy("The worker is off on this node (Worker:Enabled is false)."),
            { Running: false } => HealthCheckResult.Unhealthy("The worker is not running."),
            { ClaimFailures: > 0 } => HealthCheckResult.Unhealthy(
                $"The worker could not claim queued runs ({status.ClaimFailures} failures in a row)."),
            _ => HealthCheckResult.Healthy($"The worker is running {status.Busy} of {options.Value.MaxConcurrency} runs"
                + (status.Completing > 0 ? $", and writing the completion of {status.Completing} more." : ".")),
        };
        return Task.FromResult(result);
    }
}
