using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace OperationsHub.Testing;

/// <summary>
/// Hub processes on one test database, each with a home folder of its own (so each has a disk of its own, as two
/// machines would). Disposing kills every node still running and removes the homes.
/// </summary>
internal sealed class FarmNodes(TestDatabase database) : IAsyncDisposable
{
    private readonly List<DirectoryInfo> _homes = [];
    private readonly List<HubProcess> _nodes = [];

    /// <summary>The home folders the nodes were given, in start order.</summary>
    public IReadOnlyList<DirectoryInfo> Homes => _homes;

    /// <summary>Starts a node with <paramref name="settings"/> on top of the farm's own (its home, its pool size).</summary>
    public async Task<HubProcess> StartAsync(IReadOnlyDictionary<string, string> settings, CancellationToken ct)
    {
        var home = Directory.CreateTempSubdirectory("opshub-node-home-");
        _homes.Add(home);
        var all = new Dictionary<string, string>(settings)
        {
            // The default key ring lives under $HOME: a node of its own, as on another machine.
            ["HOME"] = home.FullName,
        };
        if (database.Provider == TestProvider.PostgreSql)
        {
            // As the README says for a farm: every node's pool together stays under the server's max_connections
            // (Npgsql's default of 100 per node is the whole of PostgreSQL's default).
            all["Database:ConnectionString"] = new NpgsqlConnectionStringBuilder(database.ConnectionString) { MaxPoolSize = 30 }.ConnectionString;
        }

        var node = await HubProcess.StartAsync(database, all, ct);
        _nodes.Add(node);
        return node;
    }

    /// <summary>What every node started so far printed, for a failure message.</summary>
    public string Output => string.Join("\n", _nodes.Select((n, i) => $"--- node {i + 1} on {n.Address} ---\n{n.Output}"));

    /// <summary>A connection of the test's own to the farm's database, for reading what the nodes wrote.</summary>
    public async Task<DbConnection> OpenAsync(CancellationToken ct)
    {
        DbConnection connection = database.Provider == TestProvider.Sqlite
            ? new SqliteConnection(database.ConnectionString)
            : new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync(ct);
        return connection;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.DisposeAsync();
        }

        foreach (var home in _homes)
        {
            home.Delete(recursive: true);
        }
    }
}

/// <summary>A drill over hub processes on a fresh database of <paramref name="provider"/>, removed afterwards.</summary>
public abstract class FarmDrill(TestProvider provider) : IAsyncLifetime
{
    /// <summary>Short leases so a dead node's runs come back in seconds; the rules are the product's, only the clock is faster.</summary>
    private protected static readonly IReadOnlyDictionary<string, string> ShortLeases = new Dictionary<string, string>
    {
        ["Worker:LeaseDuration"] = "00:00:04",
        ["Worker:LeaseRenewalInterval"] = "00:00:01",
        ["Worker:ProgressInterval"] = "00:00:01",
        ["Worker:RecoveryInterval"] = "00:00:01",
    };

    private protected TestDatabase Database { get; private set; } = null!;

    private protected FarmNodes Farm { get; private set; } = null!;

    private protected TestProvider Provider => provider;

    public virtual async ValueTask InitializeAsync()
    {
        Database = await TestDatabase.CreateAsync(provider);
        Farm = new FarmNodes(Database);
    }

    public async ValueTask DisposeAsync()
    {
        await DisposeCoreAsync();
        if (Farm is not null)
        {
            await Farm.DisposeAsync();
        }

        if (Database is not null)
        {
            await Database.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Polls <paramref name="condition"/> every 200 ms until it holds; past <paramref name="timeout"/>, fails with what
    /// every node printed.
    /// </summary>
    private protected async Task WaitForAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (!await condition())
        {
            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"Timed out waiting for {what}.\n{Farm.Output}");
            }

            await Task.Delay(200, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>What a drill started beside the nodes, stopped before them.</summary>
    protected virtual ValueTask DisposeCoreAsync() => ValueTask.CompletedTask;
}
