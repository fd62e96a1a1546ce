using System.Data.Common;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Runs;
using OperationsHub.Core.Webhooks;

namespace OperationsHub.Core.Storage;

/// <summary>
/// The run store over ADO.NET, for relational providers: every transition is one <c>UPDATE ... RETURNING</c> (both
/// SQLite and PostgreSQL speak it) on the provider's <see cref="GroupCommitWriter"/>, followed by its event and
/// notification inserts in the same commit. Hand-written SQL on prepared statements: the lifecycle is the hot path
/// (three writes per run), and EF's per-call overhead was most of its cost. A provider supplies what differs: how a
/// run is inserted without aborting on a duplicate identity, how a list is bound, and which errors are transient.
/// </summary>
public abstract class SqlRunStore : IRunStore, IDisposable
{
    private const string Returning =
        " RETURNING id, tenant_id, type, initiator_user_id, status, outcome, attempt, version, created_at, started_at,"
        + " context_json, total_count, processed_count, succeeded_count, failed_count, skipped_count, trace_parent";

    private const string ClaimSet =
        "UPDATE operation_runs SET status = 'Running', started_at = @now, attempt = attempt + 1,"
        + " lease_owner = @owner, lease_expires_at = @lease, updated_at = @now, version = version + 1";

    private const string EndRun = "lease_owner = NULL, lease_expires_at = NULL, updated_at = @now, version = version + 1";

    private const string FailSet =
        "UPDATE operation_runs SET status = 'Completed', outcome = 'Failed', completed_at = @now, failures_json = @failures,"
        + " failure_total = failure_total + 1, " + EndRun;

    private const string ExpiredLease =
        " WHERE id = @id AND status = 'Running' AND lease_owner = @owner AND lease_expires_at < @now";

    private const string CompleteSql =
        "UPDATE operation_runs SET status = 'Completed', outcome = @outcome, completed_at = @now, total_count = @total,"
        + " processed_count = @processed, succeeded_count = @succeeded, failed_count = @failed, skipped_count = @skipped,"
        + " failures_json = @failures, failure_total = @failure_total, " + EndRun
        + " WHERE id = @id AND status = 'Running' AND lease_owner = @owner AND attempt = @attempt" + Returning;

    private const string FailQueuedSql = FailSet + " WHERE id = @id AND status = 'Queued'" + Returning;

    private const string AbandonSql = FailSet + ExpiredLease + Returning;

    private const string RequeueSql =
        "UPDATE operation_runs SET status = 'Queued', " + EndRun + ExpiredLease + " AND attempt < @max_attempts" + Returning;

    private const string CancelQueuedSql =
        "UPDATE operation_runs SET status = 'Completed', outcome = 'Cancelled', cancel_requested_at = @now,"
        + " completed_at = @now, updated_at = @now, version = version + 1"
        + " WHERE id = @id AND status = 'Queued'" + Returning;

    private const string RequestCancelSql =
        "UPDATE operation_runs SET cancel_requested_at = @now, updated_at = @now, version = version + 1"
        + " WHERE id = @id AND status = 'Running' AND cancel_requested_at IS NULL" + Returning;

    // A lease is its owner and the attempt its claim began (every claim increments it): fresh per claim, so a handler
    // of an earlier claim, even one on the same node, can renew or write nothing (fencing).
    private const string HeldLease = " WHERE id = @id AND status = 'Running' AND lease_owner = @owner AND attempt = @attempt";

    private const string RenewSql = "UPDATE operation_runs SET lease_expires_at = @lease" + HeldLease
        + " RETURNING cancel_requested_at, version";

    private const string ProgressSql =
        "UPDATE operation_runs SET lease_expires_at = @lease, total_count = @total, processed_count = @processed,"
        + " succeeded_count = @succeeded, failed_count = @failed, skipped_count = @skipped, updated_at = @now,"
        + " version = version + 1" + HeldLease + " RETURNING cancel_requested_at, version";

    private const string ProgressWithFailuresSql =
        "UPDATE operation_runs SET lease_expires_at = @lease, total_count = @total, processed_count = @processed,"
        + " succeeded_count = @succeeded, failed_count = @failed, skipped_count = @skipped, failures_json = @failures,"
        + " failure_total = @failure_total, updated_at = @now, version = version + 1" + HeldLease
        + " RETURNING cancel_requested_at, version";

    // Log lines go in multi-row statements of these sizes (a batch is split into them), so a batch of any length
    // costs a few statements and the session caches at most this many distinct ones.
    private static readonly int[] LogChunkSizes = [128, 32, 8, 1];

