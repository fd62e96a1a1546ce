using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Quartz;

namespace OperationsHub.Bench.Throughput;

/// <summary>
/// Quartz.NET 4 with its ADO.NET job store on SQLite (Microsoft.Data.Sqlite): one job and one start-now trigger per
/// item, scheduled through <see cref="IScheduler.ScheduleJob(IJobDetail, ITrigger, ScheduleJobOptions, CancellationToken)"/>; done when the
/// store holds no trigger and no fired trigger any more. Quartz keeps no history of finished jobs, so it writes less
/// per item than a run the UI can show afterwards.
/// </summary>
internal sealed class QuartzAdoContestant(bool tuned) : Contestant
{
    /// <summary>Quartz's default thread pool has 10 threads; tuned, as many as the hub's runs in flight.</summary>
    private int Threads => tuned ? HubConcurrency : 10;
    private IHost? _host;
    private string _connectionString = "";

    public override string Name => tuned ? "Quartz ADO (tuned)" : "Quartz ADO (default)";

    public override string Settings => tuned
        ? $"ADO job store on SQLite, WAL + synchronous=NORMAL on every connection (as the hub), {Threads} threads, "
            + $"MaxBatchSize {Threads}"
        : $"ADO job store on SQLite with Quartz's defaults (rollback journal, synchronous=FULL, MaxBatchSize 1), {Threads} threads";

    public override async Task PrepareAsync(string directory)
    {
        var path = Path.Combine(directory, "quartz.db");
        _connectionString = $"Data Source={path}";
        if (tuned)
        {
            await using var connection = new SqliteConnection(_connectionString);
            await connection.OpenAsync();
            await using var wal = connection.CreateCommand();
            wal.CommandText = "PRAGMA journal_mode=WAL";
            await wal.ExecuteNonQueryAsync();
        }

        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddQuartz(q =>
        {
            q.UseDefaultThreadPool(tp => tp.MaxConcurrency = Threads);
            if (tuned)
            {
                q.ConfigureScheduler(s => s.MaxBatchSize = Threads);
            }

            q.UsePersistentStore(store =>
            {
                if (tuned)
                {
                    store.UseSqlite(NormalSyncSqliteFactory.Instance, _connectionString);
                }
                else
                {
                    store.UseSqlite(_connectionString);
                }

                store.UseSystemTextJsonSerializer();
                store.ProvisionSchema();
            });
        });
        builder.Services.AddQuartzHostedService(o => o.WaitForJobsToComplete = true);
        _host = builder.Build();
        await _host.StartAsync();
    }

    public override async Task<int> DrainAsync(int count)
    {
        await using var connection = new SqliteConnection(_connectionString);
        return await QuartzDrain.RunAsync(_host!, count, connection, this);
    }

    public override async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.StopAsync();
            _host.Dispose();
        }
    }

    /// <summary>Microsoft.Data.Sqlite, but every connection opens with synchronous=NORMAL, as the hub's do.</summary>
    private sealed class NormalSyncSqliteFactory : DbProviderFactory
    {
        public static readonly NormalSyncSqliteFactory Instance = new();

        public override DbConnection CreateConnection() => new NormalSyncConnection();

        public override DbCommand CreateCommand() => SqliteFactory.Instance.CreateCommand();

        public override DbParameter CreateParameter() => SqliteFactory.Instance.CreateParameter();

        public override DbConnectionStringBuilder CreateConnectionStringBuilder() =>
            SqliteFactory.Instance.CreateConnectionStringBuilder();
    }

    private sealed class NormalSyncConnection : SqliteConnection
    {
        public override void Open()
        {
            base.Open();
            using var pragma = CreateCommand();
            pragma.CommandText = "PRAGMA synchronous=NORMAL";
            pragma.ExecuteNonQuery();
        }

        public override async Task OpenAsync(CancellationToken cancellationToken)
        {
            await base.OpenAsync(cancellationToken);
            await using var pragma = CreateCommand();
            pragma.CommandText = "PRAGMA synchronous=NORMAL";
            await pragma.ExecuteNonQueryAsync(cancellationToken);
        }
    }
}

