using System.Data.Common;
using System.Threading.Channels;

namespace OperationsHub.Core.Storage;

/// <summary>
/// A few writer connections per process (SQLite: one), each with a loop that commits the writes waiting for it
/// together (group commit), and one write's failure leaves the others alone: a group is first written plainly, and
/// only when one of its writes fails is it rolled back and written again with each write in a savepoint of its own
/// (writes are database work only, so running one again is safe). Savepoints cost two round trips per write, which
/// on PostgreSQL were a third of the lifecycle's. Writes that are one statement each (the lifecycle's fused
/// inserts and transitions, heartbeats) go to the server together as one batch where the driver can (PostgreSQL), so
/// a group costs its BEGIN-and-batch round trip and its COMMIT however many such writes it holds. A lone write is committed at
/// once; writes are grouped only when they arrive while the previous commit is under way, so grouping adds no latency.
/// Each caller's task completes only after its write is durable.
/// <para>
/// Why so few: SQLite admits one writer at a time anyway, and colliding writers inside it mean SQLITE_BUSY and the busy
/// handler's sleeps. PostgreSQL admits many, but every commit waits for its WAL flush: sharing one commit among the
/// writes that queued meanwhile turns N flushes into one. A single PostgreSQL writer, though, is bound by round trips
/// (each statement of a group waits for the server in turn), so there several loops overlap them. Writes of one run
/// are awaited one after another by their callers, so loops rarely touch the same rows; when two batches do deadlock,
/// the server aborts one statement and the losing write runs once more. The driver-specific parts (open, begin,
/// which errors break the connection, which are worth a retry) come from the provider.
/// </para>
/// </summary>
public sealed class GroupCommitWriter : IDisposable
{
    /// <summary>Writes per group commit at most: bounds how long one transaction holds its locks.</summary>
    public const int MaxBatch = 128;

    private readonly SemaphoreSlim _gate;
    private readonly int _writers;
    private readonly WriterConnectionFactory _connections;
    private readonly Channel<PendingWrite> _queue;
    private readonly Lock _startLock = new();
    private Task[]? _loops;
    private long _commits;
    private long _writes;
    private long _batches;

    public GroupCommitWriter(WriterConnectionFactory connections, int writers = 1)
    {
        ArgumentNullException.ThrowIfNull(connections);
        ArgumentOutOfRangeException.ThrowIfLessThan(writers, 1);
        _connections = connections;
        _writers = writers;
        _gate = new SemaphoreSlim(writers, writers);
        _queue = Channel.CreateUnbounded<PendingWrite>(new UnboundedChannelOptions { SingleReader = writers == 1 });
    }

    /// <summary>Transactions committed by the writer loop so far.</summary>
    public long Commits => Interlocked.Read(ref _commits);

    /// <summary>Writes committed by the writer loop so far (several per commit under load).</summary>
    public long Writes => Interlocked.Read(ref _writes);

    /// <summary>
    /// Holds the writer loop off until the releaser is disposed: writes that arrive meanwhile queue up and then share
    /// one commit. For a writer outside this loop that must not collide with it (and for tests of grouping).
    /// </summary>
    public async ValueTask<Releaser> EnterAsync(CancellationToken cancellationToken)
    {
        // Every loop's place: none of them can start a commit until this is released.
        var taken = 0;
        try
        {
            for (; taken < _writers; taken++)
            {
                await _gate.WaitAsync(cancellationToken);
            }
        }
        catch
        {
            if (taken > 0)
            {
                _gate.Release(taken);
            }

            throw;
        }

        return new Releaser(this);
    }

    /// <summary>
    /// Runs <paramref name="work"/> on the writer connection inside a transaction and returns its result once that
    /// transaction has committed. Throws what <paramref name="work"/> threw (its writes undone), or what the commit threw.
    /// </summary>
    public Task<T> WriteAsync<T>(Func<WriteSession, T> work, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        EnsureLoop();
        var pending = new DelegateWrite<T>(work, cancellationToken);
        if (!_queue.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(nameof(GroupCommitWriter));
        }

        return pending.Task;
    }

