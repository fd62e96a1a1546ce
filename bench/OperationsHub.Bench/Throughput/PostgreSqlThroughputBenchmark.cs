using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Hangfire;
using Hangfire.PostgreSql;
using Npgsql;

namespace OperationsHub.Bench.Throughput;

/// <summary>
/// Drains N no-op items through OperationsHub and its peers on one PostgreSQL server, one after another in this
/// process, each in a fresh database of its own, and prints runs/s, commits per run (from pg_stat_database) and
/// OperationsHub's ratio to each.
/// </summary>
internal static class PostgreSqlThroughputBenchmark
{
    private static readonly TimeSpan Cap = TimeSpan.FromMinutes(3);

    public static async Task<int> RunAsync(string[] args)
    {
        var (count, only) = CountAndOnly(args);
        var server = Server;
        var contestants = new List<Func<Contestant>>
        {
            () => new HubContestant(server),
            () => new HangfirePostgreSqlContestant(server, tuned: false),
            () => new HangfirePostgreSqlContestant(server, tuned: true),
            () => new QuartzAdoPostgreSqlContestant(server, tuned: false),
            () => new QuartzAdoPostgreSqlContestant(server, tuned: true),
            () => new RawPostgreSqlFloorContestant(server),
        };

        return await MeasureAsync(server, count, only, contestants, "Throughput", "OperationsHub", "each contestant in a fresh database");
    }

