using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using OperationsHub.Core.Data;

namespace OperationsHub.Sqlite;

/// <summary>Lets <c>dotnet ef migrations add</c> build the model without starting the host.</summary>
internal sealed class DesignTimeHubDbContextFactory : IDesignTimeDbContextFactory<HubDbContext>
{
    public HubDbContext CreateDbContext(string[] args)
    {
        var builder = new DbContextOptionsBuilder<HubDbContext>();
        new SqliteStorageProvider().ConfigureDbContext(builder, new DatabaseOptions { ConnectionString = "Data Source=design-time.db" });
        return new HubDbContext(builder.Options);
    }
}
