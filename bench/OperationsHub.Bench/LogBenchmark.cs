using System.Diagnostics;
using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OperationsHub.Bench.Throughput;
using OperationsHub.Core;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Operations;
using OperationsHub.Core.Runs;
using OperationsHub.PostgreSql;
using OperationsHub.Sqlite;

namespace OperationsHub.Bench;

/// <summary>
/// What a run's log costs: one handler writes N lines (default 100,000) as fast as it can, through
/// <c>IOperationContext.Log</c> on the real engine and a SQLite file. Printed: the handler's time per line, the time
/// from start to completed, the commits SQLite made for the whole run (claim, beats, log batches, completion) and
/// the lines stored; beside it the same engine with the bound raised to N (so every line is stored), and the naive
/// peer, one commit per line (as a handler writing its own log table with EF Core would), measured on up to 10,000
/// lines and scaled.
/// </summary>
internal static class LogBenchmark
{
    private const int NaiveSample = 10_000;

    public static async Task<int> RunAsync(string[] args)
    {
        var lines = args.Length > 1 && int.TryParse(args[1], CultureInfo.InvariantCulture, out var n) ? n : 100_000;
        CommitCounter.Install();
        Console.WriteLine($"log benchmark: one run writing {lines:N0} lines (SQLite file, WAL, product defaults)");
        Console.WriteLine();
        Console.WriteLine($"{"contestant",-44} {"ns/line in handler",18} {"start→completed",16} {"commits",8} {"lines stored",13}");
        await PrintAsync("OperationsHub (default bound 10,000 lines)", await HubAsync(lines, bound: null));
        await PrintAsync($"OperationsHub (bound raised to {lines:N0})", await HubAsync(lines, bound: lines));
        await PrintAsync($"naive: one commit per line (x{(double)lines / Math.Min(lines, NaiveSample):0.#} of {Math.Min(lines, NaiveSample):N0})", await NaiveAsync(lines));
        return 0;
    }