/// <summary>
/// The drain every Quartz contestant runs: four producers schedule one job and one start-now trigger per item, and
/// it is done when every job ran and the store holds no trigger and no fired trigger any more.
/// </summary>
internal static class QuartzDrain
{
    public static async Task<int> RunAsync(IHost host, int count, DbConnection store, Contestant contestant)
    {
        var scheduler = await host.Services.GetRequiredService<ISchedulerFactory>().GetScheduler();
        NoopQuartzJob.Reset();
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = Contestant.Producers }, async (i, ct) =>
        {
            var name = i.ToString(CultureInfo.InvariantCulture);
            var job = JobBuilder.Create<NoopQuartzJob>().WithIdentity(name, "bench").Build();
            var trigger = TriggerBuilder.Create().WithIdentity(name, "bench").StartNow().Build();
            await scheduler.ScheduleJob(job, trigger, default(ScheduleJobOptions), ct);
        });

        await store.OpenAsync();
        await using var left = store.CreateCommand();
        left.CommandText = "SELECT (SELECT count(*) FROM QRTZ_TRIGGERS) + (SELECT count(*) FROM QRTZ_FIRED_TRIGGERS)";
        await contestant.WaitUntilAsync(async () =>
            NoopQuartzJob.Executed >= count && Convert.ToInt64(await left.ExecuteScalarAsync(), CultureInfo.InvariantCulture) == 0);
        return NoopQuartzJob.Executed;
    }
}

/// <summary>The no-op job Quartz runs.</summary>
public sealed class NoopQuartzJob : IJob
{
    private static int s_executed;

    public static int Executed => Volatile.Read(ref s_executed);

    public static void Reset() => Volatile.Write(ref s_executed, 0);

    public ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref s_executed);
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// Quartz.NET 4 with its ADO.NET job store on PostgreSQL (Npgsql), the schema provisioned by Quartz itself
/// (<c>ProvisionSchema</c>, from the PostgreSQL script the package embeds), in a fresh database of its own.
/// </summary>
internal sealed class QuartzAdoPostgreSqlContestant(string server, bool tuned) : Contestant, IPostgreSqlContestant
{
    /// <summary>Quartz's default thread pool has 10 threads; tuned, as many as the hub's runs in flight.</summary>
    private int Threads => tuned ? HubConcurrency : 10;
    private IHost? _host;
    private string _connectionString = "";

    public string Database => new Npgsql.NpgsqlConnectionStringBuilder(_connectionString).Database!;

    public override string Name => tuned ? "Quartz ADO on PostgreSQL (tuned)" : "Quartz ADO on PostgreSQL (default)";

    public override string Settings => tuned
        ? $"Quartz 4.7.3 ADO job store on PostgreSQL, {Threads} threads, MaxBatchSize {Threads}"
        : $"Quartz 4.7.3 ADO job store on PostgreSQL with Quartz's defaults (MaxBatchSize 1), {Threads} threads";

    public override async Task PrepareAsync(string directory)
    {
        _connectionString = await PostgreSqlThroughputBenchmark.CreateDatabaseAsync(server, "quartz_bench");
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddQuartz(q =>
        {
            q.UseDefaultThreadPool(tp => tp.MaxConcurrency = Threads);
            if (tuned)
            {
                q.ConfigureScheduler(s => s.MaxBatchSize = Threads);
            }

            q.UsePersistentStore(store =>
            {
                store.UsePostgres(_connectionString);
                store.UseSystemTextJsonSerializer();
                store.ProvisionSchema();
            });
        });
        builder.Services.AddQuartzHostedService(o => o.WaitForJobsToComplete = true);
        _host = builder.Build();
        await _host.StartAsync();
    }

    public override async Task<int> DrainAsync(int count)
    {
        await using var connection = new Npgsql.NpgsqlConnection(_connectionString);
        return await QuartzDrain.RunAsync(_host!, count, connection, this);
    }

    public override async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.StopAsync();
            _host.Dispose();
        }

        if (_connectionString.Length > 0)
        {
            await PostgreSqlThroughputBenchmark.DropAsync(server, Database);
        }
    }
}
