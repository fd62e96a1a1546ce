using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Runs;
using OperationsHub.Core.Samples;

namespace OperationsHub.Web.Features.Demo;

/// <summary>
/// Keeps a few runs flowing in the demo: every interval it starts a sample operation through the same
/// <see cref="OperationRunService.StartAsync"/> a button or the API uses, for a demo user or the system.
/// </summary>
internal sealed partial class DemoRunGenerator(
    OperationRunService runs,
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
            var actors = await LoadActorsAsync(stoppingToken);
            if (actors.Count == 0)
            {
                return;
            }

            using var timer = new PeriodicTimer(options.Value.RunInterval, time);
            do
            {
                var (tenantId, initiator) = actors[random.Next(actors.Count)];
                var type = Types[random.Next(Types.Length)];
                var request = new StartRunRequest
                {
                    TenantId = tenantId,
                    Type = type,
                    Target = type == SampleOperations.Restore ? "Baseline policies" : "All devices",
                    IdentityInputs = type == SampleOperations.Restore
                        ? new Dictionary<string, string> { ["backup_id"] = $"bk-{random.Next(1, 4)}" }
                        : new Dictionary<string, string>(),
                    Initiator = random.Next(4) == 0 ? null : initiator,
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

    private async Task<List<(long TenantId, RunInitiator Initiator)>> LoadActorsAsync(CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var rows = await (
            from m in db.Memberships
            join u in db.Users on m.UserId equals u.Id
            where m.Role != TenantRole.Readonly
            orderby m.TenantId, u.Id
            select new { m.TenantId, u.Id, u.DisplayName }).ToListAsync(ct);
        return rows.Select(r => (r.TenantId, new RunInitiator(r.Id, r.DisplayName))).ToList();
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Demo started {Type}: run {RunId} (deduped: {Deduped})")]
    private static partial void LogDemoRun(ILogger logger, string type, long runId, bool deduped);
}
