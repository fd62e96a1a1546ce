using System.Collections.Frozen;
using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OperationsHub.Core;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Samples;
using OperationsHub.PostgreSql;
using OperationsHub.Sqlite;
using OperationsHub.Web.Features.Operations;

namespace OperationsHub.Bench;

/// <summary>
/// The runs grid on a tenant with a million runs, on SQLite (<c>grid</c>) or PostgreSQL (<c>grid-pg</c>): every filter the grid offers, alone and combined, at the first,
/// a middle and the last reachable page. Prints p50 / p95 / max per scenario and over all of them, and how many SQL
/// statements one page load costs.
/// </summary>
internal static class GridBenchmark
{
    private const int Iterations = 30;
    private const int Warmup = 3;

    /// <param name="postgres">On PostgreSQL (<c>grid-pg</c>: the server of OPSHUB_BENCH_POSTGRES, a database of its own).</param>
    public static async Task<int> RunAsync(string[] args, bool postgres = false)
    {
        var rows = args.Length > 1 && int.TryParse(args[1], CultureInfo.InvariantCulture, out var n) ? n : 1_000_000;
        var keep = args.Contains("--keep");
        var folder = Path.Combine(AppContext.BaseDirectory, "grid-data");
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, $"grid-{rows}.db");
        var server = new Npgsql.NpgsqlConnectionStringBuilder(Environment.GetEnvironmentVariable("OPSHUB_BENCH_POSTGRES")
            ?? "Host=localhost;Username=postgres;Password=opshub;Database=postgres");
        var database = $"opshub_grid_{rows}";