    /// <summary>
    /// Runs one statement that answers a result set (<paramref name="sql"/>, its parameters set by
    /// <paramref name="bind"/>, its result read by <paramref name="read"/>) in a group's transaction, and returns what
    /// <paramref name="read"/> made of it once that transaction has committed. Unlike a write of arbitrary work, a
    /// group sends all of its statement writes to the server together where the driver batches (PostgreSQL: one round
    /// trip for the group instead of one per write); elsewhere, and when a group falls back to savepoints, it runs as
    /// a command of its own. The statement must answer exactly one result set (an INSERT or UPDATE with RETURNING, or
    /// a data-modifying CTE ending in SELECT): a driver's batch reader skips statements that answer none, which would
    /// hand every later write of the batch the wrong rows. A group's statement writes run before its other writes;
    /// a caller awaits each of its writes before the next, so no two writes of one caller meet in a group.
    /// </summary>
    public Task<T> WriteAsync<T>(string sql, Action<StatementParameters> bind, Func<DbDataReader, T> read, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sql);
        ArgumentNullException.ThrowIfNull(bind);
        ArgumentNullException.ThrowIfNull(read);
        cancellationToken.ThrowIfCancellationRequested();
        EnsureLoop();
        var pending = new StatementWrite<T>(sql, bind, read, cancellationToken);
        if (!_queue.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(nameof(GroupCommitWriter));
        }

