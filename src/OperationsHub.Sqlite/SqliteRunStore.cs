using System.Data.Common;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using OperationsHub.Core.Data;
using OperationsHub.Core.Storage;

namespace OperationsHub.Sqlite;

/// <summary>
/// The run store on SQLite: every lifecycle write on one connection with group commit (SQLite admits one writer at a
/// time; queuing writers here instead of letting them collide in the busy handler keeps throughput). Dedupe relies on
/// SQLite undoing only the failed statement on a unique violation, so the insert simply tries.
/// </summary>
public sealed class SqliteRunStore(IOptions<DatabaseOptions> options)
    : SqlRunStore(new GroupCommitWriter(new SqliteWriterConnections(options.Value.ConnectionString)))
{
    private const int SqliteBusy = 5;
    private const int SqliteLocked = 6;
    private const int SqliteConstraintUnique = 2067;

    protected override string InsertRunSql =>
        "INSERT INTO operation_runs (tenant_id, type, status, outcome, run_identity_hash, target, context_json,"
        + " total_count, processed_count, succeeded_count, failed_count, skipped_count, failure_total,"
        + " initiator_user_id, initiator_name, created_at, updated_at, attempt, version, retry_of_run_id, trace_parent)"
        + " VALUES (@tenant_id, @type, 'Queued', 'Pending', @hash, @target, @context, 0, 0, 0, 0, 0, 0,"
        + " @initiator_user_id, @initiator_name, @now, @now, 0, 1, @retry_of, @trace_parent) RETURNING id";

    protected override bool IsActiveIdentityConflict(Exception exception) =>
        exception is SqliteException { SqliteExtendedErrorCode: SqliteConstraintUnique };

    /// <summary>
    /// SQLite's planner, without statistics, reads the queued rows through the status index and sorts them all; the
    /// partial index on queued ids yields the oldest first and stops at the limit.
    /// </summary>
    protected override string ClaimCandidates(string typeFilter) =>
        "id IN (" + QueuedIds(typeFilter, " INDEXED BY ix_operation_runs_queue") + ")";

    protected override string InList(string column, string parameter) => $"{column} IN (SELECT value FROM json_each({parameter}))";

    protected override object ListValue<T>(IReadOnlyList<T> values) => JsonSerializer.Serialize(values);

    /// <summary>The file is busy or locked by another writer past the busy timeout.</summary>
    public override bool IsTransient(Exception exception) =>
        exception is SqliteException { SqliteErrorCode: SqliteBusy or SqliteLocked }
        || exception.InnerException is { } inner && IsTransient(inner);

    private sealed class SqliteWriterConnections(string connectionString) : WriterConnectionFactory
    {
        private const int SqliteIoError = 10;
        private const int SqliteFull = 13;
        private readonly string _connectionString = SqliteStorageProvider.PrepareConnectionString(connectionString);

        public override DbConnection Open()
        {
            var connection = new SqliteConnection(_connectionString);
            connection.Open();
            using var pragmas = connection.CreateCommand();
            pragmas.CommandText = SqlitePragmaInterceptor.Pragmas;
            pragmas.ExecuteNonQuery();
            return connection;
        }

        /// <summary>BEGIN IMMEDIATE: the write lock is taken up front, so a transaction never fails half-way to upgrade.</summary>
        public override DbTransaction Begin(DbConnection connection) => ((SqliteConnection)connection).BeginTransaction(deferred: false);

        public override bool BreaksTransaction(Exception exception) =>
            exception is SqliteException { SqliteErrorCode: SqliteFull or SqliteIoError };
    }
}