        var counter = new StatementCounter();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Database:Provider"] = postgres ? "PostgreSql" : "Sqlite",
            ["Database:ConnectionString"] = postgres ? new Npgsql.NpgsqlConnectionStringBuilder(server.ConnectionString) { Database = database }.ConnectionString : $"Data Source={path}",
            ["Worker:Enabled"] = "false",
        }).Build();
        var services = new ServiceCollection()
            .AddSingleton<IConfiguration>(configuration)
            .AddLogging(l => l.SetMinimumLevel(LogLevel.Warning))
            .AddSingleton<IInterceptor>(counter);
        services.AddOperationsHub(configuration, storage => storage.AddSqlite().AddPostgreSql());
        // The app's operation types: the search matches their names ("restore" finds the Restore runs).
        services.AddSampleOperations();
        services.AddSingleton<RunsGridQuery>();
        await using var provider = services.BuildServiceProvider();

        var fresh = !postgres && !File.Exists(path);
        await provider.MigrateHubDatabaseAsync();
        var factory = provider.GetRequiredService<IDbContextFactory<HubDbContext>>();
        long tenantId;
        if (fresh || !await HasRowsAsync(factory, rows))
        {
            var generate = Stopwatch.StartNew();
            tenantId = await GenerateAsync(factory, rows, postgres);
            Console.WriteLine(postgres
                ? $"generated {rows:N0} runs in {generate.Elapsed.TotalSeconds:F1} s (database {database} on PostgreSQL {await ServerVersionAsync(factory)})"
                : $"generated {rows:N0} runs in {generate.Elapsed.TotalSeconds:F1} s ({new FileInfo(path).Length / 1024 / 1024:N0} MB)");
        }
        else
        {
            await using var db = await factory.CreateDbContextAsync();
            tenantId = await db.Tenants.Where(t => t.ExternalId == "big").Select(t => t.Id).SingleAsync();
            Console.WriteLine(postgres ? $"reusing database {database}" : $"reusing {path}");
        }

        var query = provider.GetRequiredService<RunsGridQuery>();
        long userId;
        long maxId;
        await using (var db = await factory.CreateDbContextAsync())
        {
            userId = await db.Users.OrderBy(u => u.Id).Skip(2).Select(u => u.Id).FirstAsync();
            maxId = await db.Runs.MaxAsync(r => r.Id);
        }

        var all = new List<double>();
        Console.WriteLine();
        Console.WriteLine($"{"scenario",-58} {"rows",6} {"total",8} {"p50 ms",8} {"p95 ms",8} {"max ms",8} {"stmts",6}");
        foreach (var (name, filter) in Scenarios())
        {
            RunGridPage? last = null;
            var samples = await MeasureAsync(async () => last = await query.GetPageAsync(tenantId, userId, filter, default));
            var statements = await CountStatementsAsync(counter, () => query.GetPageAsync(tenantId, userId, filter, default));
            all.AddRange(samples);
            Print(name, last!.Rows.Count, last.TotalIsCapped ? $"{last.Total:N0}+" : last.Total.ToString("N0", CultureInfo.InvariantCulture), samples, statements);
        }

        var summary = await MeasureAsync(() => query.GetSummaryAsync(tenantId, default));
        all.AddRange(summary);
        Print("summary strip (queued, running, failed 24 h)", 0, "-", summary, await CountStatementsAsync(counter, () => query.GetSummaryAsync(tenantId, default)));
        var signalled = Enumerable.Range(0, 100).Select(i => maxId - i).ToList();
        var newer = await MeasureAsync(() => query.CountAmongAsync(tenantId, userId, new RunsFilter(), signalled, default));
        all.AddRange(newer);
        Print("\"N new runs\" count (100 signalled, no filter)", 0, "-", newer, await CountStatementsAsync(counter, () => query.CountAmongAsync(tenantId, userId, new RunsFilter(), signalled, default)));

        Console.WriteLine();
        Console.WriteLine($"all scenarios: {all.Count} queries, p50 {Percentile(all, 0.50):F1} ms, p95 {Percentile(all, 0.95):F1} ms, max {all.Max():F1} ms (budget: p95 <= 50 ms)");
        Console.WriteLine("peers, same kind of screen: Hangfire's dashboard lists jobs by state only (no filters or search); Quartz has no run history to query.");

        if (!keep && postgres)
        {
            Npgsql.NpgsqlConnection.ClearAllPools();
            await using var admin = new Npgsql.NpgsqlConnection(server.ConnectionString);
            await admin.OpenAsync();
            await using var drop = new Npgsql.NpgsqlCommand($"DROP DATABASE IF EXISTS {database} WITH (FORCE)", admin);
            await drop.ExecuteNonQueryAsync();
        }
        else if (!keep)
        {
            SqliteConnection.ClearAllPools();
            foreach (var file in Directory.GetFiles(folder, $"grid-{rows}.db*"))
            {
                File.Delete(file);
            }
        }

        return 0;
    }

    private static IEnumerable<(string Name, RunsFilter Filter)> Scenarios()
    {
        static RunsFilter F(Func<RunsFilter, RunsFilter> with) => with(new RunsFilter());
        var failed = new[] { RunOutcome.Failed }.ToFrozenSet();
        var restore = new[] { "restore" }.ToFrozenSet();
        return
        [
            ("all, newest first, page 1", new RunsFilter()),
            ("all, newest first, page 200", F(f => f with { Page = 199 })),
            ("all, newest first, last reachable page (400)", F(f => f with { Page = 399 })),
            ("all, oldest first, page 1", F(f => f with { Sort = RunsSort.Oldest })),
            ("all, 100 per page, page 100", F(f => f with { PageSize = 100, Page = 99 })),
            ("status: running", F(f => f with { Statuses = new[] { RunStatus.Running }.ToFrozenSet() })),
            ("status: queued", RunsFilter.QueuedNow),
            ("status: queued + running", F(f => f with { Statuses = new[] { RunStatus.Queued, RunStatus.Running }.ToFrozenSet() })),
            ("outcome: failed", F(f => f with { Outcomes = failed })),
            ("outcome: failed, page 300", F(f => f with { Outcomes = failed, Page = 299 })),
            ("outcome: failed, last 24 h (summary link)", RunsFilter.FailedLastDay),
            ("type: backup", F(f => f with { Types = new[] { "backup" }.ToFrozenSet() })),
            ("type: restore + outcome: failed (no match)", F(f => f with { Types = restore, Outcomes = failed })),
            ("started by me", F(f => f with { MineOnly = true })),
            ("started by me + type: restore + outcome: failed", F(f => f with { MineOnly = true, Types = restore, Outcomes = failed })),
            ("started by me + outcome: partially succeeded, page 50", F(f => f with { MineOnly = true, Outcomes = new[] { RunOutcome.PartiallySucceeded }.ToFrozenSet(), Page = 49 })),
            ("last hour", F(f => f with { Range = RunTimeRange.LastHour })),
            ("last 7 days + type: inventory sync", F(f => f with { Range = RunTimeRange.Last7Days, Types = new[] { "inventory_sync" }.ToFrozenSet() })),
            ("last 30 days, oldest first, page 40", F(f => f with { Range = RunTimeRange.Last30Days, Sort = RunsSort.Oldest, Page = 39 })),
            ("search: \"finance\" (common)", F(f => f with { Text = "finance" })),
            ("search: \"finance\", page 100", F(f => f with { Text = "finance", Page = 99 })),
            ("search: \"zzz\" (no match)", F(f => f with { Text = "zzz" })),
            ("search: \"DEV-99999\" (rare)", F(f => f with { Text = "DEV-99999" })),
            ("search: \"#500000\" (run number)", F(f => f with { Text = "#500000" })),
            ("search: \"finance\" + type: restore + outcome: failed", F(f => f with { Text = "finance", Types = restore, Outcomes = failed })),
            ("search: \"finance\" + status: running", F(f => f with { Text = "finance", Statuses = new[] { RunStatus.Running }.ToFrozenSet() })),
            ("search: \"DEV-99999\" + type: backup + outcome: succeeded", F(f => f with { Text = "DEV-99999", Types = new[] { "backup" }.ToFrozenSet(), Outcomes = new[] { RunOutcome.Succeeded }.ToFrozenSet() })),
            ("search: \"restore\" (operation name, common)", F(f => f with { Text = "restore" })),
            ("search: \"sync\" (three operation names), page 100", F(f => f with { Text = "sync", Page = 99 })),
            ("search: \"User 3\" (initiator, common)", F(f => f with { Text = "User 3" })),
            ("search: \"restore\" + started by me + outcome: failed", F(f => f with { Text = "restore", MineOnly = true, Outcomes = failed })),
            ("sort: created, newest first, page 1", F(f => f with { Sort = RunsSort.CreatedNewest })),
            ("sort: created, oldest first, page 200", F(f => f with { Sort = RunsSort.CreatedOldest, Page = 199 })),
            ("sort: duration, longest first, page 1", F(f => f with { Sort = RunsSort.LongestFirst })),
            ("sort: duration, shortest first, page 100", F(f => f with { Sort = RunsSort.ShortestFirst, Page = 99 })),
            ("sort: duration, longest + outcome: failed", F(f => f with { Sort = RunsSort.LongestFirst, Outcomes = failed })),
            ("sort: duration, longest + type: backup, page 50", F(f => f with { Sort = RunsSort.LongestFirst, Types = new[] { "backup" }.ToFrozenSet(), Page = 49 })),
            ("sort: duration, longest + search: \"finance\"", F(f => f with { Sort = RunsSort.LongestFirst, Text = "finance" })),
            ("sort: duration, longest + search: \"DEV-99999\" (rare)", F(f => f with { Sort = RunsSort.LongestFirst, Text = "DEV-99999" })),
            ("sort: created, newest + last 7 days", F(f => f with { Sort = RunsSort.CreatedNewest, Range = RunTimeRange.Last7Days })),
            ("status: completed + outcome: partially succeeded, page 100", F(f => f with { Statuses = new[] { RunStatus.Completed }.ToFrozenSet(), Outcomes = new[] { RunOutcome.PartiallySucceeded }.ToFrozenSet(), Page = 99 })),
        ];
    }

    private static async Task<List<double>> MeasureAsync(Func<Task> action)
    {
        for (var i = 0; i < Warmup; i++)
        {
            await action();
        }

        var samples = new List<double>(Iterations);
        for (var i = 0; i < Iterations; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await action();
            samples.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }

        return samples;
    }

    private static async Task<int> CountStatementsAsync(StatementCounter counter, Func<Task> action)
    {
        counter.Reset();
        await action();
        return counter.Count;
    }

    private static void Print(string name, int rows, string total, List<double> samples, int statements) =>
        Console.WriteLine($"{name,-58} {rows,6} {total,8} {Percentile(samples, 0.50),8:F1} {Percentile(samples, 0.95),8:F1} {samples.Max(),8:F1} {statements,6}");

    private static double Percentile(List<double> samples, double p)
    {
        var sorted = samples.Order().ToList();
        return sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
    }

    private static async Task<bool> HasRowsAsync(IDbContextFactory<HubDbContext> factory, int rows)
    {
        await using var db = await factory.CreateDbContextAsync();
        return await db.Runs.CountAsync() >= rows;
    }

    /// <summary>
    /// One tenant with N runs over the last year (durations from 1 s to an hour, five types, ~2% failed, ~10% partial, a few cancelled, the newest
    /// queued or running), six users starting three quarters of them, targets from a small vocabulary plus unique
    /// device names; and a second small tenant so the tenant column is not constant.
    /// </summary>
    private static async Task<string> ServerVersionAsync(IDbContextFactory<HubDbContext> factory)
    {
        await using var db = await factory.CreateDbContextAsync();
        return (await db.Database.SqlQuery<string>($"SELECT current_setting('server_version') AS \"Value\"").ToListAsync()).Single();
    }

    private static async Task<long> GenerateAsync(IDbContextFactory<HubDbContext> factory, int rows, bool postgres)
    {
        await using var db = await factory.CreateDbContextAsync();
        var big = new Tenant { ExternalId = "big", Name = "Big tenant" };
        var small = new Tenant { ExternalId = "small", Name = "Small tenant" };
        db.Tenants.AddRange(big, small);
        var users = Enumerable.Range(1, 6).Select(i => new HubUser { DisplayName = $"User {i}", Email = $"user{i}@bench" }).ToList();
        db.Users.AddRange(users);
        await db.SaveChangesAsync();

        var firstUser = users[0].Id;
        var secondsPerRun = 365.0 * 24 * 3600 / rows;
        var now = DateTime.UtcNow;
        if (postgres)
        {
            await InsertPostgreSqlAsync(db, big.Id, rows, now, secondsPerRun, firstUser);
            await InsertPostgreSqlAsync(db, small.Id, 1000, now, 3600, firstUser);
            // Statistics and the visibility map, as autovacuum would leave a table that has settled.
            await ExecuteAsync(db, "VACUUM ANALYZE operation_runs;");
            return big.Id;
        }

        await InsertAsync(db, big.Id, rows, now, secondsPerRun, firstUser);
        await InsertAsync(db, small.Id, 1000, now, 3600, firstUser);
        await db.Database.ExecuteSqlRawAsync("ANALYZE;");
        await db.Database.ExecuteSqlRawAsync("PRAGMA wal_checkpoint(TRUNCATE);");
        return big.Id;
    }

    private static async Task InsertAsync(HubDbContext db, long tenantId, int rows, DateTime now, double secondsPerRun, long firstUser)
    {
        var origin = now.AddSeconds(-rows * secondsPerRun).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
        var spacing = secondsPerRun.ToString(CultureInfo.InvariantCulture);
        const string emptyJson = "{}";
        var sql = $"""
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})
            INSERT INTO operation_runs (tenant_id, type, status, outcome, run_identity_hash, target, context_json,
                total_count, processed_count, succeeded_count, failed_count, skipped_count, failure_total,
                initiator_user_id, initiator_name, created_at, started_at, completed_at, updated_at, attempt, version)
            SELECT {tenantId},
              CASE i % 5 WHEN 0 THEN 'inventory_sync' WHEN 1 THEN 'policy_sync' WHEN 2 THEN 'backup' WHEN 3 THEN 'restore' ELSE 'directory_sync' END,
              CASE WHEN i > {rows} - 10 THEN 'Running' WHEN i > {rows} - 20 THEN 'Queued' ELSE 'Completed' END,
              CASE WHEN i > {rows} - 20 THEN 'Pending' WHEN i % 50 = 0 THEN 'Failed' WHEN i % 10 = 0 THEN 'PartiallySucceeded'
                   WHEN i % 97 = 0 THEN 'Cancelled' ELSE 'Succeeded' END,
              printf('%064d', i),
              CASE i % 7 WHEN 0 THEN 'All devices' WHEN 1 THEN 'Finance mailboxes' WHEN 2 THEN 'Baseline policies'
                   WHEN 3 THEN 'Group ' || (i % 1000) WHEN 4 THEN 'Site ' || (i % 300) ELSE 'Device DEV-' || i END,
              '{emptyJson}', 100, 100, 95, 5, 0, 5,
              CASE WHEN i % 4 = 0 THEN NULL ELSE {firstUser} + (i % 6) END,
              CASE WHEN i % 4 = 0 THEN NULL ELSE 'User ' || (1 + (i % 6)) END,
              strftime('%Y-%m-%d %H:%M:%S', '{origin}', '+' || CAST(i * {spacing} AS INTEGER) || ' seconds'),
              strftime('%Y-%m-%d %H:%M:%S', '{origin}', '+' || CAST(i * {spacing} + 2 AS INTEGER) || ' seconds'),
              CASE WHEN i > {rows} - 20 THEN NULL ELSE strftime('%Y-%m-%d %H:%M:%S', '{origin}', '+' || CAST(i * {spacing} + 3 + (i * 7919) % 3600 AS INTEGER) || ' seconds') END,
              strftime('%Y-%m-%d %H:%M:%S', '{origin}', '+' || CAST(i * {spacing} + 20 AS INTEGER) || ' seconds'),
              1, 3
            FROM n;
            """;
        await ExecuteAsync(db, sql);
    }

    /// <summary>The same runs as <see cref="InsertAsync"/>, in PostgreSQL's dialect (generate_series, interval arithmetic).</summary>
    private static async Task InsertPostgreSqlAsync(HubDbContext db, long tenantId, int rows, DateTime now, double secondsPerRun, long firstUser)
    {
        var origin = now.AddSeconds(-rows * secondsPerRun).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
        var spacing = secondsPerRun.ToString(CultureInfo.InvariantCulture);
        var at = $"TIMESTAMPTZ '{origin}+00'";
        var sql = $$"""
            INSERT INTO operation_runs (tenant_id, type, status, outcome, run_identity_hash, target, context_json,
                total_count, processed_count, succeeded_count, failed_count, skipped_count, failure_total,
                initiator_user_id, initiator_name, created_at, started_at, completed_at, updated_at, attempt, version)
            SELECT {{tenantId}},
              CASE i % 5 WHEN 0 THEN 'inventory_sync' WHEN 1 THEN 'policy_sync' WHEN 2 THEN 'backup' WHEN 3 THEN 'restore' ELSE 'directory_sync' END,
              CASE WHEN i > {{rows}} - 10 THEN 'Running' WHEN i > {{rows}} - 20 THEN 'Queued' ELSE 'Completed' END,
              CASE WHEN i > {{rows}} - 20 THEN 'Pending' WHEN i % 50 = 0 THEN 'Failed' WHEN i % 10 = 0 THEN 'PartiallySucceeded'
                   WHEN i % 97 = 0 THEN 'Cancelled' ELSE 'Succeeded' END,
              lpad(i::text, 64, '0'),
              CASE i % 7 WHEN 0 THEN 'All devices' WHEN 1 THEN 'Finance mailboxes' WHEN 2 THEN 'Baseline policies'
                   WHEN 3 THEN 'Group ' || (i % 1000) WHEN 4 THEN 'Site ' || (i % 300) ELSE 'Device DEV-' || i END,
              '{}', 100, 100, 95, 5, 0, 5,
              CASE WHEN i % 4 = 0 THEN NULL ELSE {{firstUser}} + (i % 6) END,
              CASE WHEN i % 4 = 0 THEN NULL ELSE 'User ' || (1 + (i % 6)) END,
              {{at}} + make_interval(secs => floor(i * {{spacing}})),
              {{at}} + make_interval(secs => floor(i * {{spacing}}) + 2),
              CASE WHEN i > {{rows}} - 20 THEN NULL ELSE {{at}} + make_interval(secs => floor(i * {{spacing}}) + 3 + (i * 7919) % 3600) END,
              {{at}} + make_interval(secs => floor(i * {{spacing}}) + 20),
              1, 3
            FROM generate_series(1::bigint, {{rows}}::bigint) AS i;
            """;
        await ExecuteAsync(db, sql);
    }

    /// <summary>Plain ADO: the SQL holds braces that EF's raw-SQL formatting would take for placeholders.</summary>
    private static async Task ExecuteAsync(HubDbContext db, string sql)
    {
        var connection = db.Database.GetDbConnection();
        await db.Database.OpenConnectionAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.CommandTimeout = 1200;
        await command.ExecuteNonQueryAsync();
    }

    private sealed class StatementCounter : DbCommandInterceptor
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public void Reset() => Interlocked.Exchange(ref _count, 0);

        public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(
            DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _count);
            return base.ReaderExecutingAsync(command, eventData, result, cancellationToken);
        }

        public override ValueTask<InterceptionResult<object>> ScalarExecutingAsync(
            DbCommand command, CommandEventData eventData, InterceptionResult<object> result, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _count);
            return base.ScalarExecutingAsync(command, eventData, result, cancellationToken);
        }
    }
}
