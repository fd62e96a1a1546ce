using System.Diagnostics;
using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OperationsHub.Core;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Operations;
using OperationsHub.Core.Runs;

namespace OperationsHub.Bench;

/// <summary>
/// A rough local drain: N no-op runs through the full engine (start, Quartz dispatch, claim, complete) on a fresh
/// SQLite file. The formal comparison with peers is its own benchmark.
/// </summary>
internal static class DrainBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var count = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5_000;

        var directory = Directory.CreateTempSubdirectory("opshub-bench-");
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Database:ConnectionString"] = $"Data Source={Path.Combine(directory.FullName, "bench.db")}",
            ["Worker:MaxConcurrency"] = "8",
        });
        builder.Services.AddOperationsHub(builder.Configuration);
        builder.Services.AddOperationType<NoopHandler>(new OperationTypeDescriptor("noop", "No-op") { Internal = true });
        using var host = builder.Build();
        await host.Services.MigrateHubDatabaseAsync();

        long tenantId;
        var factory = host.Services.GetRequiredService<IDbContextFactory<HubDbContext>>();
        await using (var db = await factory.CreateDbContextAsync())
        {
            var tenant = new Tenant { ExternalId = "bench", Name = "Bench" };
            db.Tenants.Add(tenant);
            await db.SaveChangesAsync();
            tenantId = tenant.Id;
        }

        await host.StartAsync();
        var service = host.Services.GetRequiredService<OperationRunService>();
        var stopwatch = Stopwatch.StartNew();
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, ct) =>
            await service.StartAsync(new StartRunRequest
            {
                TenantId = tenantId,
                Type = "noop",
                IdentityInputs = new Dictionary<string, string> { ["n"] = i.ToString(CultureInfo.InvariantCulture) },
            }, ct));
        var startedIn = stopwatch.Elapsed;

        while (true)
        {
            await using var db = await factory.CreateDbContextAsync();
            var done = await db.Runs.CountAsync(r => r.Status == RunStatus.Completed);
            if (done >= count)
            {
                break;
            }

            await Task.Delay(10);
        }

        stopwatch.Stop();
        await using (var db = await factory.CreateDbContextAsync())
        {
            var succeeded = await db.Runs.CountAsync(r => r.Outcome == RunOutcome.Succeeded);
            Console.WriteLine($"runs: {count}, succeeded: {succeeded}");
        }

        Console.WriteLine($"all started in {startedIn.TotalSeconds:F2} s; all completed in {stopwatch.Elapsed.TotalSeconds:F2} s");
        Console.WriteLine($"end-to-end throughput: {count / stopwatch.Elapsed.TotalSeconds:F0} runs/s");
        await host.StopAsync();
        directory.Delete(recursive: true);
        return 0;
    }

    private sealed class NoopHandler : IOperationHandler
    {
        public Task ExecuteAsync(IOperationContext context, CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
