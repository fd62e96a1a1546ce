using Microsoft.Data.Sqlite;
using System.Threading.Channels;
using Microsoft.Extensions.Options;

namespace OperationsHub.Core.Data;

/// <summary>
/// Serializes this process's write transactions and owns the one connection the hot path writes through.
/// SQLite admits one writer at a time anyway; letting writers collide inside the database means SQLITE_BUSY and the
/// busy handler's sleeps (1, 2, 5, 10 … 100 ms), which collapses throughput under load. Queuing them here costs
/// nothing and keeps the busy timeout for other processes.
/// <para>
/// The run lifecycle writes through <see cref="WriteAsync{T}"/>: a single writer loop takes whatever writes are waiting
/// and commits them together (group commit), each inside a savepoint of its own so one write's failure leaves the others
/// alone. A lone write is committed at once; writes are only grouped when they arrive while the previous commit is
/// under way, so grouping adds no latency. Each caller's task completes only after its write is durable.
/// Other writers (heartbeats, retention) take the gate with <see cref="EnterAsync"/> and use their own connection.
/// </para>
/// </summary>
internal sealed class WriteGate : IDisposable
{
    /// <summary>Writes per group commit at most: bounds how long one transaction holds the database's write lock.</summary>
    public const int MaxBatch = 128;

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly string _connectionString;
    private readonly Channel<PendingWrite> _queue = Channel.CreateUnbounded<PendingWrite>(
        new UnboundedChannelOptions { SingleReader = true });
    private readonly Lock _startLock = new();
    private Task? _loop;
    private SqliteWriter? _writer;
    private long _commits;
    private long _writes;

    public WriteGate(IOptions<DatabaseOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _connectionString = HubDatabase.PrepareSqliteConnectionString(options.Value.ConnectionString);
    }

    /// <summary>Transactions committed by the writer loop so far.</summary>
    public long Commits => Interlocked.Read(ref _commits);

    /// <summary>Writes committed by the writer loop so far (several per commit under load).</summary>
    public long Writes => Interlocked.Read(ref _writes);

