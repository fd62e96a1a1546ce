using Microsoft.Extensions.Options;

namespace OperationsHub.Core.Data;

public sealed class DatabaseOptions
{
    public const string SectionName = "Database";

    /// <summary><c>Sqlite</c> (the default) or <c>PostgreSql</c> once scale-out lands.</summary>
    public string Provider { get; set; } = DatabaseProviders.Sqlite;

    public string ConnectionString { get; set; } = "Data Source=data/operationshub.db";

    /// <summary>Apply pending migrations when the host starts.</summary>
    public bool MigrateOnStartup { get; set; } = true;
}

public static class DatabaseProviders
{
    public const string Sqlite = "Sqlite";
}

internal sealed class ValidateDatabaseOptions : IValidateOptions<DatabaseOptions>
{
    public ValidateOptionsResult Validate(string? name, DatabaseOptions options)
    {
        if (!string.Equals(options.Provider, DatabaseProviders.Sqlite, StringComparison.OrdinalIgnoreCase))
        {
            return ValidateOptionsResult.Fail(
                $"Database:Provider '{options.Provider}' is not supported; use '{DatabaseProviders.Sqlite}'.");
        }

        return string.IsNullOrWhiteSpace(options.ConnectionString)
            ? ValidateOptionsResult.Fail("Database:ConnectionString is required.")
            : ValidateOptionsResult.Success;
    }
}
