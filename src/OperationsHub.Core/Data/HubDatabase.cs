using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace OperationsHub.Core.Data;

public static class HubDatabase
{
    public const string SqliteMigrationsAssembly = "OperationsHub.Migrations.Sqlite";

    /// <summary>Configures a context for the chosen provider; shared by the host, the design-time factory and tests.</summary>
    public static DbContextOptionsBuilder UseHubDatabase(this DbContextOptionsBuilder builder, DatabaseOptions options)
    {
        var connectionString = PrepareSqliteConnectionString(options.ConnectionString);
        return builder
            .UseSqlite(connectionString, sqlite => sqlite.MigrationsAssembly(SqliteMigrationsAssembly))
            .AddInterceptors(new SqlitePragmaInterceptor());
    }

    /// <summary>
    /// Applies pending migrations and switches the file to WAL. Called once at start-up, before the worker starts.
    /// </summary>
    public static async Task MigrateHubDatabaseAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        var factory = services.GetRequiredService<IDbContextFactory<HubDbContext>>();
        await using var db = await factory.CreateDbContextAsync(cancellationToken);
        await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);
        await db.Database.MigrateAsync(cancellationToken);
    }

    internal static IServiceCollection AddHubDatabase(this IServiceCollection services)
    {
        services.AddOptions<DatabaseOptions>().BindConfiguration(DatabaseOptions.SectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<DatabaseOptions>, ValidateDatabaseOptions>();
        services.AddPooledDbContextFactory<HubDbContext>((sp, builder) => builder
            .UseHubDatabase(sp.GetRequiredService<IOptions<DatabaseOptions>>().Value)
            // Extra interceptors from DI (diagnostics, tests that count commands).
            .AddInterceptors(sp.GetServices<Microsoft.EntityFrameworkCore.Diagnostics.IInterceptor>()));
        return services;
    }

    /// <summary>
    /// Whether <paramref name="exception"/> means the database is busy or locked by another writer past the busy
    /// timeout: a passing condition, nothing was written, and the same request may succeed in a moment.
    /// </summary>
    public static bool IsBusy(Exception exception) =>
        exception is SqliteException { SqliteErrorCode: SqliteBusy or SqliteLocked }
        || exception.InnerException is { } inner && IsBusy(inner);

    private const int SqliteBusy = 5;
    private const int SqliteLocked = 6;

    /// <summary>Makes sure the folder of a file database exists, so a fresh clone runs without set-up.</summary>
    internal static string PrepareSqliteConnectionString(string connectionString)
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
