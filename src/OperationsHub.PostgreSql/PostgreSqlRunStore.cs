using System.Data.Common;
using Microsoft.Extensions.Options;
using Npgsql;
using OperationsHub.Core.Data;
using OperationsHub.Core.Storage;

namespace OperationsHub.PostgreSql;

/// <summary>
/// The run store on PostgreSQL. PostgreSQL aborts the whole transaction on a unique violation, so dedupe is an
/// <c>INSERT ... ON CONFLICT ... DO NOTHING RETURNING id</c> against the active-identity index: no row back means an
/// active run of that identity exists, and the transaction (and the group commit it shares) goes on unharmed.
/// </summary>
public sealed class PostgreSqlRunStore : SqlRunStore
{
    public PostgreSqlRunStore(IOptions<DatabaseOptions> options)
        : base(new GroupCommitWriter(new PostgreSqlWriterConnections(options.Value.ConnectionString), options.Value.WriterConnections))
    {
    }

    protected override string InsertRunSql =>
        "INSERT INTO operation_runs (tenant_id, type, status, outcome, run_identity_hash, target, context_json,"
        + " total_count, processed_count, succeeded_count, failed_count, skipped_count, failure_total,"
        + " initiator_user_id, initiator_name, created_at, updated_at, attempt, version, retry_of_run_id, trace_parent)"
        + " VALUES (@tenant_id, @type, 'Queued', 'Pending', @hash, @target, @context, 0, 0, 0, 0, 0, 0,"
        + " @initiator_user_id, @initiator_name, @now, @now, 0, 1, @retry_of, @trace_parent)"
        + " ON CONFLICT (tenant_id, run_identity_hash) WHERE " + HubDbContext.ActiveRunFilter + " DO NOTHING RETURNING id";

    /// <summary>A data-modifying CTE: the event and the notification in one round trip.</summary>
    protected override string InsertEventAndNotificationSql =>
        "WITH e AS (INSERT INTO operation_run_events (run_id, kind, message, at) VALUES (@run_id, @event_kind, @message, @at))"
        + " INSERT INTO user_notifications (user_id, tenant_id, run_id, kind, outcome, title, body, created_at)"
        + " VALUES (@user_id, @tenant_id, @run_id, @kind, @outcome, @title, @body, @at)";

    /// <summary>
    /// The candidates are locked as they are picked, and rows another node's claim has locked are skipped, so claims
    /// on several nodes never wait for each other or take the same run. <c>ARRAY(...)</c> evaluates the locking
    /// subquery once, whatever plan the UPDATE gets.
    /// </summary>
    protected override string ClaimCandidates(string typeFilter) =>
        "id = ANY(ARRAY(" + QueuedIds(typeFilter, string.Empty) + " FOR UPDATE SKIP LOCKED))";

    /// <summary>
    /// Data-modifying CTEs: the run's write and its effects in one round trip. The effects insert only for a row the
    /// write returned, so a refused transition (or a deduped insert) still writes nothing.
    /// </summary>
    protected override string FuseEffects(string dmlReturning, bool withNotice) =>
        "WITH r AS (" + dmlReturning + "),"
        + " e AS (INSERT INTO operation_run_events (run_id, kind, message, at) SELECT id, @e_kind, @e_message, @e_at FROM r)"
        + (withNotice
            ? ", n AS (INSERT INTO user_notifications (user_id, tenant_id, run_id, kind, outcome, title, body, created_at)"
              + " SELECT @n_user, @n_tenant, id, @n_kind, @n_outcome, @n_title, @n_body, @e_at FROM r)"
            : string.Empty)
        + " SELECT * FROM r";

    /// <summary>A batch of notification-free effects (a claim's "started" events) as one insert of arrays.</summary>
    protected override void WriteEffectsBatch(WriteSession session, IReadOnlyList<(long RunId, RunEffects Effects)> items, DateTime at)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(items);
        if (items.Any(i => i.Effects.Notification is not null))
        {
            base.WriteEffectsBatch(session, items, at);
            return;
        }

        session.Command(
                "INSERT INTO operation_run_events (run_id, kind, message, at)"
                + " SELECT e.run_id, e.kind, e.message, @at FROM unnest(@ids, @kinds, @messages) AS e(run_id, kind, message)")
            .With("@ids", items.Select(i => i.RunId).ToArray())
            .With("@kinds", items.Select(i => i.Effects.EventKind).ToArray())
            .With("@messages", items.Select(i => i.Effects.EventMessage).ToArray())
            .With("@at", at)
            .ExecuteNonQuery();
    }

    /// <summary>The server's clock, read on a writer connection (a statement of its own, outside any group).</summary>
    public override Task<DateTime> ReadClockAsync(CancellationToken cancellationToken) =>
        Writer.ReadClockAsync("SELECT statement_timestamp()", cancellationToken);

    protected override string LockRowForShare => " FOR SHARE";

    protected override string InList(string column, string parameter) => $"{column} = ANY({parameter})";

    protected override object ListValue<T>(IReadOnlyList<T> values) => values.ToArray();

    /// <summary>A failover, too many connections, a serialization failure or deadlock, a timeout: try again.</summary>
    public override bool IsTransient(Exception exception) =>
        exception is NpgsqlException { IsTransient: true }
        || exception.InnerException is { } inner && IsTransient(inner);

    private sealed class PostgreSqlWriterConnections : WriterConnectionFactory
    {
        private readonly NpgsqlDataSource _dataSource;

        public PostgreSqlWriterConnections(string connectionString)
        {
            // The writer repeats a dozen statements: let Npgsql prepare them on the server after two uses.
            var builder = new NpgsqlConnectionStringBuilder(connectionString)
            {
                MaxAutoPrepare = 32,
                AutoPrepareMinUsages = 2,
                ApplicationName = "OperationsHub writer",
            };
            _dataSource = NpgsqlDataSource.Create(builder);
        }

        public override DbConnection Open() => _dataSource.OpenConnection();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _dataSource.Dispose();
            }
        }

        /// <summary>A deadlock between two writer loops, or a serialization failure: the server undid the statement.</summary>
        public override bool ShouldRetry(Exception exception) =>
            exception is PostgresException { SqlState: PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure };

        /// <summary>A statement error leaves the transaction usable after ROLLBACK TO SAVEPOINT; a lost connection does not.</summary>
        public override bool BreaksTransaction(Exception exception) => exception is NpgsqlException and not PostgresException;
    }
}
