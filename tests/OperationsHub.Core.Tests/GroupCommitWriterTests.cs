using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Npgsql;
using OperationsHub.Core.Data;
using OperationsHub.Core.Storage;
using OperationsHub.PostgreSql;
using OperationsHub.Sqlite;

namespace OperationsHub.Core.Tests;

/// <summary>Group commit on each provider's real writer connection: writes that wait together share a commit, and fail alone.</summary>
public abstract class GroupCommitWriterTests(TestProvider provider) : IAsyncLifetime
{
    private TestDatabase _database = null!;
    private SqlRunStore _store = null!;

    private GroupCommitWriter _gate => _store.Writer;

    public async ValueTask InitializeAsync()
    {
        // An empty database of its own: these tests make their own table.
        _database = await TestDatabase.CreateAsync(provider);
        _store = StoreWith(new DatabaseOptions().WriterConnections);
    }

    public async ValueTask DisposeAsync()
    {
        _store.Dispose();
        await _database.DisposeAsync();
    }

    [Fact]
    public async Task WritesQueuedBehindABusyWriter_ShareOneCommit_AndAllLand()
    {
        // One writer loop (SQLite always has one): the queue is drained by a single commit.
        using var single = StoreWith(writerConnections: 1);
        await CreateTableAsync();
        var commitsBefore = single.Writer.Commits;

        var ids = await QueueBehindBusyWriterAsync(single.Writer, 50);

        ids.Should().OnlyHaveUniqueItems();
        (await CountRowsAsync()).Should().Be(50);
        (single.Writer.Commits - commitsBefore).Should().Be(1, "the 50 writes waited together and fit in one group");
    }

    [Fact]
    public async Task WritesQueuedBehindABusyWriter_WithSeveralLoops_ShareAtMostOneCommitPerLoop()
    {
        const int Loops = 4;
        using var several = StoreWith(writerConnections: Loops);
        await CreateTableAsync();
        var commitsBefore = several.Writer.Commits;

        var ids = await QueueBehindBusyWriterAsync(several.Writer, 50);

        ids.Should().OnlyHaveUniqueItems();
        (await CountRowsAsync()).Should().Be(50);
        // The loops drain the same queue at once when the gate opens; each takes a share, none commits twice.
        (several.Writer.Commits - commitsBefore).Should().BeInRange(1, provider == TestProvider.Sqlite ? 1 : Loops);
    }

    private async Task<long[]> QueueBehindBusyWriterAsync(GroupCommitWriter writer, int count)
    {
        Task<long>[] writes;
        using (await writer.EnterAsync(TestContext.Current.CancellationToken))
        {
            // Another writer holds the gate; everything below queues up behind it.
            writes = Enumerable.Range(1, count).Select(n => InsertAsync(writer, n)).ToArray();
            await Task.Delay(100, TestContext.Current.CancellationToken);
            writes.Should().OnlyContain(w => !w.IsCompleted, "no write may report success before it is committed");
        }

        return await Task.WhenAll(writes);
    }