    /// <summary>
    /// Drains <paramref name="count"/> items through each contestant in turn (those <paramref name="only"/> names, if
    /// given) and prints the table: runs/s, commits per run, and <paramref name="reference"/>'s ratio to each. With
    /// <paramref name="backlog"/>, the items are queued first with the workers held back (not measured), and the
    /// measurement is the workers working off the backlog.
    /// </summary>
    internal static async Task<int> MeasureAsync(
        string server, int count, string[]? only, IEnumerable<Func<Contestant>> contestants, string title, string reference, string setUp,
        bool backlog = false)
    {
        await using (var probe = new NpgsqlConnection(server))
        {
            await probe.OpenAsync();
            Console.WriteLine($"{title} on PostgreSQL {probe.PostgreSqlVersion}: {count:N0} no-op items per contestant, "
                + $"{Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription.Trim()}, .NET {Environment.Version}; "
                + $"server on this machine (loopback), {setUp}.");
        }

        var results = new List<(string Name, string Settings, int Completed, TimeSpan Elapsed, long Commits)>();
        foreach (var create in contestants)
        {
            var contestant = create();
            if (only is not null && !only.Any(o => contestant.Name.Contains(o, StringComparison.OrdinalIgnoreCase)))
            {
                continue;
            }

            try
            {
                GC.Collect();
                await contestant.PrepareAsync("");
                if (backlog)
                {
                    await contestant.QueueBacklogAsync(count);
                    await Task.Delay(1500); // the queueing's commits reach pg_stat_database before the count below
                }

                contestant.Deadline = DateTime.UtcNow + Cap;
                var database = ((IPostgreSqlContestant)contestant).Database;
                var before = await CommitsAsync(server, database);
                var stopwatch = Stopwatch.StartNew();
                var completed = await contestant.DrainAsync(count);
                stopwatch.Stop();
                await Task.Delay(1500); // the server publishes transaction statistics within a second
                var commits = await CommitsAsync(server, database) - before;
                results.Add((contestant.Name, contestant.Settings, completed, stopwatch.Elapsed, commits));
                Console.WriteLine($"  {contestant.Name}: {completed:N0} of {count:N0} in {stopwatch.Elapsed.TotalSeconds:F2} s");
            }
            finally
            {
                await contestant.DisposeAsync();
            }
        }

        var hub = results.FirstOrDefault(r => r.Name == reference);
        Console.WriteLine();
        Console.WriteLine($"| contestant (PostgreSQL) | completed | seconds | runs/s | commits/run | {reference} is |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var r in results)
        {
            var rate = r.Completed / r.Elapsed.TotalSeconds;
            var hubRate = hub.Completed / hub.Elapsed.TotalSeconds;
            var ratio = hub.Name is null || r.Name == hub.Name ? "-" : rate > 0 ? $"{hubRate / rate:F1}x" : "n/a";
            var capped = r.Completed < count ? " (stopped at the cap)" : "";
            Console.WriteLine(FormattableString.Invariant(
                $"| {r.Name} | {r.Completed:N0}{capped} | {r.Elapsed.TotalSeconds:F2} | {rate:N0} | {(r.Completed == 0 ? 0 : (double)r.Commits / r.Completed):F2} | {ratio} |"));
        }

        Console.WriteLine();
        foreach (var r in results)
        {
            Console.WriteLine($"- {r.Name}: {r.Settings}");
        }

        Console.WriteLine("- commits/run: xact_commit of the contestant's database in pg_stat_database during the drain, divided by the items completed.");
        return results.All(r => r.Completed == count) ? 0 : 1;
    }

    /// <summary>The server the PostgreSQL benchmarks use: OPSHUB_BENCH_POSTGRES, or the README's local one.</summary>
    internal static string Server => Environment.GetEnvironmentVariable("OPSHUB_BENCH_POSTGRES")
        ?? "Host=localhost;Username=postgres;Password=opshub;Database=postgres";

    /// <summary><c>[count] [--only name,name]</c>: items per contestant (10,000) and which contestants to run.</summary>
    internal static (int Count, string[]? Only) CountAndOnly(string[] args) => (
        args.Length > 1 && int.TryParse(args[1], CultureInfo.InvariantCulture, out var n) ? n : 10_000,
        args.SkipWhile(a => a != "--only").Skip(1).FirstOrDefault()?.Split(','));

    internal static async Task DropAsync(string server, string database)
    {
        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(server);
        await admin.OpenAsync();
        await using var drop = admin.CreateCommand();
        drop.CommandText = $"DROP DATABASE IF EXISTS {database} WITH (FORCE)";
        await drop.ExecuteNonQueryAsync();
    }

    internal static async Task<string> CreateDatabaseAsync(string server, string prefix)
    {
        var name = $"{prefix}_{Guid.NewGuid():N}";
        await using var admin = new NpgsqlConnection(server);
        await admin.OpenAsync();
        await using var create = admin.CreateCommand();
        create.CommandText = $"CREATE DATABASE {name}";
        await create.ExecuteNonQueryAsync();
        return new NpgsqlConnectionStringBuilder(server) { Database = name }.ConnectionString;
    }

    private static async Task<long> CommitsAsync(string server, string database)
    {
        await using var connection = new NpgsqlConnection(server);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT xact_commit FROM pg_stat_database WHERE datname = @db";
        command.Parameters.AddWithValue("@db", database);
        return Convert.ToInt64(await command.ExecuteScalarAsync() ?? 0L, CultureInfo.InvariantCulture);
    }
}

/// <summary>A contestant whose database on the server can be named, for counting its commits.</summary>
internal interface IPostgreSqlContestant
{
    string Database { get; }
}

/// <summary>Hangfire.Core 1.8 on Hangfire.PostgreSql 1.21: fire-and-forget jobs, a BackgroundJobServer.</summary>
internal sealed class HangfirePostgreSqlContestant(string server, bool tuned) : HangfireDrain, IPostgreSqlContestant
{
    /// <summary>
    /// Tuned on PostgreSQL: 8 workers, not the hub's 32. Measured alternately on 2026-12-03 (`throughput-pg 10000 --only
    /// "Hangfire.PostgreSql (tuned)"`): 8 workers 140 / 156 runs/s, 32 workers 131 / 116. More workers only poll the
    /// queue table harder; a tuned peer gets what suits it best.
    /// </summary>
    private const int TunedPostgreSqlWorkers = 8;

    private string _connectionString = "";

    public string Database => new NpgsqlConnectionStringBuilder(_connectionString).Database!;

    public override string Name => tuned ? "Hangfire.PostgreSql (tuned)" : "Hangfire.PostgreSql (default)";

