using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.Data;

namespace OperationsHub.Core.Storage;

/// <summary>
/// A database the hub can run on. A provider owns everything particular to its database: the EF Core configuration
/// and migrations, the run store's writer, the grid's text search, and its transient-error rules. The engine picks one
/// by <c>Database:Provider</c> among those the host offers.
/// </summary>
public abstract class HubStorageProvider
{
    /// <summary>The value of <c>Database:Provider</c> that selects this provider.</summary>
    public abstract string Name { get; }

    /// <summary>Configures a context for this database; shared by the host, the design-time factory and tests.</summary>
    public abstract void ConfigureDbContext(DbContextOptionsBuilder builder, DatabaseOptions options);

    /// <summary>Registers the provider's <see cref="IRunStore"/> and <see cref="IRunSearch"/>.</summary>
    public abstract void AddServices(IServiceCollection services);

    /// <summary>
    /// Applies pending migrations. A database that cannot be reached throws an exception whose message names
    /// <c>Database:ConnectionString</c> and never its secrets.
    /// </summary>
    public abstract Task MigrateAsync(HubDbContext db, DatabaseOptions options, CancellationToken cancellationToken);
}

/// <summary>The providers a host offers; <c>Database:Provider</c> chooses one of them.</summary>
public sealed class HubStorageBuilder
{
    private readonly List<HubStorageProvider> _providers = [];

    public IReadOnlyList<HubStorageProvider> Providers => _providers;

    public HubStorageBuilder Add(HubStorageProvider provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        _providers.Add(provider);
        return this;
    }
}
