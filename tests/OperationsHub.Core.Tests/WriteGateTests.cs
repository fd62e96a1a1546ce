using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using OperationsHub.Core.Data;

namespace OperationsHub.Core.Tests;

/// <summary>Group commit on a real SQLite file: writes that wait together share a commit, and fail alone.</summary>
public sealed class WriteGateTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("opshub-gate-");
    private readonly WriteGate _gate;

    public WriteGateTests()
    {
        _gate = new WriteGate(Options.Create(new DatabaseOptions { ConnectionString = $"Data Source={DatabasePath}" }));
    }

    private string DatabasePath => Path.Combine(_directory.FullName, "gate.db");

    public void Dispose()
    {
        _gate.Dispose();
        SqliteConnection.ClearAllPools();
        _directory.Delete(recursive: true);
    }

    [Fact]
    public async Task WritesQueuedBehindABusyWriter_ShareOneCommit_AndAllLand()
    {
        await CreateTableAsync();
        var commitsBefore = _gate.Commits;

        Task<long>[] writes;
        using (await _gate.EnterAsync(TestContext.Current.CancellationToken))
        {
            // Another writer holds the gate; everything below queues up behind it.
            writes = Enumerable.Range(1, 50).Select(InsertAsync).ToArray();
            await Task.Delay(100, TestContext.Current.CancellationToken);
            writes.Should().OnlyContain(w => !w.IsCompleted, "no write may report success before it is committed");
        }

        var ids = await Task.WhenAll(writes);

        ids.Should().OnlyHaveUniqueItems();
        (await CountRowsAsync()).Should().Be(50);
        (_gate.Commits - commitsBefore).Should().Be(1, "the 50 writes waited together and fit in one group");
    }

    [Fact]
    public async Task AWriteThatThrows_InAGroup_IsUndone_AndTheOthersCommit()
    {
        await CreateTableAsync();

        Task<long> before, failing, after;
        using (await _gate.EnterAsync(TestContext.Current.CancellationToken))
        {
            before = InsertAsync(1);
            failing = _gate.WriteAsync<long>(writer =>
            {
                var insert = writer.Command("INSERT INTO t (n) VALUES (99)");
                insert.ExecuteNonQuery();
                throw new InvalidOperationException("handler bug after a partial write");
            }, CancellationToken.None);
            after = InsertAsync(2);
        }

        await before;
        await after;
        var thrown = await failing.Invoking(t => t).Should().ThrowAsync<InvalidOperationException>();
        thrown.WithMessage("handler bug after a partial write");
        (await ValuesAsync()).Should().BeEquivalentTo([1L, 2L], "the failed write's own row was rolled back to its savepoint");
    }

    [Fact]
    public async Task ALoneWriteThatThrows_WritesNothing_AndTheNextWriteStillWorks()
    {
        await CreateTableAsync();

        var failing = _gate.WriteAsync<long>(writer =>
        {
            writer.Command("INSERT INTO t (n) VALUES (7)").ExecuteNonQuery();
            throw new InvalidOperationException("boom");
        }, CancellationToken.None);
        await failing.Invoking(t => t).Should().ThrowAsync<InvalidOperationException>();

        await InsertAsync(8);
        (await ValuesAsync()).Should().BeEquivalentTo([8L]);
    }

    [Fact]
    public async Task AWriteCancelledWhileQueued_NeverRuns()
    {
        await CreateTableAsync();
        using var cancel = new CancellationTokenSource();

        Task<long> cancelled;
        using (await _gate.EnterAsync(TestContext.Current.CancellationToken))
        {
            cancelled = _gate.WriteAsync(writer =>
            {
                writer.Command("INSERT INTO t (n) VALUES (5)").ExecuteNonQuery();
                return 5L;
            }, cancel.Token);
            await cancel.CancelAsync();
        }

        await cancelled.Invoking(t => t).Should().ThrowAsync<OperationCanceledException>();
        await InsertAsync(6); // the loop goes on
        (await ValuesAsync()).Should().BeEquivalentTo([6L]);
    }

    [Fact]
    public async Task ADatabaseLockedByAnotherConnection_DelaysWrites_UntilItIsFree()
    {
        await CreateTableAsync();
        await using var other = new SqliteConnection($"Data Source={DatabasePath}");
        await other.OpenAsync(TestContext.Current.CancellationToken);
        var lockHolder = other.BeginTransaction(deferred: false); // another process's writer, holding the lock

        var write = InsertAsync(3);
        await Task.Delay(300, TestContext.Current.CancellationToken);
        write.IsCompleted.Should().BeFalse("the busy timeout waits for the other writer instead of failing at once");

        lockHolder.Commit();
        (await write).Should().BePositive();
        (await ValuesAsync()).Should().BeEquivalentTo([3L]);
    }

    private Task CreateTableAsync() =>
        _gate.WriteAsync(writer =>
        {
            writer.Execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)");
            return 0;
        }, CancellationToken.None);

    private Task<long> InsertAsync(int n) =>
        _gate.WriteAsync(writer =>
        {
            var insert = writer.Command("INSERT INTO t (n) VALUES (@n) RETURNING id");
            insert.Parameters.AddWithValue("@n", n);
            return (long)insert.ExecuteScalar()!;
        }, CancellationToken.None);

    private async Task<long> CountRowsAsync() => (await ValuesAsync()).Count;

    private async Task<List<long>> ValuesAsync()
    {
        await using var connection = new SqliteConnection($"Data Source={DatabasePath}");
        await connection.OpenAsync();
        await using var select = connection.CreateCommand();
        select.CommandText = "SELECT n FROM t ORDER BY n";
        var values = new List<long>();
        await using var reader = await select.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            values.Add(reader.GetInt64(0));
        }

        return values;
    }
}
