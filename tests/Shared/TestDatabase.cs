using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OperationsHub.Core;
using OperationsHub.Core.Data;
using OperationsHub.Core.Storage;
using OperationsHub.PostgreSql;
using OperationsHub.Sqlite;

namespace OperationsHub.Testing;

/// <summary>The databases the engine runs on; every conformance test runs on each.</summary>
public enum TestProvider
{
    Sqlite,
    PostgreSql,
}

/// <summary>
/// A real, empty database of its own for one test or test class: a SQLite file in a temp folder, or a fresh database
/// on the PostgreSQL server the test run was given. Migrations are applied once per process to a template database
/// and each PostgreSQL test database is a copy of it (CREATE DATABASE ... TEMPLATE), so a fresh one costs ~100 ms.
/// <para>
/// The server comes from <c>OPSHUB_TEST_POSTGRES</c> (a connection string) or the libpq variables PGHOST / PGPORT /
/// PGUSER / PGPASSWORD that <c>pg_virtualenv</c> exports (the README's test command starts one). Without either,
/// PostgreSQL tests fail with a message that says so: they are never skipped silently.
/// </para>
/// </summary>
public sealed class TestDatabase : IAsyncDisposable
{
    private static readonly SemaphoreSlim TemplateLock = new(1, 1);
    private static string? s_template;
    private readonly DirectoryInfo? _directory;
    private readonly string? _postgresDatabase;

    private TestDatabase(TestProvider provider, string connectionString, DirectoryInfo? directory, string? postgresDatabase)
    {
        Provider = provider;
        ConnectionString = connectionString;
        _directory = directory;
        _postgresDatabase = postgresDatabase;
    }

    public TestProvider Provider { get; }

    public string ConnectionString { get; }

    /// <summary>The SQLite file's path (SQLite only), for drills that open a connection of their own.</summary>
    public string SqlitePath => _directory is null
        ? throw new InvalidOperationException("Only a SQLite test database has a file.")
        : Path.Combine(_directory.FullName, "hub.db");

    /// <summary>The settings that point the hub at this database.</summary>
    public IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Database:Provider"] = Provider.ToString(),
        ["Database:ConnectionString"] = ConnectionString,
    };

    /// <summary>Both providers, as the Web host offers them; <c>Database:Provider</c> picks one.</summary>
    public static void Storage(HubStorageBuilder storage) => storage.AddSqlite().AddPostgreSql();

    /// <summary>A fresh database, migrated (PostgreSQL: a copy of the migrated template; SQLite: the host migrates it).</summary>
    public static async Task<TestDatabase> CreateAsync(TestProvider provider)
    {
        if (provider == TestProvider.Sqlite)
        {
            var directory = Directory.CreateTempSubdirectory("opshub-tests-");
            return new TestDatabase(provider, $"Data Source={Path.Combine(directory.FullName, "hub.db")}", directory, null);
        }

        var template = await TemplateAsync();
        var name = $"opshub_t_{Guid.NewGuid():N}";
        await using (var admin = await OpenAdminAsync())
        {
            await using var create = admin.CreateCommand();
            create.CommandText = $"CREATE DATABASE {name} TEMPLATE {template}";
            await create.ExecuteNonQueryAsync();
        }

        return new TestDatabase(provider, ConnectionStringFor(name), null, name);
    }

    public async ValueTask DisposeAsync()
    {
        if (_directory is not null)
        {
            SqliteConnection.ClearAllPools();
            try
            {
                _directory.Delete(recursive: true);
            }
            catch (IOException)
            {
                // A file still held by a finalizing connection; the temp folder is cleaned by the OS eventually.
            }
        }

        if (_postgresDatabase is not null)
        {
            NpgsqlConnection.ClearAllPools();
            await using var admin = await OpenAdminAsync();
            await using var drop = admin.CreateCommand();
            drop.CommandText = $"DROP DATABASE IF EXISTS {_postgresDatabase} WITH (FORCE)";
            await drop.ExecuteNonQueryAsync();
        }
    }

    /// <summary>The server's base connection string, or a failure that says how to get one.</summary>
    public static string ServerConnectionString()
    {
        if (Environment.GetEnvironmentVariable("OPSHUB_TEST_POSTGRES") is { Length: > 0 } configured)
        {
            return configured;
        }

        if (Environment.GetEnvironmentVariable("PGHOST") is not { Length: > 0 } host)
        {
            throw new InvalidOperationException(
                "PostgreSQL tests need a server: run the suite with `bash .ci/test` (it starts a throw-away PostgreSQL), "
                + "or set OPSHUB_TEST_POSTGRES to a connection string (or PGHOST, PGPORT, PGUSER and PGPASSWORD).");
        }

        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = host,
            Port = int.TryParse(Environment.GetEnvironmentVariable("PGPORT"), out var port) ? port : 5432,
            Username = Environment.GetEnvironmentVariable("PGUSER") ?? "postgres",
            Password = Environment.GetEnvironmentVariable("PGPASSWORD"),
            Database = "postgres",
        };
        return builder.ConnectionString;
    }

    public static string ConnectionStringFor(string database) =>
        new NpgsqlConnectionStringBuilder(ServerConnectionString()) { Database = database }.ConnectionString;

    private static async Task<string> TemplateAsync()
    {
        if (s_template is { } ready)
        {
            return ready;
        }

        await TemplateLock.WaitAsync();
        try
        {
            if (s_template is { } made)
            {
                return made;
            }

            var name = $"opshub_tpl_{Environment.ProcessId}_{Guid.NewGuid():N}"[..40];
            await using (var admin = await OpenAdminAsync())
            {
                await using var create = admin.CreateCommand();
                create.CommandText = $"CREATE DATABASE {name}";
                await create.ExecuteNonQueryAsync();
            }

            await MigrateAsync(ConnectionStringFor(name));
            // A template must have no other session when it is copied.
            NpgsqlConnection.ClearAllPools();
            AppDomain.CurrentDomain.ProcessExit += (_, _) => DropQuietly(name);
            return s_template = name;
        }
        finally
        {
            TemplateLock.Release();
        }
    }

    /// <summary>Applies the hub's migrations to a PostgreSQL database, through the engine's own registration.</summary>
    private static async Task MigrateAsync(string connectionString)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Database:Provider"] = DatabaseProviders.PostgreSql,
            ["Database:ConnectionString"] = connectionString,
        }).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddOperationsHub(configuration, Storage);
        await using var built = services.BuildServiceProvider();
        await built.MigrateHubDatabaseAsync();
    }

    private static void DropQuietly(string database)
    {
        try
        {
            NpgsqlConnection.ClearAllPools();
            using var admin = new NpgsqlConnection(ServerConnectionString());
            admin.Open();
            using var drop = admin.CreateCommand();
            drop.CommandText = $"DROP DATABASE IF EXISTS {database} WITH (FORCE)";
            drop.ExecuteNonQuery();
        }
        catch (NpgsqlException)
        {
            // The throw-away server may already be gone.
        }
    }

    private static async Task<NpgsqlConnection> OpenAdminAsync()
    {
        var connection = new NpgsqlConnection(ServerConnectionString());
        await connection.OpenAsync();
        return connection;
    }
}
