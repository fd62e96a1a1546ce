using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Runs;
using OperationsHub.Core.Samples;

namespace OperationsHub.Web.Features.Demo;

/// <summary>
/// Keeps a few runs flowing in the demo: every interval it starts a sample operation through the same
/// <see cref="OperationRunService.StartAsync"/> a button or the API uses. They are system runs, started by nobody: so
/// no demo user's bell fills with runs they never started, and no toast tells them of one.
/// </summary>
internal sealed partial class DemoRunGenerator(
    OperationRunService runs,
    OperationsHub.Core.Operations.OperationTypeRegistry registry,
    IDbContextFactory<HubDbContext> dbFactory,
    IOptions<DemoOptions> options,
    TimeProvider time,
    ILogger<DemoRunGenerator> logger) : BackgroundService
{
    private static readonly string[] Types =
    [
        SampleOperations.InventorySync, SampleOperations.PolicySync, SampleOperations.Backup,
        SampleOperations.Restore, SampleOperations.DirectorySync,
    ];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Fixed seed: the same sequence of demo runs on every start, which makes demos and screenshots repeatable.
        var random = new Random(20260126);
        try
        {
            var tenants = await LoadTenantsAsync(stoppingToken);
            if (tenants.Count == 0)
            {
                return;
            }

            using var timer = new PeriodicTimer(options.Value.RunInterval, time);
            do
            {
                var tenantId = tenants[random.Next(tenants.Count)];
                var type = Types[random.Next(Types.Length)];
                var identity = type == SampleOperations.Restore
                    ? new Dictionary<string, string> { ["backup_id"] = $"bk-{random.Next(1, 4)}" }
                    : new Dictionary<string, string>();
                var request = new StartRunRequest
                {
                    TenantId = tenantId,
                    Type = type,
                    Target = registry.TryGet(type, out var descriptor) ? descriptor.TargetFor(identity) : null,
                    IdentityInputs = identity,
                    Initiator = null,
                };
                var result = await runs.StartAsync(request, stoppingToken);
                LogDemoRun(logger, type, result.Run.Id, result.Deduped);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task<List<long>> LoadTenantsAsync(CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Tenants.OrderBy(t => t.Id).Select(t => t.Id).ToListAsync(ct);
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Demo started {Type}: run {RunId} (deduped: {Deduped})")]
    private static partial void LogDemoRun(ILogger logger, string type, long runId, bool deduped);
}
