using Microsoft.Extensions.Options;

namespace OperationsHub.Core.Data;

public sealed class DatabaseOptions
{
    public const string SectionName = "Database";

    /// <summary><c>Sqlite</c> (the default: an embedded file) or <c>PostgreSql</c> (one server for every node).</summary>
    public string Provider { get; set; } = DatabaseProviders.Sqlite;

    public string ConnectionString { get; set; } = "Data Source=data/operationshub.db";

    /// <summary>Apply pending migrations when the host starts.</summary>
    public bool MigrateOnStartup { get; set; } = true;

    /// <summary>
    /// PostgreSQL: how many connections the run lifecycle writes through, each group-committing (SQLite always uses
    /// one: it admits one writer at a time). More overlap the round trips of a busy node; each is one server session.
    /// </summary>
    public int WriterConnections { get; set; } = 4;
}

public static class DatabaseProviders
{
    public const string Sqlite = "Sqlite";

    public const string PostgreSql = "PostgreSql";
}

internal sealed class ValidateDatabaseOptions(Storage.HubStorageProvider provider) : IValidateOptions<DatabaseOptions>
{
    public ValidateOptionsResult Validate(string? name, DatabaseOptions options)
    {
        if (!string.Equals(options.Provider, provider.Name, StringComparison.OrdinalIgnoreCase))
        {
            return ValidateOptionsResult.Fail(
                $"Database:Provider '{options.Provider}' does not match the provider the host was built with ('{provider.Name}').");
        }

        if (options.WriterConnections is < 1 or > 32)
        {
            return ValidateOptionsResult.Fail("Database:WriterConnections must be between 1 and 32.");
        }

        return string.IsNullOrWhiteSpace(options.ConnectionString)
            ? ValidateOptionsResult.Fail("Database:ConnectionString is required.")
            : ValidateOptionsResult.Success;
    }
}
