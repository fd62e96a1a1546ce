using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using OperationsHub.Core.Data;
using OperationsHub.Core.Feed;
using OperationsHub.Core.Storage;
using OperationsHub.Core.Worker;

namespace OperationsHub.PostgreSql;

/// <summary>One PostgreSQL database for every node: the choice when one machine is not enough.</summary>
public sealed class PostgreSqlStorageProvider : HubStorageProvider
{
    public const string MigrationsAssembly = "OperationsHub.PostgreSql";

    public override string Name => DatabaseProviders.PostgreSql;

    public override void ConfigureDbContext(DbContextOptionsBuilder builder, DatabaseOptions options)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);
        builder
            .UseNpgsql(options.ConnectionString, npgsql => npgsql.MigrationsAssembly(MigrationsAssembly))
            // The provider's own indexes (ids in the grid's keys, the trigram index) on top of the shared model.
            .ReplaceService<IModelCustomizer, PostgreSqlModelCustomizer>();
    }

    public override void AddServices(IServiceCollection services)
    {
        services.AddSingleton<PostgreSqlRunStore>();
        services.AddSingleton<IRunStore>(sp => sp.GetRequiredService<PostgreSqlRunStore>());
        services.AddSingleton<IRunSearch, PostgreSqlRunSearch>();
        // Several nodes share one database: the feed relays each node's changes to the others (LISTEN / NOTIFY).
        services.AddSingleton(sp => new PostgreSqlRunChangeFeed(
            sp.GetRequiredService<IOptions<DatabaseOptions>>(),
            sp.GetRequiredService<IOptions<ChangeFeedOptions>>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILoggerFactory>(),
            runQueuedElsewhere: () => sp.GetService<RunWorker>()?.Wake()));
        services.AddSingleton<IRunChangeFeed>(sp => sp.GetRequiredService<PostgreSqlRunChangeFeed>());
        services.AddSingleton<IChangeFeedRelay>(sp => sp.GetRequiredService<PostgreSqlRunChangeFeed>());
        services.AddHostedService(sp => sp.GetRequiredService<PostgreSqlRunChangeFeed>());
    }

    public override async Task MigrateAsync(HubDbContext db, DatabaseOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(options);
        try
        {
            // Ask the server (through its maintenance database) first: letting the migrator find out by failing to
            // open the missing database logs an alarming connection error on every first start.
            var creator = db.GetService<IRelationalDatabaseCreator>();
            if (!await creator.ExistsAsync(cancellationToken))
            {
                await creator.CreateAsync(cancellationToken);
            }

            // The migrator reads the history table before it creates it (Npgsql's history repository cannot tell
            // whether it exists, npgsql/efcore.pg#3407), which logs a failed command at error level on every first
            // start. The repository creates it first here (its own idempotent script).
            await db.GetService<IHistoryRepository>().CreateIfNotExistsAsync(cancellationToken);
            await db.Database.MigrateAsync(cancellationToken);
        }
        catch (Exception ex) when (IsUnreachable(ex))
        {
            throw new InvalidOperationException(
                $"Could not reach the PostgreSQL database of Database:ConnectionString ({Describe(options.ConnectionString)}): "
                + $"{ex.Message} Check that the server is running and that the settings are right.", ex);
        }
    }

    /// <summary>
    /// Whether the server could not be reached or would not let the hub in (refused, timed out, wrong password, no
    /// such database, starting up), as opposed to a fault in a migration. EF wraps what the driver threw (its retrying
    /// strategy says "likely due to a transient failure"), so the whole chain is looked at.
    /// </summary>
    private static bool IsUnreachable(Exception exception)
    {
        for (var ex = exception; ex is not null; ex = ex.InnerException)
        {
            switch (ex)
            {
                case PostgresException postgres:
                    return postgres.SqlState is "28P01" or "28000" or "3D000" or "57P03";
                case NpgsqlException or System.Net.Sockets.SocketException or TimeoutException:
                    return true;
            }
        }

        return false;
    }

    /// <summary>Where the connection string points, without its password.</summary>
    internal static string Describe(string connectionString)
    {
        try
        {
            var builder = new NpgsqlConnectionStringBuilder(connectionString);
            return $"Host={builder.Host}; Port={builder.Port}; Database={builder.Database}; Username={builder.Username}";
        }
        catch (ArgumentException)
        {
            return "not a valid PostgreSQL connection string";
        }
    }
}

public static class PostgreSqlStorageExtensions
{
    /// <summary>Offers PostgreSQL (<c>Database:Provider = PostgreSql</c>).</summary>
    public static HubStorageBuilder AddPostgreSql(this HubStorageBuilder storage)
    {
        ArgumentNullException.ThrowIfNull(storage);
        return storage.Add(new PostgreSqlStorageProvider());
    }
}
