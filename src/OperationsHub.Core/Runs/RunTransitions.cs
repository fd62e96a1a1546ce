using Microsoft.EntityFrameworkCore;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Feed;
using OperationsHub.Core.Operations;
using OperationsHub.Core.Sanitization;

namespace OperationsHub.Core.Runs;

/// <summary>
/// The state machine. Every transition is one conditional UPDATE (<c>WHERE id = @id AND status = @expected ...</c>)
/// committed together with its timeline event and, where due, the initiator's notification; the change is published
/// only after the commit. A transition whose condition no longer holds changes nothing and returns false.
/// </summary>
internal sealed class RunTransitions(
    IDbContextFactory<HubDbContext> dbFactory,
    WriteGate writeGate,
    IRunChangeFeed feed,
    OperationTypeRegistry registry,
    TimeProvider time)
{
    // Every transition: one UPDATE ... RETURNING on the shared writer connection, then its timeline event and, where
    // due, the initiator's notification, committed together (see WriteGate for how transitions share a commit). Hand-written SQL on prepared statements: the
    // run lifecycle is the hot path (three of these per run), and EF's per-call overhead was most of its cost.
    private const string Returning =
        " RETURNING id, tenant_id, type, initiator_user_id, status, outcome, attempt, version, created_at, started_at,"
        + " context_json, total_count, processed_count, succeeded_count, failed_count, skipped_count";

    private const string EndRun =
        "lease_owner = NULL, lease_expires_at = NULL, updated_at = @now, version = version + 1";

    private const string ClaimSql =
        "UPDATE operation_runs SET status = 'Running', started_at = @now, attempt = attempt + 1, lease_owner = @owner,"
        + " lease_expires_at = @lease, updated_at = @now, version = version + 1"
        + " WHERE id = @id AND status = 'Queued' AND type IN (SELECT value FROM json_each(@types))" + Returning;

    private const string CompleteSql =
        "UPDATE operation_runs SET status = 'Completed', outcome = @outcome, completed_at = @now, total_count = @total,"
        + " processed_count = @processed, succeeded_count = @succeeded, failed_count = @failed, skipped_count = @skipped,"
        + " failures_json = @failures, failure_total = @failure_total, " + EndRun
        + " WHERE id = @id AND status = 'Running' AND lease_owner = @owner" + Returning;

    private const string FailSet =
        "UPDATE operation_runs SET status = 'Completed', outcome = 'Failed', completed_at = @now, failures_json = @failures,"
        + " failure_total = failure_total + 1, " + EndRun;

    private const string FailQueuedSql = FailSet + " WHERE id = @id AND status = 'Queued'" + Returning;

    private const string ExpiredLease =
        " WHERE id = @id AND status = 'Running' AND lease_owner = @owner AND lease_expires_at < @now";

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

    internal const string InsertEventSql =
        "INSERT INTO operation_run_events (run_id, kind, message, at) VALUES (@run_id, @kind, @message, @at)";

    internal const string InsertNotificationSql =
        "INSERT INTO user_notifications (user_id, tenant_id, run_id, kind, outcome, title, body, created_at)"
        + " VALUES (@user_id, @tenant_id, @run_id, @kind, @outcome, @title, @body, @created_at)";

    private string? _knownTypesJson;

    public DateTime UtcNow => time.GetUtcNow().UtcDateTime;

    /// <summary>
    /// Queued -> Running, taking a lease for <paramref name="owner"/>. Only a run of a registered type can be claimed;
    /// the caller looks at a refused claim to tell "someone else has it" from "nobody can run it".
    /// </summary>
    public Task<RunAfterTransition?> TryClaimAsync(long runId, string owner, TimeSpan lease, CancellationToken ct)
    {
        var now = UtcNow;
        var types = _knownTypesJson ??= JsonSerializer.Serialize(registry.All.Select(d => d.Type).ToArray());
        return TransitionAsync(
            ClaimSql,
            runId,
            now,
            p =>
            {
                p.AddWithValue("@owner", owner);
                p.AddWithValue("@lease", now + lease);
                p.AddWithValue("@types", types);
            },
            row => (RunEventKinds.Started, $"Started (attempt {row.Attempt})."),
            notifyBody: null,
            ct);
    }

    /// <summary>Running -> Completed, only for the worker that holds the lease.</summary>
    public Task<RunAfterTransition?> TryCompleteAsync(
        long runId, string owner, RunOutcome outcome, RunCounts counts,
        IReadOnlyList<RunFailure> failures, int failureTotal, CancellationToken ct)
    {
        var failuresJson = RunJson.SerializeFailures(failures);
        var message = RunTexts.CompletedEvent(outcome, counts, failures.Count > 0 ? failures[0] : null);
        return TransitionAsync(
            CompleteSql,
            runId,
            UtcNow,
            p =>
            {
                p.AddWithValue("@owner", owner);
                p.AddWithValue("@outcome", outcome.ToString());
                p.AddWithValue("@total", counts.Total);
                p.AddWithValue("@processed", counts.Processed);
                p.AddWithValue("@succeeded", counts.Succeeded);
                p.AddWithValue("@failed", counts.Failed);
                p.AddWithValue("@skipped", counts.Skipped);
                p.AddWithValue("@failures", (object?)failuresJson ?? DBNull.Value);
                p.AddWithValue("@failure_total", failureTotal);
            },
            _ => (RunEventKinds.Completed, message),
            // The person who started it learns why it failed without opening the run.
            notifyBody: row => failures.Count == 0
                ? RunTexts.CountsText(row.Counts)
                : $"{RunTexts.CountsText(row.Counts)} {failures[0].Code}: {Sanitizer.SanitizeText(failures[0].Message, 200)}",
            ct);
    }

    /// <summary>Queued -> Completed(Failed): dispatch failed, or nobody can run this type.</summary>
    public Task<RunAfterTransition?> TryFailQueuedAsync(long runId, RunFailure failure, CancellationToken ct) =>
        FailWithoutWorkAsync(FailQueuedSql, runId, owner: null, failure, ct);

    /// <summary>Running -> Completed(Failed, abandoned): the lease of <paramref name="deadOwner"/> expired.</summary>
    public Task<RunAfterTransition?> TryAbandonAsync(long runId, string deadOwner, RunFailure failure, CancellationToken ct) =>
        FailWithoutWorkAsync(AbandonSql, runId, deadOwner, failure, ct);

    /// <summary>Running -> Queued: the lease of <paramref name="deadOwner"/> expired and the run may be retried.</summary>
    public Task<RunAfterTransition?> TryRequeueAsync(long runId, string deadOwner, int maxAttempts, CancellationToken ct) =>
        TransitionAsync(
            RequeueSql,
            runId,
            UtcNow,
            p =>
            {
                p.AddWithValue("@owner", deadOwner);
                p.AddWithValue("@max_attempts", maxAttempts);
            },
            // The row comes back as it is after the update: its attempt is the one that just died.
            row => (RunEventKinds.Requeued,
                $"The worker stopped renewing its lease; queued again for attempt {row.Attempt + 1} of {maxAttempts}."),
            notifyBody: null,
            ct);

    /// <summary>Queued -> Completed(Cancelled).</summary>
    public Task<RunAfterTransition?> TryCancelQueuedAsync(long runId, string requestedBy, CancellationToken ct) =>
        TransitionAsync(
            CancelQueuedSql,
            runId,
            UtcNow,
            bind: null,
            _ => (RunEventKinds.Completed, $"Cancelled by {requestedBy} before it started."),
            notifyBody: _ => $"Cancelled by {requestedBy} before it started.",
            ct);

    /// <summary>Marks a running run for cancellation; its worker observes it at the next heartbeat.</summary>
    public Task<RunAfterTransition?> TryRequestCancelAsync(long runId, string requestedBy, CancellationToken ct) =>
        TransitionAsync(
            RequestCancelSql,
            runId,
            UtcNow,
            bind: null,
            _ => (RunEventKinds.CancelRequested, $"Cancellation requested by {requestedBy}."),
            notifyBody: null,
            ct);

    /// <summary>
    /// Renews the lease and, when given, writes progress. No timeline event: heartbeats are not transitions.
    /// </summary>
    public async Task<HeartbeatResult> HeartbeatAsync(
        RunAfterTransition run, string owner, TimeSpan lease, RunCounts? counts, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        using var gate = await writeGate.EnterAsync(ct);
        var now = UtcNow;
        var query = db.Runs.Where(r => r.Id == run.RunId && r.Status == RunStatus.Running && r.LeaseOwner == owner);
        int rows;
        if (counts is { } c)
        {
            rows = await query.ExecuteUpdateAsync(
                s => s.SetProperty(r => r.LeaseExpiresAt, now + lease)
                    .SetProperty(r => r.TotalCount, c.Total)
                    .SetProperty(r => r.ProcessedCount, c.Processed)
                    .SetProperty(r => r.SucceededCount, c.Succeeded)
                    .SetProperty(r => r.FailedCount, c.Failed)
                    .SetProperty(r => r.SkippedCount, c.Skipped)
                    .SetProperty(r => r.UpdatedAt, now)
                    .SetProperty(r => r.Version, r => r.Version + 1),
                ct);
        }
        else
        {
            rows = await query.ExecuteUpdateAsync(s => s.SetProperty(r => r.LeaseExpiresAt, now + lease), ct);
        }

        if (rows == 0)
        {
            return HeartbeatResult.LeaseLost;
        }

        var state = await db.Runs.AsNoTracking().Where(r => r.Id == run.RunId)
            .Select(r => new { r.CancelRequestedAt, r.Version }).SingleAsync(ct);
        if (counts is not null)
        {
            feed.Publish(new RunChanged(run.RunId, run.TenantId, run.InitiatorUserId, state.Version));
        }

        return state.CancelRequestedAt is null ? HeartbeatResult.Renewed : HeartbeatResult.CancelRequested;
    }

    /// <summary>Lets the lease run out now, so recovery acts at once when this worker stops gracefully mid-run.</summary>
    public async Task ReleaseLeaseAsync(long runId, string owner, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        using var gate = await writeGate.EnterAsync(ct);
        var now = UtcNow;
        await db.Runs.Where(r => r.Id == runId && r.Status == RunStatus.Running && r.LeaseOwner == owner)
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.LeaseExpiresAt, now.AddTicks(-1)), ct);
    }

    private Task<RunAfterTransition?> FailWithoutWorkAsync(
        string sql, long runId, string? owner, RunFailure failure, CancellationToken ct)
    {
        var failuresJson = RunJson.SerializeFailures([failure]);
        return TransitionAsync(
            sql,
            runId,
            UtcNow,
            p =>
            {
                p.AddWithValue("@failures", (object?)failuresJson ?? DBNull.Value);
                if (owner is not null)
                {
                    p.AddWithValue("@owner", owner);
                }
            },
            _ => (RunEventKinds.Completed, $"Completed: failed. {failure.Code}: {failure.Message}"),
            notifyBody: _ => $"{failure.Code}: {failure.Message}",
            ct);
    }

    private async Task<RunAfterTransition?> TransitionAsync(
        string sql,
        long runId,
        DateTime now,
        Action<SqliteParameterCollection>? bind,
        Func<RunAfterTransition, (string Kind, string Message)> describe,
        Func<RunAfterTransition, string>? notifyBody,
        CancellationToken ct)
    {
        var row = await writeGate.WriteAsync(writer =>
        {
            var update = writer.Command(sql);
            update.Parameters.AddWithValue("@id", runId);
            update.Parameters.AddWithValue("@now", now);
            bind?.Invoke(update.Parameters);
            RunAfterTransition after;
            using (var reader = update.ExecuteReader())
            {
                if (!reader.Read())
                {
                    return null; // the condition no longer holds: nothing was written
                }

                after = ReadRow(reader);
            }

            var (kind, message) = describe(after);
            InsertEvent(writer, runId, kind, message, now);
            if (notifyBody is not null && after.InitiatorUserId is { } userId)
            {
                InsertNotification(writer, userId, after.TenantId, runId, NotificationKinds.Completed, after.Outcome,
                    RunTexts.CompletedTitle(registry.DisplayNameOf(after.Type), after.Outcome), notifyBody(after), now);
            }

            return after;
        }, ct);

        if (row is not null)
        {
            feed.Publish(new RunChanged(row.RunId, row.TenantId, row.InitiatorUserId, row.Version));
        }

        return row;
    }

    internal static void InsertEvent(SqliteWriter writer, long runId, string kind, string message, DateTime at)
    {
        var command = writer.Command(InsertEventSql);
        command.Parameters.AddWithValue("@run_id", runId);
        command.Parameters.AddWithValue("@kind", kind);
        command.Parameters.AddWithValue("@message", message);
        command.Parameters.AddWithValue("@at", at);
        command.ExecuteNonQuery();
    }

    internal static void InsertNotification(
        SqliteWriter writer, long userId, long tenantId, long runId, string kind, RunOutcome outcome,
        string title, string body, DateTime at)
    {
        var command = writer.Command(InsertNotificationSql);
        command.Parameters.AddWithValue("@user_id", userId);
        command.Parameters.AddWithValue("@tenant_id", tenantId);
        command.Parameters.AddWithValue("@run_id", runId);
        command.Parameters.AddWithValue("@kind", kind);
        command.Parameters.AddWithValue("@outcome", outcome.ToString());
        command.Parameters.AddWithValue("@title", title);
        command.Parameters.AddWithValue("@body", body);
        command.Parameters.AddWithValue("@created_at", at);
        command.ExecuteNonQuery();
    }

    private static RunAfterTransition ReadRow(SqliteDataReader r) => new(
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
        new RunCounts(r.GetInt32(11), r.GetInt32(12), r.GetInt32(13), r.GetInt32(14), r.GetInt32(15)));

    private static DateTime Utc(DateTime value) => DateTime.SpecifyKind(value, DateTimeKind.Utc);

}
/// <summary>The run as it stands right after a transition committed.</summary>
internal sealed record RunAfterTransition(
    long RunId,
    long TenantId,
    string Type,
    long? InitiatorUserId,
    RunStatus Status,
    RunOutcome Outcome,
    int Attempt,
    int Version,
    DateTime CreatedAt,
    DateTime? StartedAt,
    string ContextJson,
    RunCounts Counts);

internal enum HeartbeatResult
{
    Renewed,
    CancelRequested,
    LeaseLost,
}
