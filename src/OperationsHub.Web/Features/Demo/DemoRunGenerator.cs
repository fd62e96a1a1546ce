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
    RestorePlanner planner,
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
                var request = type == SampleOperations.Restore
                    ? await RestoreRequestAsync(tenantId, random, stoppingToken)
                    : null;
                request ??= new StartRunRequest
                {
                    TenantId = tenantId,
                    Type = type == SampleOperations.Restore ? SampleOperations.Backup : type,
                    Target = registry.TryGet(type == SampleOperations.Restore ? SampleOperations.Backup : type, out var descriptor) ? descriptor.DefaultTarget : null,
                    Initiator = null,
                };
                type = request.Type;
                var result = await runs.StartAsync(request, stoppingToken);
                LogDemoRun(logger, type, result.Run.Id, result.Deduped);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// A restore of the tenant's newest backup, mapped the way the restore page suggests (exact, unique names) and
    /// skipping the rest; every other one has the simulated remote service reject it, to show a sanitized failure.
    /// Null while the tenant has no backup yet (a backup is started instead).
    /// </summary>
    private async Task<StartRunRequest?> RestoreRequestAsync(long tenantId, Random random, CancellationToken ct)
    {
        var backup = (await planner.ListBackupsAsync(tenantId, ct)).FirstOrDefault();
        if (backup is null)
        {
            return null;
        }

        var sources = await planner.SourceGroupsAsync(backup.Id, ct);
        var matches = await planner.MatchByNameAsync(tenantId, sources.Select(s => s.DisplayName), ct);
        var inputs = RestoreInputs.MapInputs(RestorePlanner.SuggestedTargets(sources, matches));
        inputs[RestoreInputs.Unmapped] = RestoreInputs.Skip;

        if (random.Next(2) == 0)
        {
            inputs["fail_at"] = "4";
        }

        var id = backup.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return new StartRunRequest
        {
            TenantId = tenantId,
            Type = SampleOperations.Restore,
            IdentityInputs = new Dictionary<string, string> { [RestoreInputs.BackupId] = id },
            Inputs = inputs,
            Target = $"Backup #{id}",
            Initiator = null,
        };
    }

    private async Task<List<long>> LoadTenantsAsync(CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Tenants.OrderBy(t => t.Id).Select(t => t.Id).ToListAsync(ct);
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Demo started {Type}: run {RunId} (deduped: {Deduped})")]
    private static partial void LogDemoRun(ILogger logger, string type, long runId, bool deduped);
}
