using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Npgsql;
using OperationsHub.Core.Data;

namespace OperationsHub.Core.Tests;

/// <summary>
/// The first start on a database that does not exist yet: the hub creates and migrates it, and logs nothing at
/// warning level or above (an admin following the README reads a failed command as a broken install).
/// </summary>
public abstract class FirstStartTests(TestProvider provider) : IAsyncLifetime
{
    private readonly string _name = $"opshub_first_{Guid.NewGuid():N}";
    private DirectoryInfo? _directory;

    public ValueTask InitializeAsync()
    {
        _directory = provider == TestProvider.Sqlite ? Directory.CreateTempSubdirectory("opshub-first-") : null;
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        if (_directory is not null)
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            _directory.Delete(recursive: true);
            return;
        }

        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(TestDatabase.ServerConnectionString());
        await admin.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {_name} WITH (FORCE)", admin);
        await drop.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task ANewDatabase_IsCreatedAndMigrated_WithoutAWarningOrErrorLogged_AndStartsAgainTheSame()
    {
        foreach (var start in new[] { "first", "second" })
        {
            await using var node = Node();
            await node.MigrateHubDatabaseAsync(TestContext.Current.CancellationToken);

            var logs = node.GetRequiredService<FakeLogCollector>().GetSnapshot();
            logs.Should().Contain(l => l.Category != null && l.Category.StartsWith("Microsoft.EntityFrameworkCore", StringComparison.Ordinal),
                "EF Core's own logging reaches the collector, so a failed command would be seen");
            logs.Where(l => l.Level >= LogLevel.Warning).Select(l => $"{start} start: {l.Level} {l.Category}: {l.Message}").Should().BeEmpty();
            await AssertMigratedAsync(node);
        }
    }

    /// <summary>A node's services on this test's database, its log collected.</summary>
    private ServiceProvider Node()
    {
        var connectionString = _directory is not null
            ? $"Data Source={Path.Combine(_directory.FullName, "hub.db")}"
            : TestDatabase.ConnectionStringFor(_name);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Database:Provider"] = provider.ToString(),
            ["Database:ConnectionString"] = connectionString,
        }).Build();
        var services = new ServiceCollection()
            .AddSingleton<IConfiguration>(configuration)
            .AddLogging(logging => logging.SetMinimumLevel(LogLevel.Debug).AddFakeLogging());
        services.AddOperationsHub(configuration, TestDatabase.Storage);
        return services.BuildServiceProvider();
    }

    private static async Task AssertMigratedAsync(ServiceProvider node)
    {
        await using var db = await node.GetRequiredService<IDbContextFactory<HubDbContext>>()
            .CreateDbContextAsync(TestContext.Current.CancellationToken);
        (await db.Database.GetPendingMigrationsAsync(TestContext.Current.CancellationToken)).Should().BeEmpty();
        (await db.Database.GetAppliedMigrationsAsync(TestContext.Current.CancellationToken)).Should().NotBeEmpty();
    }
}

public sealed class FirstStartTestsOnSqlite() : FirstStartTests(TestProvider.Sqlite);

public sealed class FirstStartTestsOnPostgreSql() : FirstStartTests(TestProvider.PostgreSql);
