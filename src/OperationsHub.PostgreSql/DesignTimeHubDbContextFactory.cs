using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using OperationsHub.Core.Data;

namespace OperationsHub.PostgreSql;

/// <summary>Lets <c>dotnet ef migrations add</c> build the model without a server.</summary>
internal sealed class DesignTimeHubDbContextFactory : IDesignTimeDbContextFactory<HubDbContext>
{
    public HubDbContext CreateDbContext(string[] args)
    {
        var builder = new DbContextOptionsBuilder<HubDbContext>();
        new PostgreSqlStorageProvider().ConfigureDbContext(builder, new DatabaseOptions
        {
            Provider = "PostgreSql",
            ConnectionString = "Host=localhost;Database=operationshub_design",
        });
        return new HubDbContext(builder.Options);
    }
}
