using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OperationsHub.Core;
using OperationsHub.PostgreSql;
using OperationsHub.Sqlite;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Operations;
using OperationsHub.Core.Runs;

namespace OperationsHub.Bench.Throughput;

/// <summary>
/// OperationsHub as shipped: <see cref="OperationRunService.StartAsync"/> (dedupe insert with its timeline event and
/// the initiator's "queued" notification), Quartz dispatch, claim, complete (event and "finished" notification).
/// Everything the grid, the detail page and the bell read is written.
/// </summary>
internal sealed class HubContestant(string? postgresServer = null) : Contestant, IPostgreSqlContestant
{
    private IHost? _host;
    private string _connectionString = "";
    private string? _postgresDatabase;
    private long _tenantId;
    private long _userId;

    public override string Name => "OperationsHub";

    public override string Settings => postgresServer is null
        ? $"product defaults: Worker:MaxConcurrency {HubConcurrency}, WAL, synchronous=NORMAL, group commit; each run starts with an "
            + "initiator, so it also writes the run's timeline events and the initiator's two notifications"
        : $"product defaults on PostgreSQL: Worker:MaxConcurrency {HubConcurrency}, Database:WriterConnections 4 (group commit on each), "
            + "ON CONFLICT dedupe insert; timeline events and the initiator's two notifications written as on SQLite";

    /// <summary>The database the drain wrote to (PostgreSQL), for counting its commits.</summary>
    public string Database => _postgresDatabase ?? "";

    public override async Task PrepareAsync(string directory)
    {
        if (postgresServer is null)
        {
            _connectionString = $"Data Source={Path.Combine(directory, "hub.db")}";
        }
        else
        {
            _postgresDatabase = $"opshub_bench_{Guid.NewGuid():N}";
            _connectionString = new Npgsql.NpgsqlConnectionStringBuilder(postgresServer) { Database = _postgresDatabase }.ConnectionString;
        }

        _host = BuildHost(postgresServer is null ? "Sqlite" : "PostgreSql", _connectionString, worker: true);
        (_tenantId, _userId) = await MigrateAndSeedAsync(_host);
        await _host.StartAsync();
    }

    public override Task<int> DrainAsync(int count) =>
        DrainAsync(this, [_host!], _tenantId, _userId, count, postgresServer is null
            ? new SqliteConnection(_connectionString)
            : new Npgsql.NpgsqlConnection(_connectionString));

    /// <summary>A hub host (the engine as shipped, with the no-op type) on <paramref name="connectionString"/>.</summary>
    internal static IHost BuildHost(string provider, string connectionString, bool worker)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Database:Provider"] = provider,
            ["Database:ConnectionString"] = connectionString,
            ["Worker:Enabled"] = worker ? "true" : "false",
        });
        builder.Services.AddOperationsHub(builder.Configuration, storage => storage.AddSqlite().AddPostgreSql());
        builder.Services.AddOperationType<NoopHandler>(new OperationTypeDescriptor("noop", "No-op") { Internal = true });
        return builder.Build();
    }

    /// <summary>Migrates the hub's database and adds the tenant and the initiator every run is started for.</summary>
    internal static async Task<(long TenantId, long UserId)> MigrateAndSeedAsync(IHost host)
    {
        await host.Services.MigrateHubDatabaseAsync();
        var factory = host.Services.GetRequiredService<IDbContextFactory<HubDbContext>>();
        await using var db = await factory.CreateDbContextAsync();
        var tenant = new Tenant { ExternalId = "bench", Name = "Bench" };
        var user = new HubUser { DisplayName = "Bench Admin", Email = "bench@contoso.test", NormalizedEmail = "BENCH@CONTOSO.TEST" };
        db.Tenants.Add(tenant);
        db.Users.Add(user);
        await db.SaveChangesAsync();
        return (tenant.Id, user.Id);
    }

    /// <summary>
    /// Starts <paramref name="count"/> no-op runs from four producers, spread over <paramref name="starters"/>' start
    /// services, and waits until <paramref name="store"/> shows them all completed; returns how many succeeded.
    /// </summary>
    internal static async Task<int> DrainAsync(Contestant contestant, IReadOnlyList<IHost> starters, long tenantId, long userId, int count,
        System.Data.Common.DbConnection store)
    {
        await StartRunsAsync(starters, tenantId, userId, count);
        return await WaitCompletedAsync(contestant, count, store);
    }

    /// <summary>Starts <paramref name="count"/> no-op runs from four producers, spread over <paramref name="starters"/>.</summary>
    internal static async Task StartRunsAsync(IReadOnlyList<IHost> starters, long tenantId, long userId, int count)
    {
        var services = starters.Select(h => h.Services.GetRequiredService<OperationRunService>()).ToList();
        var initiator = new RunInitiator(userId, "Bench Admin");
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = Producers }, async (i, ct) =>
            await services[i % services.Count].StartAsync(new StartRunRequest
            {
                TenantId = tenantId,
                Type = "noop",
                Initiator = initiator,
                IdentityInputs = new Dictionary<string, string> { ["n"] = i.ToString(CultureInfo.InvariantCulture) },
            }, ct));
    }

    /// <summary>Waits until <paramref name="store"/> shows <paramref name="count"/> runs completed; returns how many succeeded.</summary>
    internal static async Task<int> WaitCompletedAsync(Contestant contestant, int count, System.Data.Common.DbConnection store)
    {
        await using var connection = store;
        await connection.OpenAsync();
        await using var completed = connection.CreateCommand();
        completed.CommandText = "SELECT count(*) FROM operation_runs WHERE status = 'Completed'";
        await contestant.WaitUntilAsync(async () => Convert.ToInt64(await completed.ExecuteScalarAsync(), CultureInfo.InvariantCulture) >= count);

        await using var succeeded = connection.CreateCommand();
        succeeded.CommandText = "SELECT count(*) FROM operation_runs WHERE outcome = 'Succeeded'";
        return (int)Convert.ToInt64(await succeeded.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    public override async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.StopAsync();
            _host.Dispose();
        }

        if (_postgresDatabase is not null)
        {
            await PostgreSqlThroughputBenchmark.DropAsync(postgresServer!, _postgresDatabase);
        }
    }

    private sealed class NoopHandler : IOperationHandler
    {
        public Task ExecuteAsync(IOperationContext context, CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