    private static Task PrintAsync(string name, Result r)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name,-44} {r.NanosPerLine,18:N0} {r.Elapsed.TotalMilliseconds,13:N0} ms {r.Commits,8:N0} {r.Stored,13:N0}"));
        return Task.CompletedTask;
    }

    private sealed record Result(double NanosPerLine, TimeSpan Elapsed, long Commits, long Stored);

    private static async Task<Result> HubAsync(int lines, int? bound)
    {
        var directory = Directory.CreateTempSubdirectory("opshub-log-bench-");
        try
        {
            var builder = Host.CreateApplicationBuilder();
            builder.Logging.ClearProviders();
            var settings = new Dictionary<string, string?>
            {
                ["Database:Provider"] = "Sqlite",
                ["Database:ConnectionString"] = $"Data Source={Path.Combine(directory.FullName, "hub.db")}",
            };
            if (bound is { } b)
            {
                settings["Worker:MaxLogLinesPerRun"] = b.ToString(CultureInfo.InvariantCulture);
            }

            builder.Configuration.AddInMemoryCollection(settings);
            builder.Services.AddOperationsHub(builder.Configuration, storage => storage.AddSqlite().AddPostgreSql());
            builder.Services.AddSingleton<FloodTimer>();
            builder.Services.AddOperationType<FloodHandler>(new OperationTypeDescriptor("log_flood", "Log flood") { Internal = true });
            using var host = builder.Build();
            await host.Services.MigrateHubDatabaseAsync();
            var factory = host.Services.GetRequiredService<IDbContextFactory<HubDbContext>>();
            long tenantId;
            await using (var db = await factory.CreateDbContextAsync())
            {
                var tenant = new Tenant { ExternalId = "bench", Name = "Bench" };
                db.Tenants.Add(tenant);
                await db.SaveChangesAsync();
                tenantId = tenant.Id;
            }

            await host.StartAsync();
            var before = CommitCounter.Commits;
            var clock = Stopwatch.StartNew();
            var run = await host.Services.GetRequiredService<OperationRunService>().StartAsync(new StartRunRequest
            {
                TenantId = tenantId,
                Type = "log_flood",
                Inputs = new Dictionary<string, string> { ["lines"] = lines.ToString(CultureInfo.InvariantCulture) },
            });
            while (true)
            {
                await using var db = await factory.CreateDbContextAsync();
                if (await db.Runs.AnyAsync(r => r.Id == run.Run.Id && r.Status == RunStatus.Completed))
                {
                    break;
                }

                await Task.Delay(5);
            }

            clock.Stop();
            var commits = CommitCounter.Commits - before;
            long stored;
            await using (var db = await factory.CreateDbContextAsync())
            {
                stored = await db.RunLogLines.LongCountAsync(l => l.RunId == run.Run.Id);
            }

            var timer = host.Services.GetRequiredService<FloodTimer>();
            await host.StopAsync();
            return new Result(timer.Elapsed.TotalMilliseconds * 1_000_000 / lines, clock.Elapsed, commits, stored);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            directory.Delete(recursive: true);
        }
    }

    /// <summary>One line, one INSERT, one commit: what "log to a table" without batching costs.</summary>
    private static async Task<Result> NaiveAsync(int lines)
    {
        var sample = Math.Min(lines, NaiveSample);
        var directory = Directory.CreateTempSubdirectory("opshub-log-naive-");
        try
        {
            var path = Path.Combine(directory.FullName, "naive.db");
            await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path}");
            await connection.OpenAsync();
            await using (var setup = connection.CreateCommand())
            {
                setup.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                    + " CREATE TABLE run_log_lines (id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, at TEXT NOT NULL, level TEXT NOT NULL, message TEXT NOT NULL);"
                    + " CREATE INDEX ix_run_log_lines_run ON run_log_lines (run_id, id);";
                await setup.ExecuteNonQueryAsync();
            }

            await using var insert = connection.CreateCommand();
            insert.CommandText = "INSERT INTO run_log_lines (run_id, at, level, message) VALUES (1, $at, 'Information', $message)";
            var at = insert.Parameters.Add("$at", Microsoft.Data.Sqlite.SqliteType.Text);
            var message = insert.Parameters.Add("$message", Microsoft.Data.Sqlite.SqliteType.Text);
            insert.Prepare();
            var before = CommitCounter.Commits;
            var clock = Stopwatch.StartNew();
            for (var i = 1; i <= sample; i++)
            {
                at.Value = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture);
                message.Value = string.Create(CultureInfo.InvariantCulture, $"Read device DEV-{i:D6}.");
                await insert.ExecuteNonQueryAsync(); // autocommit: a transaction per line
            }

            clock.Stop();
            var scale = (double)lines / sample;
            return new Result(clock.Elapsed.TotalMilliseconds * 1_000_000 / sample, clock.Elapsed * scale,
                (long)((CommitCounter.Commits - before) * scale), lines);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            directory.Delete(recursive: true);
        }
    }

    internal sealed class FloodTimer
    {
        public TimeSpan Elapsed { get; set; }
    }

    /// <summary>Writes its lines in a tight loop and times only the Log calls.</summary>
    private sealed class FloodHandler(FloodTimer timer) : IOperationHandler
    {
        public Task ExecuteAsync(IOperationContext context, CancellationToken cancellationToken)
        {
            var lines = int.Parse(context.Context.Inputs["lines"], CultureInfo.InvariantCulture);
            var clock = Stopwatch.StartNew();
            for (var i = 1; i <= lines; i++)
            {
                context.Log(RunLogLevel.Information, string.Create(CultureInfo.InvariantCulture, $"Read device DEV-{i:D6}."));
            }

            timer.Elapsed = clock.Elapsed;
            return Task.CompletedTask;
        }
    }
}
