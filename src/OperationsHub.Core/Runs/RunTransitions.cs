using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Query;
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
    public DateTime UtcNow => time.GetUtcNow().UtcDateTime;

    /// <summary>Queued -> Running, taking a lease for <paramref name="owner"/>.</summary>
    public Task<RunAfterTransition?> TryClaimAsync(long runId, string owner, TimeSpan lease, CancellationToken ct)
    {
        var now = UtcNow;
        return TransitionAsync(
            runId,
            q => q.Where(r => r.Status == RunStatus.Queued),
            s => s.SetProperty(r => r.Status, RunStatus.Running)
                .SetProperty(r => r.StartedAt, now)
                .SetProperty(r => r.Attempt, r => r.Attempt + 1)
                .SetProperty(r => r.LeaseOwner, owner)
                .SetProperty(r => r.LeaseExpiresAt, now + lease)
                .SetProperty(r => r.UpdatedAt, now)
                .SetProperty(r => r.Version, r => r.Version + 1),
            row => (RunEventKinds.Started, $"Started (attempt {row.Attempt})."),
            notifyBody: null,
            now,
            ct);
    }

    /// <summary>Running -> Completed, only for the worker that holds the lease.</summary>
    public Task<RunAfterTransition?> TryCompleteAsync(
        long runId, string owner, RunOutcome outcome, RunCounts counts,
        IReadOnlyList<RunFailure> failures, int failureTotal, CancellationToken ct)
    {
        var now = UtcNow;
        var failuresJson = RunJson.SerializeFailures(failures);
        var message = RunTexts.CompletedEvent(outcome, counts, failures.Count > 0 ? failures[0] : null);
        return TransitionAsync(
            runId,
            q => q.Where(r => r.Status == RunStatus.Running && r.LeaseOwner == owner),
            s => s.SetProperty(r => r.Status, RunStatus.Completed)
                .SetProperty(r => r.Outcome, outcome)
                .SetProperty(r => r.CompletedAt, now)
                .SetProperty(r => r.TotalCount, counts.Total)
                .SetProperty(r => r.ProcessedCount, counts.Processed)
                .SetProperty(r => r.SucceededCount, counts.Succeeded)
                .SetProperty(r => r.FailedCount, counts.Failed)
                .SetProperty(r => r.SkippedCount, counts.Skipped)
                .SetProperty(r => r.FailuresJson, failuresJson)
                .SetProperty(r => r.FailureTotal, failureTotal)
                .SetProperty(r => r.LeaseOwner, (string?)null)
                .SetProperty(r => r.LeaseExpiresAt, (DateTime?)null)
                .SetProperty(r => r.UpdatedAt, now)
                .SetProperty(r => r.Version, r => r.Version + 1),
            _ => (RunEventKinds.Completed, message),
            // The person who started it learns why it failed without opening the run.
            notifyBody: row => failures.Count == 0
                ? RunTexts.CountsText(row.Counts)
                : $"{RunTexts.CountsText(row.Counts)} {failures[0].Code}: {Sanitizer.SanitizeText(failures[0].Message, 200)}",
            now,
            ct);
    }

    /// <summary>Queued -> Completed(Failed): dispatch failed, or nobody can run this type.</summary>
    public Task<RunAfterTransition?> TryFailQueuedAsync(long runId, RunFailure failure, CancellationToken ct) =>
        FailWithoutWorkAsync(runId, q => q.Where(r => r.Status == RunStatus.Queued), failure, ct);

    /// <summary>Running -> Completed(Failed, abandoned): the lease of <paramref name="deadOwner"/> expired.</summary>
    public Task<RunAfterTransition?> TryAbandonAsync(long runId, string deadOwner, RunFailure failure, CancellationToken ct)
    {
        var now = UtcNow;
        return FailWithoutWorkAsync(
            runId,
            q => q.Where(r => r.Status == RunStatus.Running && r.LeaseOwner == deadOwner && r.LeaseExpiresAt < now),
            failure,
            ct);
    }

    /// <summary>Running -> Queued: the lease of <paramref name="deadOwner"/> expired and the run may be retried.</summary>
    public Task<RunAfterTransition?> TryRequeueAsync(long runId, string deadOwner, int maxAttempts, CancellationToken ct)
    {
        var now = UtcNow;
        return TransitionAsync(
            runId,
            q => q.Where(r => r.Status == RunStatus.Running && r.LeaseOwner == deadOwner && r.LeaseExpiresAt < now
                && r.Attempt < maxAttempts),
            s => s.SetProperty(r => r.Status, RunStatus.Queued)
                .SetProperty(r => r.LeaseOwner, (string?)null)
                .SetProperty(r => r.LeaseExpiresAt, (DateTime?)null)
                .SetProperty(r => r.UpdatedAt, now)
                .SetProperty(r => r.Version, r => r.Version + 1),
            row => (RunEventKinds.Requeued,
                $"The worker stopped renewing its lease; queued again for attempt {row.Attempt + 1} of {maxAttempts}."),
            notifyBody: null,
            now,
            ct);
    }

    /// <summary>Queued -> Completed(Cancelled).</summary>
    public Task<RunAfterTransition?> TryCancelQueuedAsync(long runId, string requestedBy, CancellationToken ct)
    {
        var now = UtcNow;
        return TransitionAsync(
            runId,
            q => q.Where(r => r.Status == RunStatus.Queued),
            s => s.SetProperty(r => r.Status, RunStatus.Completed)
                .SetProperty(r => r.Outcome, RunOutcome.Cancelled)
                .SetProperty(r => r.CancelRequestedAt, now)
                .SetProperty(r => r.CompletedAt, now)
                .SetProperty(r => r.UpdatedAt, now)
                .SetProperty(r => r.Version, r => r.Version + 1),
            _ => (RunEventKinds.Completed, $"Cancelled by {requestedBy} before it started."),
            notifyBody: _ => $"Cancelled by {requestedBy} before it started.",
            now,
            ct);
    }

    /// <summary>Marks a running run for cancellation; its worker observes it at the next heartbeat.</summary>
    public Task<RunAfterTransition?> TryRequestCancelAsync(long runId, string requestedBy, CancellationToken ct)
    {
        var now = UtcNow;
        return TransitionAsync(
            runId,
            q => q.Where(r => r.Status == RunStatus.Running && r.CancelRequestedAt == null),
            s => s.SetProperty(r => r.CancelRequestedAt, now)
                .SetProperty(r => r.UpdatedAt, now)
                .SetProperty(r => r.Version, r => r.Version + 1),
            _ => (RunEventKinds.CancelRequested, $"Cancellation requested by {requestedBy}."),
            notifyBody: null,
            now,
            ct);
    }

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
        long runId, Func<IQueryable<OperationRun>, IQueryable<OperationRun>> condition, RunFailure failure, CancellationToken ct)
    {
        var now = UtcNow;
        var failuresJson = RunJson.SerializeFailures([failure]);
        return TransitionAsync(
            runId,
            condition,
            s => s.SetProperty(r => r.Status, RunStatus.Completed)
                .SetProperty(r => r.Outcome, RunOutcome.Failed)
                .SetProperty(r => r.CompletedAt, now)
                .SetProperty(r => r.FailuresJson, failuresJson)
                .SetProperty(r => r.FailureTotal, r => r.FailureTotal + 1)
                .SetProperty(r => r.LeaseOwner, (string?)null)
                .SetProperty(r => r.LeaseExpiresAt, (DateTime?)null)
                .SetProperty(r => r.UpdatedAt, now)
                .SetProperty(r => r.Version, r => r.Version + 1),
            _ => (RunEventKinds.Completed, $"Completed: failed. {failure.Code}: {failure.Message}"),
            notifyBody: _ => $"{failure.Code}: {failure.Message}",
            now,
            ct);
    }

    private async Task<RunAfterTransition?> TransitionAsync(
        long runId,
        Func<IQueryable<OperationRun>, IQueryable<OperationRun>> condition,
        Action<UpdateSettersBuilder<OperationRun>> setters,
        Func<RunAfterTransition, (string Kind, string Message)> describe,
        Func<RunAfterTransition, string>? notifyBody,
        DateTime now,
        CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        // The whole transition is one transaction; a savepoint around the event insert would only add statements.
        db.Database.AutoSavepointsEnabled = false;
        RunAfterTransition row;
        using (await writeGate.EnterAsync(ct))
        {
            await using var tx = await db.Database.BeginTransactionAsync(ct);
            var rows = await condition(db.Runs.Where(r => r.Id == runId)).ExecuteUpdateAsync(setters, ct);
            if (rows == 0)
            {
                return null;
            }

            row = await db.Runs.AsNoTracking()
                .Where(r => r.Id == runId)
                .Select(r => new RunAfterTransition(
                    r.Id, r.TenantId, r.Type, r.InitiatorUserId, r.Status, r.Outcome, r.Attempt, r.Version,
                    r.CreatedAt, r.StartedAt, r.ContextJson,
                    new RunCounts(r.TotalCount, r.ProcessedCount, r.SucceededCount, r.FailedCount, r.SkippedCount)))
                .SingleAsync(ct);

            var (kind, message) = describe(row);
            db.RunEvents.Add(new OperationRunEvent { RunId = runId, Kind = kind, Message = message, At = now });
            if (notifyBody is not null && row.InitiatorUserId is { } userId)
            {
                db.Notifications.Add(CompletedNotification(row, userId, notifyBody(row), now));
            }

            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
        }

        feed.Publish(new RunChanged(row.RunId, row.TenantId, row.InitiatorUserId, row.Version));
        return row;
    }

    private UserNotification CompletedNotification(RunAfterTransition row, long userId, string body, DateTime now) => new()
    {
        UserId = userId,
        TenantId = row.TenantId,
        RunId = row.RunId,
        Kind = NotificationKinds.Completed,
        Outcome = row.Outcome,
        Title = RunTexts.CompletedTitle(registry.DisplayNameOf(row.Type), row.Outcome),
        Body = body,
        CreatedAt = now,
    };
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
