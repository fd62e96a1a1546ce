using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.Data;
using OperationsHub.Core.Storage;

namespace OperationsHub.Sqlite;

/// <summary>The embedded default: one SQLite file (WAL, <c>synchronous=NORMAL</c>, a busy timeout).</summary>
public sealed class SqliteStorageProvider : HubStorageProvider
{
    public const string MigrationsAssembly = "OperationsHub.Sqlite";

    public override string Name => DatabaseProviders.Sqlite;

    public override void ConfigureDbContext(DbContextOptionsBuilder builder, DatabaseOptions options)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);
        builder
            .UseSqlite(PrepareConnectionString(options.ConnectionString), sqlite => sqlite.MigrationsAssembly(MigrationsAssembly))
            .AddInterceptors(new SqlitePragmaInterceptor())
            .ReplaceService<IModelCustomizer, SqliteModelCustomizer>();
    }

    public override void AddServices(IServiceCollection services)
    {
        services.AddSingleton<SqliteRunStore>();
        services.AddSingleton<IRunStore>(sp => sp.GetRequiredService<SqliteRunStore>());
        services.AddSingleton<IRunSearch, SqliteRunSearch>();
    }

    public override async Task MigrateAsync(HubDbContext db, DatabaseOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        // WAL belongs to the file: set once, before the first migration, so readers never wait for the writer.
        await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);
        await db.Database.MigrateAsync(cancellationToken);
    }

    /// <summary>Makes sure the folder of a file database exists, so a fresh clone runs without set-up.</summary>
    internal static string PrepareConnectionString(string connectionString)
    {
        var builder = new SqliteConnectionStringBuilder(connectionString);
        if (!string.IsNullOrEmpty(builder.DataSource)
            && builder.Mode is not SqliteOpenMode.Memory
            && !builder.DataSource.StartsWith(':'))
        {
            var directory = Path.GetDirectoryName(Path.GetFullPath(builder.DataSource));
            if (!string.IsNullOrEmpty(directory))
            {
                Directory.CreateDirectory(directory);
            }
        }

        return builder.ToString();
    }
}

public static class SqliteStorageExtensions
{
    /// <summary>Offers SQLite (<c>Database:Provider = Sqlite</c>, the default).</summary>
    public static HubStorageBuilder AddSqlite(this HubStorageBuilder storage)
    {
        ArgumentNullException.ThrowIfNull(storage);
        return storage.Add(new SqliteStorageProvider());
    }
}
