using Microsoft.Data.Sqlite;

namespace OperationsHub.Bench.Throughput;

/// <summary>
/// The floor: what the three lifecycle commits cost in SQLite alone. One connection, prepared statements, WAL and
/// synchronous=NORMAL, and for each item three transactions: insert it queued, mark it running, mark it completed.
/// No scheduler, no dedupe, no events or notifications, no concurrency.
/// </summary>
internal sealed class RawFloorContestant : Contestant
{
    private SqliteConnection? _connection;

    public override string Name => "raw SQLite floor";

    public override string Settings => "Microsoft.Data.Sqlite, one connection, 3 transactions per item (insert, claim, complete), WAL, synchronous=NORMAL";

    public override async Task PrepareAsync(string directory)
    {
        _connection = new SqliteConnection($"Data Source={Path.Combine(directory, "floor.db")}");
        await _connection.OpenAsync();
        await using var schema = _connection.CreateCommand();
        schema.CommandText = """
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=NORMAL;
            CREATE TABLE items (id INTEGER PRIMARY KEY, status TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
            """;
        await schema.ExecuteNonQueryAsync();
    }

    public override Task<int> DrainAsync(int count)
    {
        var connection = _connection!;
        using var insert = connection.CreateCommand();
        insert.CommandText = "INSERT INTO items (status, created_at, updated_at) VALUES ('Queued', @now, @now) RETURNING id";
        var insertNow = insert.Parameters.Add("@now", SqliteType.Text);
        using var update = connection.CreateCommand();
        update.CommandText = "UPDATE items SET status = @status, updated_at = @now WHERE id = @id";
        var status = update.Parameters.Add("@status", SqliteType.Text);
        var updateNow = update.Parameters.Add("@now", SqliteType.Text);
        var id = update.Parameters.Add("@id", SqliteType.Integer);

        for (var i = 0; i < count; i++)
        {
            using (var tx = connection.BeginTransaction())
            {
                insert.Transaction = tx;
                insertNow.Value = DateTime.UtcNow;
                id.Value = (long)insert.ExecuteScalar()!;
                tx.Commit();
            }

            foreach (var next in (string[])["Running", "Completed"])
            {
                using var tx = connection.BeginTransaction();
                update.Transaction = tx;
                status.Value = next;
                updateNow.Value = DateTime.UtcNow;
                update.ExecuteNonQuery();
                tx.Commit();
            }
        }

        using var done = connection.CreateCommand();
        done.CommandText = "SELECT count(*) FROM items WHERE status = 'Completed'";
        return Task.FromResult((int)(long)done.ExecuteScalar()!);
    }

    public override async ValueTask DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }
    }
}