        return pending.Task;
    }

    /// <summary>Committed groups that sent two or more statement writes in one batch so far.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>
    /// Reads the database's clock with <paramref name="sql"/> on a connection of its own, outside every group (a
    /// group's queue would add its wait to the round trip the reading is corrected by).
    /// </summary>
    public async Task<DateTime> ReadClockAsync(string sql, CancellationToken cancellationToken)
    {
        await using var connection = _connections.Open();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        var value = await command.ExecuteScalarAsync(cancellationToken);
        return value is DateTime at ? at.ToUniversalTime() : throw new InvalidOperationException($"'{sql}' returned {value} instead of a time.");
    }

    public void Dispose()
    {
        _queue.Writer.TryComplete();
        if (_loops is { } loops)
        {
            Task.WaitAll(loops, TimeSpan.FromSeconds(10));
        }

        _connections.Dispose();
    }

    private void EnsureLoop()
    {
        if (_loops is not null)
        {
            return;
        }

        lock (_startLock)
        {
            // Dedicated threads, not the thread pool: the writes run the driver synchronously, and on PostgreSQL each
            // statement waits for a network round trip. On a pool thread that wait starved every other continuation
            // of a two-core host (the pool had two threads, one of them always blocked in the writer).
            _loops ??= Enumerable.Range(0, _writers).Select(i =>
            {
                var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                new Thread(() => WriterLoop(stopped)) { IsBackground = true, Name = $"OperationsHub writer {i + 1}" }.Start();
                return stopped.Task;
            }).ToArray();
        }
    }

    private void WriterLoop(TaskCompletionSource stopped)
    {
        var batch = new List<PendingWrite>(MaxBatch);
        WriteSession? session = null; // this loop's own connection, opened on its first write
        try
        {
            // Blocking is this thread's job: it exists only to write.
            while (_queue.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
            {
                // Take a place at the gate first, then the queue: whatever arrived while the gate was held joins this group.
                _gate.Wait();
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
                        session = CommitBatch(batch, session);
                    }
                }
                finally
                {
                    _gate.Release();
                }
            }
        }
        finally
        {
            session?.Dispose();
            while (_queue.Reader.TryRead(out var left))
            {
                left.Fail(new ObjectDisposedException(nameof(GroupCommitWriter)));
            }

            stopped.TrySetResult();
        }
    }

    /// <summary>Commits one group on <paramref name="session"/> (opened when null); returns the session to keep.</summary>
    private WriteSession? CommitBatch(List<PendingWrite> batch, WriteSession? session)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                session ??= new WriteSession(_connections.Open(), _connections);
                CommitGroup(batch, session);
                return session;
            }
            catch (Exception ex) when (attempt == 1 && batch.Count == 1 && _connections.ShouldRetry(ex) && session is { IsHealthy: true })
            {
                // A lone write lost a deadlock (its transaction was rolled back, nothing written): once more.
            }
            catch (Exception ex)
            {
                // BEGIN or COMMIT failed (a file locked by another process past the busy timeout, a full disk, a
                // dropped server connection), or a lone write failed: nothing of this batch was written, and every
                // write in it says so.
                foreach (var pending in batch)
                {
                    pending.Fail(ex);
                }

                if (session is { IsHealthy: false })
                {
                    session.Dispose();
                    session = null;
                }

                return session;
            }
        }
    }

    private void CommitGroup(List<PendingWrite> batch, WriteSession session)
    {
        if (batch.Count == 1)
        {
            CommitOnce(batch, session, savepoints: false); // a lone write's failure rolls back its transaction
            return;
        }

        try
        {
            CommitOnce(batch, session, savepoints: false);
        }
        catch (Exception ex) when (!_connections.BreaksTransaction(ex) && session.IsHealthy)
        {
            // Nobody has been answered yet: the plain pass completes its writes only after the commit.
            // One write failed and the whole group was rolled back: again, each write in a savepoint of its own.
            CommitOnce(batch, session, savepoints: true);
        }
    }

    private void CommitOnce(List<PendingWrite> batch, WriteSession session, bool savepoints)
    {
        using var tx = session.Begin();
        var batched = !savepoints && session.CanBatch && SendBatch(batch, session);
        foreach (var pending in batch)
        {
            if (savepoints)
            {
                RunInSavepoint(session, pending);
            }
            else if (!batched || !pending.Batchable)
            {
                pending.Run(session);
            }
        }

        session.Commit(tx);
        Interlocked.Increment(ref _commits);
        if (batched)
        {
            Interlocked.Increment(ref _batches);
        }

        var done = 0;
        foreach (var pending in batch)
        {
            if (pending.Complete())
            {
                done++;
            }
        }

        Interlocked.Add(ref _writes, done);
    }

    /// <summary>
    /// Sends the group's statement writes, when it has two or more, to the server as one batch and hands each its
    /// result set; returns whether it did (with fewer, the group's writes all run one by one). A failure of any of them
    /// throws here, like a failed write of the plain pass, and the group is written again with savepoints.
    /// </summary>
    private static bool SendBatch(List<PendingWrite> batch, WriteSession session)
    {
        var count = 0;
        foreach (var pending in batch)
        {
            if (pending.Batchable)
            {
                count++;
            }
        }

        if (count < 2)
        {
            return false;
        }

        using var dbBatch = session.CreateBatch();
        foreach (var pending in batch)
        {
            if (pending.Batchable)
            {
                pending.Stage(dbBatch);
            }
        }

        using var reader = dbBatch.ExecuteReader();
        var first = true;
        foreach (var pending in batch)
        {
            if (!pending.Batchable)
            {
                continue;
            }

            if (!first && !reader.NextResult())
            {
                throw new InvalidOperationException("A batched statement answered no result set.");
            }

            first = false;
            pending.ReadStaged(reader);
        }

        return true;
    }

    /// <summary>Runs one write of a group in a savepoint: its failure undoes only its own writes.</summary>
    private void RunInSavepoint(WriteSession session, PendingWrite pending)
    {
        for (var attempt = 1; ; attempt++)
        {
            session.Execute("SAVEPOINT w");
            try
            {
                pending.Run(session);
                session.Execute("RELEASE SAVEPOINT w");
                return;
            }
            catch (Exception ex) when (!_connections.BreaksTransaction(ex))
            {
                session.Execute("ROLLBACK TO SAVEPOINT w");
                session.Execute("RELEASE SAVEPOINT w");
                if (attempt == 1 && _connections.ShouldRetry(ex))
                {
                    continue; // lost a deadlock to another writer loop: once more, now that the other has gone on
                }

                pending.Fail(ex);
                return;
            }
        }
    }

    public readonly struct Releaser(GroupCommitWriter owner) : IDisposable
    {
        public void Dispose() => owner._gate.Release(owner._writers);
    }

    private abstract class PendingWrite
    {
        /// <summary>Whether this write is one statement a group may send in a batch with others.</summary>
        public virtual bool Batchable => false;

        public abstract bool TryDropIfCancelled();

        public abstract void Run(WriteSession session);

        /// <summary>Adds this write's statement to <paramref name="batch"/> (a batchable write only).</summary>
        public virtual void Stage(DbBatch batch) => throw new NotSupportedException();

        /// <summary>Reads this write's result set, where <paramref name="reader"/> stands (a batchable write only).</summary>
        public virtual void ReadStaged(DbDataReader reader) => throw new NotSupportedException();

        public abstract bool Complete();

        public abstract void Fail(Exception exception);
    }

    private abstract class PendingWrite<T>(CancellationToken cancellationToken) : PendingWrite
    {
        private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private bool _failed;

        public Task<T> Task => _completion.Task;

        protected T Result { get; set; } = default!;

        public override bool TryDropIfCancelled()
        {
            if (!cancellationToken.IsCancellationRequested)
            {
                return false;
            }

            _completion.TrySetCanceled(cancellationToken);
            return true;
        }

        public override bool Complete() => !_failed && _completion.TrySetResult(Result);

        public override void Fail(Exception exception)
        {
            _failed = true;
            _completion.TrySetException(exception);
        }
    }

    private sealed class DelegateWrite<T>(Func<WriteSession, T> work, CancellationToken cancellationToken)
        : PendingWrite<T>(cancellationToken)
    {
        public override void Run(WriteSession session) => Result = work(session);
    }

    private sealed class StatementWrite<T>(
        string sql, Action<StatementParameters> bind, Func<DbDataReader, T> read, CancellationToken cancellationToken)
        : PendingWrite<T>(cancellationToken)
    {
        public override bool Batchable => true;

        public override void Run(WriteSession session)
        {
            var command = session.Command(sql);
            bind(new StatementParameters(command));
            using var reader = command.ExecuteReader();
            Result = read(reader);
        }

        public override void Stage(DbBatch batch)
        {
            var command = batch.CreateBatchCommand();
            command.CommandText = sql;
            bind(new StatementParameters(command));
            batch.BatchCommands.Add(command);
        }

        public override void ReadStaged(DbDataReader reader) => Result = read(reader);
    }
}