    public override string Settings => tuned
        ? $"Hangfire.PostgreSql, {TunedPostgreSqlWorkers} workers, QueuePollInterval {TunedQueuePoll.TotalMilliseconds:F0} ms"
        : $"Hangfire.PostgreSql defaults (QueuePollInterval 15 s), BackgroundJobServer defaults ({new BackgroundJobServerOptions().WorkerCount} workers)";

    public override async Task PrepareAsync(string directory)
    {
        _connectionString = await PostgreSqlThroughputBenchmark.CreateDatabaseAsync(server, "hangfire_bench");
        var options = new PostgreSqlStorageOptions { PrepareSchemaIfNecessary = true };
        if (tuned)
        {
            options.QueuePollInterval = TunedQueuePoll;
        }

#pragma warning disable CS0618 // the connection-string constructor is the simplest form the 1.21 package still offers
        Storage = new PostgreSqlStorage(_connectionString, options);
#pragma warning restore CS0618
        var serverOptions = new BackgroundJobServerOptions { ServerName = "bench" };
        if (tuned)
        {
            serverOptions.WorkerCount = TunedPostgreSqlWorkers;
        }

        Server = new BackgroundJobServer(serverOptions, Storage);
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (_connectionString.Length > 0)
        {
            await PostgreSqlThroughputBenchmark.DropAsync(server, Database);
        }
    }
}

/// <summary>
/// The floor: the three lifecycle commits in PostgreSQL alone. One Npgsql connection, prepared statements, three
/// transactions per item (insert queued, mark running, mark completed); no scheduler, dedupe, events or concurrency.
/// </summary>
internal sealed class RawPostgreSqlFloorContestant(string server) : Contestant, IPostgreSqlContestant
{
    private NpgsqlConnection? _connection;
    private string _connectionString = "";

    public string Database => new NpgsqlConnectionStringBuilder(_connectionString).Database!;

    public override string Name => "raw PostgreSQL floor";

    public override string Settings => "Npgsql, one connection, prepared statements, 3 transactions per item (insert, claim, complete)";

    public override async Task PrepareAsync(string directory)
    {
        _connectionString = await PostgreSqlThroughputBenchmark.CreateDatabaseAsync(server, "floor_bench");
        _connection = new NpgsqlConnection(_connectionString);
        await _connection.OpenAsync();
        await using var schema = _connection.CreateCommand();
        schema.CommandText = "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, status text NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)";
        await schema.ExecuteNonQueryAsync();
    }

    public override async Task<int> DrainAsync(int count)
    {
        var connection = _connection!;
        await using var insert = new NpgsqlCommand("INSERT INTO items (status, created_at, updated_at) VALUES ('Queued', $1, $1) RETURNING id", connection);
        insert.Parameters.Add(new NpgsqlParameter<DateTime>());
        await insert.PrepareAsync();
        await using var update = new NpgsqlCommand("UPDATE items SET status = $1, updated_at = $2 WHERE id = $3", connection);
        update.Parameters.Add(new NpgsqlParameter<string>());
        update.Parameters.Add(new NpgsqlParameter<DateTime>());
        update.Parameters.Add(new NpgsqlParameter<long>());
        await update.PrepareAsync();

        for (var i = 0; i < count; i++)
        {
            await using (var tx = await connection.BeginTransactionAsync())
            {
                insert.Transaction = tx;
                insert.Parameters[0].Value = DateTime.UtcNow;
                update.Parameters[2].Value = (long)(await insert.ExecuteScalarAsync())!;
                await tx.CommitAsync();
            }

            foreach (var next in (string[])["Running", "Completed"])
            {
                await using var tx = await connection.BeginTransactionAsync();
                update.Transaction = tx;
                update.Parameters[0].Value = next;
                update.Parameters[1].Value = DateTime.UtcNow;
                await update.ExecuteNonQueryAsync();
                await tx.CommitAsync();
            }
        }

        await using var done = new NpgsqlCommand("SELECT count(*) FROM items WHERE status = 'Completed'", connection);
        return (int)(long)(await done.ExecuteScalarAsync())!;
    }

    public override async ValueTask DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
            await PostgreSqlThroughputBenchmark.DropAsync(server, Database);
        }
    }
}