    private const string ReleaseSql = "UPDATE operation_runs SET lease_expires_at = @past" + HeldLease;

    private const string InsertEventSql =
        "INSERT INTO operation_run_events (run_id, kind, message, at) VALUES (@run_id, @kind, @message, @at)";

    private const string InsertNotificationSql =
        "INSERT INTO user_notifications (user_id, tenant_id, run_id, kind, outcome, title, body, created_at)"
        + " VALUES (@user_id, @tenant_id, @run_id, @kind, @outcome, @title, @body, @created_at)";

    private const string PruneCandidatesSql =
        "SELECT id, tenant_id, initiator_user_id FROM operation_runs"
        + " WHERE status = 'Completed' AND completed_at < @cutoff ORDER BY completed_at LIMIT @limit";

    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Sql, bool Notice), string?> _fused = new();
    private string? _claimSql;
    private string? _logFenceSql;
    private string? _claimBatchSql;
    private string[]? _pruneSql;

    protected SqlRunStore(GroupCommitWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        Writer = writer;
    }

    /// <summary>The one writer connection the lifecycle writes through.</summary>
    public GroupCommitWriter Writer { get; }

    /// <summary>
    /// The insert of a queued run, returning its id, with parameters @tenant_id, @type, @hash, @target, @context,
    /// @initiator_user_id, @initiator_name and @now. It must answer no row (or throw an error
    /// <see cref="IsActiveIdentityConflict"/> recognises, having written nothing) when the identity is active.
    /// </summary>
    protected abstract string InsertRunSql { get; }

    /// <summary>Whether the insert failed on the active-identity index (a driver that throws instead of skipping).</summary>
    protected virtual bool IsActiveIdentityConflict(Exception exception) => false;

    /// <summary>A predicate "<paramref name="column"/> is one of the list bound to <paramref name="parameter"/>".</summary>
    protected abstract string InList(string column, string parameter);

    /// <summary>The value to bind for a list used with <see cref="InList"/>.</summary>
    protected abstract object ListValue<T>(IReadOnlyList<T> values);

    public abstract bool IsTransient(Exception exception);

    /// <summary>An embedded database has no clock of its own: every process that opens it reads this machine's.</summary>
    public virtual Task<DateTime> ReadClockAsync(CancellationToken cancellationToken) => Task.FromResult(DateTime.UtcNow);

    public Task<long?> InsertQueuedAsync(NewRun run, RunEffects effects, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(effects);
        var fused = Fused(InsertRunSql, effects);
        if (fused is not null && effects.Hook is null)
        {
            // One statement writes the run and its effects: the group may send it in a batch with others.
            return Writer.WriteAsync(
                fused,
                p => BindFusedEffects(BindInsert(p, run), effects, run.Now),
                reader => reader.Read() && !reader.IsDBNull(0) ? reader.GetInt64(0) : (long?)null,
                cancellationToken);
        }

        return Writer.WriteAsync<long?>(session =>
        {
            var insert = session.Command(fused ?? InsertRunSql);
            var parameters = BindInsert(new StatementParameters(insert), run);
            if (fused is not null)
            {
                BindFusedEffects(parameters, effects, run.Now);
            }

            object? id;
            try
            {
                id = insert.ExecuteScalar();
            }
            catch (Exception ex) when (IsActiveIdentityConflict(ex))
            {
                return null; // the failed statement wrote nothing
            }

            if (id is null or DBNull)
            {
                return null;
            }

            var runId = Convert.ToInt64(id, System.Globalization.CultureInfo.InvariantCulture);
            if (fused is null)
            {
                WriteEffects(session, runId, effects, run.Now);
            }
            else
            {
                WriteHook(session, runId, effects.Hook, run.Now);
            }

            return runId;
        }, cancellationToken);
    }

    private static StatementParameters BindInsert(StatementParameters p, NewRun run) => p
        .With("@tenant_id", run.TenantId)
        .With("@type", run.Type)
        .With("@hash", run.IdentityHash)
        .With("@target", run.Target)
        .With("@context", run.ContextJson)
        .With("@initiator_user_id", run.InitiatorUserId)
        .With("@initiator_name", run.InitiatorName)
        .With("@retry_of", run.RetryOfRunId)
        .With("@trace_parent", run.TraceParent)
        .With("@now", run.Now);

    public Task<IReadOnlyList<RunRow>> ClaimAsync(RunClaim claim, Func<RunRow, RunEffects> effects, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(claim);
        ArgumentNullException.ThrowIfNull(effects);
        ArgumentOutOfRangeException.ThrowIfLessThan(claim.Limit, 1);
        // No second "status = 'Queued'" outside: the candidates are picked by this statement, on SQLite's one writer
        // or under PostgreSQL's row locks, so they are still queued; and a status predicate out here would tempt a
        // planner to scan every queued row instead of looking up the few ids by key.
        var sql = _claimBatchSql ??= ClaimSet + " WHERE " + ClaimCandidates(InList("type", "@types")) + Returning;
        return Writer.WriteAsync<IReadOnlyList<RunRow>>(session =>
        {
            var rows = new List<RunRow>(claim.Limit);
            using (var reader = session.Command(sql)
                .With("@owner", claim.Owner).With("@lease", claim.LeaseExpiresAt).With("@now", claim.Now)
                .With("@types", ListValue(claim.Types)).With("@limit", claim.Limit)
                .ExecuteReader())
            {
                while (reader.Read())
                {
                    rows.Add(ReadRow(reader));
                }
            }

            if (rows.Count == 0)
            {
                return rows;
            }

            rows.Sort((a, b) => a.RunId.CompareTo(b.RunId)); // RETURNING has no order: oldest first, as claimed
            WriteEffectsBatch(session, [.. rows.Select(r => (r.RunId, effects(r)))], claim.Now);
            return rows;
        }, cancellationToken);
    }

    public Task<RunRow?> ApplyAsync(RunTransition transition, Func<RunRow, RunEffects> effects, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(effects);
        return ApplyAsync(transition, null, effects, cancellationToken);
    }

    public Task<RunRow?> ApplyAsync(RunTransition transition, RunEffects effects, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(effects);
        return ApplyAsync(transition, effects, null, cancellationToken);
    }

    /// <summary>
    /// A transition with effects either <paramref name="known"/> before the write (then a provider may fuse them into
    /// the update) or <paramref name="computed"/> from the updated row.
    /// </summary>
    private Task<RunRow?> ApplyAsync(
        RunTransition transition, RunEffects? known, Func<RunRow, RunEffects>? computed, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(transition);
        var sql = TransitionSql(transition);
        var fusedSql = known is null ? null : Fused(sql, known);
        if (fusedSql is not null && known!.Hook is null)
        {
            // The transition and its effects in one statement: the group may send it in a batch with others.
            return Writer.WriteAsync(
                fusedSql,
                p => BindFusedEffects(BindTransition(p, transition), known, transition.Now),
                reader => reader.Read() ? ReadRow(reader) : null,
                cancellationToken);
        }

        return Writer.WriteAsync(session =>
        {
            var update = session.Command(fusedSql ?? sql);
            var parameters = BindTransition(new StatementParameters(update), transition);
            if (fusedSql is not null)
            {
                BindFusedEffects(parameters, known!, transition.Now);
            }

            RunRow row;
            using (var reader = update.ExecuteReader())
            {
                if (!reader.Read())
                {
                    return null; // the condition no longer holds: nothing was written
                }

                row = ReadRow(reader);
            }

            if (fusedSql is null)
            {
                WriteEffects(session, row.RunId, known ?? computed!(row), transition.Now);
            }
            else
            {
                WriteHook(session, row.RunId, known!.Hook, transition.Now);
            }

            return row;
        }, cancellationToken);
    }

    public Task<HeartbeatOutcome> HeartbeatAsync(Heartbeat heartbeat, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(heartbeat);
        var sql = heartbeat.Counts is null ? RenewSql : heartbeat.Failures is null ? ProgressSql : ProgressWithFailuresSql;
        return Writer.WriteAsync(
            sql,
            p =>
            {
                if (heartbeat.Counts is { } c)
                {
                    p.With("@total", c.Total).With("@processed", c.Processed).With("@succeeded", c.Succeeded)
                        .With("@failed", c.Failed).With("@skipped", c.Skipped).With("@now", heartbeat.Now);
                    if (heartbeat.Failures is { } f)
                    {
                        p.With("@failures", f.Json).With("@failure_total", f.Total);
                    }
                }

                p.With("@id", heartbeat.RunId).With("@owner", heartbeat.Owner).With("@attempt", heartbeat.Attempt)
                    .With("@lease", heartbeat.LeaseExpiresAt);
            },
            reader => reader.Read()
                ? new HeartbeatOutcome(true, !reader.IsDBNull(0), reader.GetInt32(1))
                : HeartbeatOutcome.Lost,
            cancellationToken);
    }

    public Task ReleaseLeaseAsync(long runId, string owner, int attempt, DateTime now, CancellationToken cancellationToken) =>
        Writer.WriteAsync(session => session.Command(ReleaseSql)
            .With("@id", runId).With("@owner", owner).With("@attempt", attempt).With("@past", now.AddTicks(-10)).ExecuteNonQuery(), cancellationToken);

    public Task<int> AppendLogAsync(long runId, string owner, int attempt, IReadOnlyList<LogEntry> lines, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lines);
        if (lines.Count == 0)
        {
            return Task.FromResult(0);
        }

        return Writer.WriteAsync(session =>
        {
            // Fenced as every write of a running run is; the row stays locked (where the provider can) until the commit,
            // so a requeue of the run lands after these lines or finds them refused, never between the check and them.
            if (session.Command(LogFenceSql).With("@id", runId).With("@owner", owner).With("@attempt", attempt).ExecuteScalar() is null)
            {
                return 0;
            }

            var next = 0;
            foreach (var size in LogChunkSizes)
            {
                while (lines.Count - next >= size)
                {
                    var command = session.Command(LogInsertSql(size)).With("@run_id", runId);
                    for (var i = 0; i < size; i++)
                    {
                        var line = lines[next + i];
                        var n = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                        command.With("@a" + n, line.At).With("@l" + n, line.Level.ToString()).With("@m" + n, line.Message);
                    }

                    command.ExecuteNonQuery();
                    next += size;
                }
            }

            return next;
        }, cancellationToken);
    }

    public Task AppendEventAsync(long runId, string kind, string message, DateTime at, CancellationToken cancellationToken) =>
        Writer.WriteAsync(session => session.Command(InsertEventSql)
            .With("@run_id", runId).With("@kind", kind).With("@message", message).With("@at", at).ExecuteNonQuery(), cancellationToken);

    private string LogFenceSql => _logFenceSql ??= "SELECT 1 FROM operation_runs" + HeldLease + LockRowForShare;

    /// <summary>
    /// What a provider appends to a one-row SELECT to keep that row from changing until the commit (PostgreSQL:
    /// <c>FOR SHARE</c>); nothing where one writer at a time already serialises every write (SQLite).
    /// </summary>
    protected virtual string LockRowForShare => "";

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, string> LogInsertStatements = new();

    private static string LogInsertSql(int rows) => LogInsertStatements.GetOrAdd(rows, count =>
    {
        var sql = new System.Text.StringBuilder("INSERT INTO run_log_lines (run_id, at, level, message) VALUES ");
        for (var i = 0; i < count; i++)
        {
            sql.Append(i == 0 ? "" : ", ").Append(System.Globalization.CultureInfo.InvariantCulture, $"(@run_id, @a{i}, @l{i}, @m{i})");
        }

        return sql.ToString();
    });

    public Task<IReadOnlyList<PrunedRun>> PruneAsync(DateTime cutoff, int batchSize, CancellationToken cancellationToken)
    {
        var statements = _pruneSql ??=
        [
            "DELETE FROM operation_run_events WHERE " + InList("run_id", "@ids"),
            "DELETE FROM run_log_lines WHERE " + InList("run_id", "@ids"),
            "DELETE FROM user_notifications WHERE " + InList("run_id", "@ids"),
            "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE " + InList("run_id", "@ids") + ")",
            "DELETE FROM webhook_deliveries WHERE " + InList("run_id", "@ids"),
            "DELETE FROM operation_runs WHERE status = 'Completed' AND " + InList("id", "@ids"),
        ];
        return Writer.WriteAsync<IReadOnlyList<PrunedRun>>(session =>
        {
            var pruned = new List<PrunedRun>(batchSize);
            using (var reader = session.Command(PruneCandidatesSql).With("@cutoff", cutoff).With("@limit", batchSize).ExecuteReader())
            {
                while (reader.Read())
                {
                    pruned.Add(new PrunedRun(reader.GetInt64(0), reader.GetInt64(1), reader.IsDBNull(2) ? null : reader.GetInt64(2)));
                }
            }

            if (pruned.Count > 0)
            {
                var ids = ListValue(pruned.Select(p => p.RunId).ToList());
                foreach (var sql in statements)
                {
                    session.Command(sql).With("@ids", ids).ExecuteNonQuery();
                }
            }

            return pruned;
        }, cancellationToken);
    }

    public void Dispose()
    {
        Writer.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>The transition's conditional UPDATE ... RETURNING.</summary>
    private string TransitionSql(RunTransition transition) => transition switch
    {
        RunTransition.Claim => _claimSql ??=
            ClaimSet + " WHERE id = @id AND status = 'Queued' AND " + InList("type", "@types") + Returning,
        RunTransition.Complete => CompleteSql,
        RunTransition.FailQueued => FailQueuedSql,
        RunTransition.Abandon => AbandonSql,
        RunTransition.Requeue => RequeueSql,
        RunTransition.CancelQueued => CancelQueuedSql,
        RunTransition.RequestCancel => RequestCancelSql,
        _ => throw new ArgumentOutOfRangeException(nameof(transition), transition.GetType().Name, "Unknown transition."),
    };

    /// <summary>Binds the parameters of <see cref="TransitionSql"/> for <paramref name="transition"/>.</summary>
    private StatementParameters BindTransition(StatementParameters p, RunTransition transition)
    {
        _ = transition switch
        {
            RunTransition.Claim t => p
                .With("@owner", t.Owner).With("@lease", t.LeaseExpiresAt).With("@types", ListValue(t.Types)),
            RunTransition.Complete t => p
                .With("@owner", t.Owner).With("@attempt", t.Attempt).With("@outcome", t.Outcome.ToString())
                .With("@total", t.Counts.Total).With("@processed", t.Counts.Processed)
                .With("@succeeded", t.Counts.Succeeded).With("@failed", t.Counts.Failed).With("@skipped", t.Counts.Skipped)
                .With("@failures", t.FailuresJson).With("@failure_total", t.FailureTotal),
            RunTransition.FailQueued t => p.With("@failures", t.FailuresJson),
            RunTransition.Abandon t => p.With("@failures", t.FailuresJson).With("@owner", t.Owner),
            RunTransition.Requeue t => p.With("@owner", t.Owner).With("@max_attempts", t.MaxAttempts),
            _ => p,
        };
        return p.With("@id", transition.RunId).With("@now", transition.Now);
    }

    /// <summary>
    /// The predicate that picks the rows a batch claim takes: the ids of at most @limit queued runs whose type
    /// matches <paramref name="typeFilter"/>, oldest first, read through the partial index on queued ids
    /// (<c>ix_operation_runs_queue</c>) so a claim costs what it takes, not the length of the backlog. A database
    /// with concurrent writers must also lock what it takes and skip what another claim holds.
    /// </summary>
    protected virtual string ClaimCandidates(string typeFilter) => "id IN (" + QueuedIds(typeFilter, string.Empty) + ")";

    /// <summary>The oldest queued ids for <see cref="ClaimCandidates"/>, with a provider's table hint after the table name.</summary>
    protected static string QueuedIds(string typeFilter, string tableHint) =>
        "SELECT id FROM operation_runs" + tableHint + " WHERE status = 'Queued' AND " + typeFilter + " ORDER BY id LIMIT @limit";

    /// <summary>
    /// One statement that runs <paramref name="dmlReturning"/> (an INSERT or UPDATE with RETURNING) and, for each row
    /// it returned, inserts a timeline event (parameters @e_kind, @e_message, @e_at) and, when
    /// <paramref name="withNotice"/>, a notification (@n_user, @n_tenant, @n_kind, @n_outcome, @n_title, @n_body),
    /// answering the RETURNING columns; or null where the database cannot, and the effects are separate statements.
    /// </summary>
    protected virtual string? FuseEffects(string dmlReturning, bool withNotice) => null;

    /// <summary>Writes several rows' effects in one commit; a provider may do it in fewer statements.</summary>
    protected virtual void WriteEffectsBatch(WriteSession session, IReadOnlyList<(long RunId, RunEffects Effects)> items, DateTime at)
    {
        ArgumentNullException.ThrowIfNull(items);
        foreach (var (runId, effects) in items)
        {
            WriteEffects(session, runId, effects, at);
        }
    }

    private string? Fused(string sql, RunEffects effects) =>
        _fused.GetOrAdd((sql, effects.Notification is not null), key => FuseEffects(key.Sql, key.Notice));

    private static void BindFusedEffects(StatementParameters p, RunEffects effects, DateTime at)
    {
        p.With("@e_kind", effects.EventKind).With("@e_message", effects.EventMessage).With("@e_at", at);
        if (effects.Notification is { } n)
        {
            p.With("@n_user", n.UserId).With("@n_tenant", n.TenantId).With("@n_kind", n.Kind)
                .With("@n_outcome", n.Outcome.ToString()).With("@n_title", n.Title).With("@n_body", n.Body);
        }
    }

    /// <summary>
    /// One statement that inserts a timeline event and a notification together (parameters of both inserts, the
    /// event's kind as @event_kind), or null where the database cannot: then they are two statements.
    /// </summary>
    protected virtual string? InsertEventAndNotificationSql => null;

    /// <summary>
    /// The outbox: one pending delivery per endpoint of the tenant that is on, hears this event, and whose type and
    /// (for completions) outcome filters match. Filters are stored as <c>,a,b,</c>; LIKE with an escape keeps a
    /// type's underscore literal.
    /// </summary>
    private const string InsertDeliveriesSql =
        "INSERT INTO webhook_deliveries (endpoint_id, tenant_id, run_id, event, payload_json, status, attempts, next_attempt_at, created_at)"
        + " SELECT id, tenant_id, @w_run, @w_event, @w_payload, 'Pending', 0, @w_at, @w_at FROM webhook_endpoints"
        + " WHERE tenant_id = @w_tenant AND disabled_at IS NULL AND (events & @w_bit) <> 0"
        + " AND (type_filter IS NULL OR type_filter LIKE @w_type ESCAPE '\\')"
        + " AND (@w_bit = 1 OR outcome_filter IS NULL OR outcome_filter LIKE @w_outcome ESCAPE '\\')";

    /// <summary>Writes the outbox rows of <paramref name="hook"/>, when the write raised one.</summary>
    private static void WriteHook(WriteSession session, long runId, RunHook? hook, DateTime at)
    {
        if (hook is null)
        {
            return;
        }

        session.Command(InsertDeliveriesSql)
            .With("@w_run", runId).With("@w_tenant", hook.TenantId).With("@w_bit", (int)hook.Event)
            .With("@w_event", WebhookEventNames.Of(hook.Event)).With("@w_payload", hook.PayloadJson).With("@w_at", at)
            .With("@w_type", "%," + LikeLiteral(hook.Type) + ",%").With("@w_outcome", "%," + hook.Outcome + ",%")
            .ExecuteNonQuery();
    }

    private static string LikeLiteral(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal)
            .Replace("_", "\\_", StringComparison.Ordinal);

    /// <summary>Writes a run's timeline event, its notification when it has one, and its webhook outbox rows.</summary>
    protected void WriteEffects(WriteSession session, long runId, RunEffects effects, DateTime at)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(effects);
        WriteHook(session, runId, effects.Hook, at);
        if (effects.Notification is { } n && InsertEventAndNotificationSql is { } both)
        {
            session.Command(both)
                .With("@run_id", runId).With("@event_kind", effects.EventKind).With("@message", effects.EventMessage).With("@at", at)
                .With("@user_id", n.UserId).With("@tenant_id", n.TenantId).With("@kind", n.Kind)
                .With("@outcome", n.Outcome.ToString()).With("@title", n.Title).With("@body", n.Body)
                .ExecuteNonQuery();
            return;
        }

        session.Command(InsertEventSql)
            .With("@run_id", runId).With("@kind", effects.EventKind).With("@message", effects.EventMessage).With("@at", at)
            .ExecuteNonQuery();
        if (effects.Notification is { } notice)
        {
            session.Command(InsertNotificationSql)
                .With("@user_id", notice.UserId).With("@tenant_id", notice.TenantId).With("@run_id", runId).With("@kind", notice.Kind)
                .With("@outcome", notice.Outcome.ToString()).With("@title", notice.Title).With("@body", notice.Body).With("@created_at", at)
                .ExecuteNonQuery();
        }
    }

    private static RunRow ReadRow(DbDataReader r) => new(
        r.GetInt64(0),
        r.GetInt64(1),
        r.GetString(2),
        r.IsDBNull(3) ? null : r.GetInt64(3),
        Enum.Parse<RunStatus>(r.GetString(4)),
        Enum.Parse<RunOutcome>(r.GetString(5)),
        r.GetInt32(6),
        r.GetInt32(7),
        Utc(r.GetDateTime(8)),
        r.IsDBNull(9) ? null : Utc(r.GetDateTime(9)),
        r.GetString(10),
        new RunCounts(r.GetInt32(11), r.GetInt32(12), r.GetInt32(13), r.GetInt32(14), r.GetInt32(15)),
        r.IsDBNull(16) ? null : r.GetString(16));

    private static DateTime Utc(DateTime value) => DateTime.SpecifyKind(value, DateTimeKind.Utc);
}