/// <summary>What a provider tells the <see cref="GroupCommitWriter"/> about its driver.</summary>
public abstract class WriterConnectionFactory : IDisposable
{
    /// <summary>Opens the writer connection with its per-connection settings applied.</summary>
    public abstract DbConnection Open();

    /// <summary>Begins a write transaction (SQLite: IMMEDIATE, so it never fails half-way to take the write lock).</summary>
    public virtual DbTransaction Begin(DbConnection connection) => connection.BeginTransaction();

    /// <summary>Whether a failed write leaves the transaction unusable (disk full, I/O error, connection lost).</summary>
    public abstract bool BreaksTransaction(Exception exception);

    /// <summary>Whether a write that failed this way is worth running once more at once (a lost deadlock).</summary>
    public virtual bool ShouldRetry(Exception exception) => false;

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases what the factory holds (a pool of its own).</summary>
    protected virtual void Dispose(bool disposing)
    {
    }
}

/// <summary>The writer connection as a write sees it: prepared commands in the current transaction.</summary>
public sealed class WriteSession : IDisposable
{
    private readonly DbConnection _connection;
    private readonly WriterConnectionFactory _factory;
    private readonly Dictionary<string, DbCommand> _commands = new(StringComparer.Ordinal);
    private DbTransaction? _transaction;

    internal WriteSession(DbConnection connection, WriterConnectionFactory factory)
    {
        _connection = connection;
        _factory = factory;
    }

    public bool IsHealthy => _connection.State == System.Data.ConnectionState.Open;

    internal DbTransaction Begin() => _transaction = _factory.Begin(_connection);

    internal void Commit(DbTransaction transaction)
    {
        transaction.Commit();
        _transaction = null;
    }

    public int Execute(string sql) => Command(sql).ExecuteNonQuery();

    /// <summary>Whether the driver sends several statements in one round trip (<see cref="DbBatch"/>).</summary>
    internal bool CanBatch => _connection.CanCreateBatch;

    internal DbBatch CreateBatch()
    {
        var batch = _connection.CreateBatch();
        batch.Transaction = _transaction;
        return batch;
    }

    /// <summary>
    /// The cached command for <paramref name="sql"/> in the current transaction. Its parameters are kept, and
    /// <see cref="DbCommandExtensions.With"/> sets their values: a driver that rewrites named placeholders (Npgsql)
    /// keeps the parameter objects it first saw, so clearing and re-adding them would bind stale values.
    /// Every statement therefore sets every one of its parameters on every use.
    /// </summary>
    public DbCommand Command(string sql)
    {
        if (!_commands.TryGetValue(sql, out var command))
        {
            command = _connection.CreateCommand();
            command.CommandText = sql;
            _commands.Add(sql, command);
        }

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

/// <summary>
/// A statement's parameters, whether it runs as a command of its own or as one command of a batch: set by name, added
/// on first use (a cached command keeps its parameter objects, see <see cref="WriteSession.Command"/>).
/// </summary>
public readonly struct StatementParameters
{
    // One of the two is set: the statement runs as a command of its own, or as a command of a batch. Both create
    // their driver's parameters; holding the command (not a delegate to it) keeps binding free of allocations.
    private readonly DbCommand? _command;
    private readonly DbBatchCommand? _batchCommand;

    public StatementParameters(DbCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        _command = command;
    }

    public StatementParameters(DbBatchCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        _batchCommand = command;
    }

    /// <summary>Sets parameter <paramref name="name"/> to <paramref name="value"/> (null: SQL NULL).</summary>
    public StatementParameters With(string name, object? value)
    {
        var parameters = _command?.Parameters ?? _batchCommand!.Parameters;
        if (parameters.Contains(name))
        {
            parameters[name].Value = value ?? DBNull.Value;
            return this;
        }

        var parameter = _command?.CreateParameter() ?? _batchCommand!.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value ?? DBNull.Value;
        parameters.Add(parameter);
        return this;
    }
}

/// <summary>Parameter binding over the ADO.NET base types, so statement code names no driver.</summary>
public static class DbCommandExtensions
{
    /// <summary>Sets parameter <paramref name="name"/> to <paramref name="value"/> (null: SQL NULL), adding it on first use.</summary>
    public static DbCommand With(this DbCommand command, string name, object? value)
    {
        ArgumentNullException.ThrowIfNull(command);
        _ = new StatementParameters(command).With(name, value);
        return command;
    }
}
