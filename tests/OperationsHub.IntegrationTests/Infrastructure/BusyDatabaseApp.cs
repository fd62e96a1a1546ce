using System.Data.Common;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;

namespace OperationsHub.IntegrationTests.Infrastructure;

/// <summary>The app whose every query fails, while <see cref="Busy"/> is set, as SQLite fails past its busy timeout.</summary>
public sealed class BusyDatabaseApp : HubAppFactory
{
    public ManualResetEventSlim Busy { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(services => services.AddSingleton<IInterceptor>(new BusyInterceptor(Busy)));
    }
}

/// <summary>Every query fails as SQLite fails when another process holds the write lock past the busy timeout.</summary>
internal sealed class BusyInterceptor(ManualResetEventSlim busy) : DbCommandInterceptor
{
    public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default) =>
        busy.IsSet ? throw new SqliteException("database is locked", 5) : base.ReaderExecutingAsync(command, eventData, result, cancellationToken);
}