    private SqlRunStore StoreWith(int writerConnections)
    {
        var options = Options.Create(new DatabaseOptions
        {
            Provider = provider.ToString(),
            ConnectionString = _database.ConnectionString,
            WriterConnections = writerConnections,
        });
        return provider == TestProvider.Sqlite ? new SqliteRunStore(options) : new PostgreSqlRunStore(options);
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
    public async Task StatementWritesQueuedTogether_GoAsOneBatchWhereTheDriverCan_AndEachReadsItsOwnResult()
    {
        using var single = StoreWith(writerConnections: 1);
        await CreateTableAsync();
        var batchesBefore = single.Writer.Batches;

        Task<(long Id, long N)>[] statements;
        Task<long> plain;
        using (await single.Writer.EnterAsync(TestContext.Current.CancellationToken))
        {
            statements = Enumerable.Range(1, 20).Select(n => InsertStatementAsync(single.Writer, n)).ToArray();
            plain = InsertAsync(single.Writer, 100); // a write of arbitrary work in the same group
        }

        var results = await Task.WhenAll(statements);
        results.Select(r => r.N).Should().Equal(Enumerable.Range(1, 20).Select(n => (long)n), "each caller reads its own statement's row");
        results.Select(r => r.Id).Should().OnlyHaveUniqueItems();
        (await plain).Should().BePositive();
        (await ValuesAsync()).Should().HaveCount(21);
        // PostgreSQL sends the group's statements in one round trip; SQLite's driver has no batches (nor round trips).
        (single.Writer.Batches - batchesBefore).Should().Be(provider == TestProvider.PostgreSql ? 1 : 0);
    }

    [Fact]
    public async Task AStatementThatFails_InABatch_IsUndone_AndTheOthersCommit()
    {
        using var single = StoreWith(writerConnections: 1);
        await CreateTableAsync();

        Task<(long Id, long N)> before, after;
        Task<(long Id, long N)> failing;
        Task<long> plain;
        using (await single.Writer.EnterAsync(TestContext.Current.CancellationToken))
        {
            before = InsertStatementAsync(single.Writer, 1);
            failing = InsertStatementAsync(single.Writer, null); // n is NOT NULL: the server refuses this one
            plain = InsertAsync(single.Writer, 3);
            after = InsertStatementAsync(single.Writer, 2);
        }

        (await before).N.Should().Be(1);
        (await after).N.Should().Be(2);
        (await plain).Should().BePositive();
        await failing.Invoking(t => t).Should().ThrowAsync<DbException>();
        (await ValuesAsync()).Should().BeEquivalentTo([1L, 2L, 3L], "only the refused statement was undone");
    }

    private static Task<(long Id, long N)> InsertStatementAsync(GroupCommitWriter writer, long? n) =>
        writer.WriteAsync(
            "INSERT INTO t (n) VALUES (@n) RETURNING id, n",
            p => p.With("@n", n),
            reader => reader.Read() ? (reader.GetInt64(0), reader.GetInt64(1)) : throw new InvalidOperationException("no row"),
            CancellationToken.None);

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
    public async Task ATableLockedByAnotherConnection_DelaysWrites_UntilItIsFree()
    {
        await CreateTableAsync();
        await using var other = OpenConnection();
        await other.OpenAsync(TestContext.Current.CancellationToken);
        // Another process's writer holding the lock: SQLite's write lock, or PostgreSQL's lock on the table.
        DbTransaction lockHolder;
        if (provider == TestProvider.Sqlite)
        {
            lockHolder = ((SqliteConnection)other).BeginTransaction(deferred: false);
        }
        else
        {
            lockHolder = await other.BeginTransactionAsync(TestContext.Current.CancellationToken);
            await using var lockTable = other.CreateCommand();
            lockTable.Transaction = lockHolder;
            lockTable.CommandText = "LOCK TABLE t IN ACCESS EXCLUSIVE MODE";
            await lockTable.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        }

        var write = InsertAsync(3);
        await Task.Delay(300, TestContext.Current.CancellationToken);
        write.IsCompleted.Should().BeFalse("the write waits for the other writer instead of failing at once");

        await lockHolder.CommitAsync(TestContext.Current.CancellationToken);
        (await write).Should().BePositive();
        (await ValuesAsync()).Should().BeEquivalentTo([3L]);
    }

    private DbConnection OpenConnection() => provider == TestProvider.Sqlite
        ? new SqliteConnection(_database.ConnectionString)
        : new NpgsqlConnection(_database.ConnectionString);

    private Task CreateTableAsync() =>
        _gate.WriteAsync(writer =>
        {
            writer.Execute(provider == TestProvider.Sqlite
                ? "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"
                : "CREATE TABLE t (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, n bigint NOT NULL)");
            return 0;
        }, CancellationToken.None);

    private Task<long> InsertAsync(int n) => InsertAsync(_gate, n);

    private static Task<long> InsertAsync(GroupCommitWriter gate, int n) =>
        gate.WriteAsync(writer => (long)writer.Command("INSERT INTO t (n) VALUES (@n) RETURNING id").With("@n", (long)n).ExecuteScalar()!,
            CancellationToken.None);

    private async Task<long> CountRowsAsync() => (await ValuesAsync()).Count;

    private async Task<List<long>> ValuesAsync()
    {
        await using var connection = OpenConnection();
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

public sealed class GroupCommitWriterTestsOnSqlite() : GroupCommitWriterTests(TestProvider.Sqlite);

public sealed class GroupCommitWriterTestsOnPostgreSql() : GroupCommitWriterTests(TestProvider.PostgreSql);
