using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OperationsHub.Core.Storage;

namespace OperationsHub.Core.Data;

public static class HubDatabase
{
    /// <summary>
    /// Applies pending migrations through the chosen provider. Called once at start-up, before the worker starts.
    /// </summary>
    public static async Task MigrateHubDatabaseAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        var provider = services.GetRequiredService<HubStorageProvider>();
        var options = services.GetRequiredService<IOptions<DatabaseOptions>>().Value;
        var factory = services.GetRequiredService<IDbContextFactory<HubDbContext>>();
        await using var db = await factory.CreateDbContextAsync(cancellationToken);
        await provider.MigrateAsync(db, options, cancellationToken);
    }

    /// <summary>
    /// The database: the provider named by <c>Database:Provider</c> among those offered, its store and search, and a
    /// pooled context factory for reads. An unknown name stops the host here, with a message naming the key.
    /// </summary>
    internal static IServiceCollection AddHubDatabase(
        this IServiceCollection services, IConfiguration configuration, Action<HubStorageBuilder> storage)
    {
        var builder = new HubStorageBuilder();
        storage(builder);
        var name = configuration[$"{DatabaseOptions.SectionName}:{nameof(DatabaseOptions.Provider)}"] ?? DatabaseProviders.Sqlite;
        var provider = builder.Providers.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
            ?? throw new OptionsValidationException(DatabaseOptions.SectionName, typeof(DatabaseOptions),
                [$"Database:Provider '{name}' is not supported; use one of: {string.Join(", ", builder.Providers.Select(p => p.Name))}."]);

        services.AddSingleton(provider);
        services.AddOptions<DatabaseOptions>().BindConfiguration(DatabaseOptions.SectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<DatabaseOptions>, ValidateDatabaseOptions>();
        provider.AddServices(services);
        services.AddPooledDbContextFactory<HubDbContext>((sp, options) =>
        {
            provider.ConfigureDbContext(options, sp.GetRequiredService<IOptions<DatabaseOptions>>().Value);
            // Extra interceptors from DI (diagnostics, tests that count commands).
            options.AddInterceptors(sp.GetServices<Microsoft.EntityFrameworkCore.Diagnostics.IInterceptor>());
            // The grid's capped count ("any 10,001 matches") takes rows without an order on purpose: ordering them
            // would make PostgreSQL sort every match of a search before it can stop. EF warned on every page load.
            options.ConfigureWarnings(w => w.Ignore(Microsoft.EntityFrameworkCore.Diagnostics.CoreEventId.RowLimitingOperationWithoutOrderByWarning));
        });
        return services;
    }
}
