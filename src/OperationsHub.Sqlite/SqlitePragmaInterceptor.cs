using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace OperationsHub.Sqlite;

/// <summary>
/// Per-connection SQLite settings. WAL is a property of the file (set once by the migrator), but
/// <c>synchronous</c> and <c>busy_timeout</c> belong to the connection, so every pooled open sets them again.
/// NORMAL is durable across application crashes in WAL mode; only an OS crash can lose the last commits.
/// </summary>
internal sealed class SqlitePragmaInterceptor : DbConnectionInterceptor
{
    internal const string Pragmas = "PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;";

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
    {
        using var command = connection.CreateCommand();
        command.CommandText = Pragmas;
        command.ExecuteNonQuery();
    }

    public override async Task ConnectionOpenedAsync(
        DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = Pragmas;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