    public async ValueTask<Releaser> EnterAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        return new Releaser(this);
    }

    /// <summary>
    /// Runs <paramref name="work"/> on the writer connection inside a transaction and returns its result once that
    /// transaction has committed. Throws what <paramref name="work"/> threw (its writes undone), or what the commit threw.
    /// </summary>
    public Task<T> WriteAsync<T>(Func<SqliteWriter, T> work, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        EnsureLoop();
        var pending = new PendingWrite<T>(work, cancellationToken);
        if (!_queue.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(nameof(WriteGate));
        }

        return pending.Task;
    }

    public void Dispose()
    {
        _queue.Writer.TryComplete();
        try
        {
            _loop?.Wait(TimeSpan.FromSeconds(10));
        }
        catch (AggregateException)
        {
            // The loop reports its failures to the writes themselves.
        }

        _writer?.Dispose();
        _writer = null;
    }

    private void EnsureLoop()
    {
        if (_loop is not null)
        {
            return;
        }

        lock (_startLock)
        {
            _loop ??= Task.Run(WriterLoopAsync);
        }
    }

    private async Task WriterLoopAsync()
    {
        var batch = new List<PendingWrite>(MaxBatch);
        while (await _queue.Reader.WaitToReadAsync())
        {
            // Take the gate first, then the queue: whatever arrived while another writer held the gate joins this group.
            await _gate.WaitAsync();
            try
            {
                batch.Clear();
                while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var pending))
                {
                    if (!pending.TryDropIfCancelled())
                    {
                        batch.Add(pending);
                    }
                }

                if (batch.Count > 0)
                {
                    CommitBatch(batch);
                }
            }
            finally
            {
                _gate.Release();
            }
        }

        while (_queue.Reader.TryRead(out var left))
        {
            left.Fail(new ObjectDisposedException(nameof(WriteGate)));
        }
    }

    private void CommitBatch(List<PendingWrite> batch)
    {
        var done = 0;
        try
        {
            _writer ??= SqliteWriter.Open(_connectionString);
            var writer = _writer;
            using var tx = writer.Begin();
            foreach (var pending in batch)
            {
                if (batch.Count == 1)
                {
                    pending.Run(writer); // a lone write's failure rolls back the whole transaction below
                    continue;
                }

                writer.Execute("SAVEPOINT w");
                try
                {
                    pending.Run(writer);
                    writer.Execute("RELEASE w");
                }
                catch (Exception ex) when (ex is not SqliteException { SqliteErrorCode: SQLITE_FULL or SQLITE_IOERR })
                {
                    writer.Execute("ROLLBACK TO w");
                    writer.Execute("RELEASE w");
                    pending.Fail(ex);
                }
            }

            writer.Commit(tx);
            Interlocked.Increment(ref _commits);
            foreach (var pending in batch)
            {
                if (pending.Complete())
                {
                    done++;
                }
            }

            Interlocked.Add(ref _writes, done);
        }
        catch (Exception ex)
        {
            // BEGIN or COMMIT failed (the file is locked by another process past the busy timeout, the disk is full):
            // nothing of this batch was written, and every write in it says so.
            foreach (var pending in batch)
            {
                pending.Fail(ex);
            }

            ResetWriterIfBroken(ex);
        }
    }

    private void ResetWriterIfBroken(Exception ex)
    {
        if (ex is SqliteException && _writer is { } writer && !writer.IsHealthy)
        {
            writer.Dispose();
            _writer = null;
        }
    }

    private const int SQLITE_IOERR = 10;
    private const int SQLITE_FULL = 13;

    internal readonly struct Releaser(WriteGate owner) : IDisposable
    {
        public void Dispose() => owner._gate.Release();
    }

    private abstract class PendingWrite
    {
        public abstract bool TryDropIfCancelled();

        public abstract void Run(SqliteWriter writer);

        public abstract bool Complete();

        public abstract void Fail(Exception exception);
    }

    private sealed class PendingWrite<T>(Func<SqliteWriter, T> work, CancellationToken cancellationToken) : PendingWrite
    {
        private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T _result = default!;
        private bool _failed;

        public Task<T> Task => _completion.Task;

        public override bool TryDropIfCancelled()
        {
            if (!cancellationToken.IsCancellationRequested)
            {
                return false;
            }

            _completion.TrySetCanceled(cancellationToken);
            return true;
        }

        public override void Run(SqliteWriter writer) => _result = work(writer);

        public override bool Complete() => !_failed && _completion.TrySetResult(_result);

        public override void Fail(Exception exception)
        {
            _failed = true;
            _completion.TrySetException(exception);
        }
    }
}

/// <summary>One open connection with the per-connection pragmas set and a cache of prepared commands.</summary>
internal sealed class SqliteWriter : IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);

    private SqliteWriter(SqliteConnection connection) => _connection = connection;

    public static SqliteWriter Open(string connectionString)
    {
        var connection = new SqliteConnection(connectionString);
        connection.Open();
        using (var pragmas = connection.CreateCommand())
        {
            pragmas.CommandText = SqlitePragmaInterceptor.Pragmas;
            pragmas.ExecuteNonQuery();
        }

        return new SqliteWriter(connection);
    }

    private SqliteTransaction? _transaction;

    public bool IsHealthy => _connection.State == System.Data.ConnectionState.Open;

    /// <summary>BEGIN IMMEDIATE: the write lock is taken up front, so a transaction never fails half-way to upgrade.</summary>
    public SqliteTransaction Begin() => _transaction = _connection.BeginTransaction(deferred: false);

    public void Commit(SqliteTransaction transaction)
    {
        transaction.Commit();
        _transaction = null;
    }

    public void Execute(string sql) => Command(sql).ExecuteNonQuery();

    /// <summary>The cached command for <paramref name="sql"/>, its parameters cleared, in the current transaction.</summary>
    public SqliteCommand Command(string sql)
    {
        if (!_commands.TryGetValue(sql, out var command))
        {
            command = _connection.CreateCommand();
            command.CommandText = sql;
            _commands.Add(sql, command);
        }

        command.Parameters.Clear();
        command.Transaction = _transaction;
        return command;
    }

    public void Dispose()
    {
        foreach (var command in _commands.Values)
        {
            command.Dispose();
        }

        _commands.Clear();
        _connection.Dispose();
    }
}
