using Microsoft.Extensions.Logging;
using OperationsHub.Core.Diagnostics;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Feed;
using OperationsHub.Core.Operations;
using OperationsHub.Core.Sanitization;
using OperationsHub.Core.Storage;
using OperationsHub.Core.Webhooks;

namespace OperationsHub.Core.Runs;

/// <summary>
/// The state machine, provider-neutral. Every transition is one conditional UPDATE in the store, committed together
/// with its timeline event and, where due, the initiator's notification. This class decides, each in one place, the
/// texts of events and notifications, whether a notification is due, the completion metric, and the publish after
/// the commit. A transition whose condition no longer holds changes nothing and returns null.
/// </summary>
internal sealed partial class RunTransitions(
    IRunStore store,
    IRunChangeFeed feed,
    OperationTypeRegistry registry,
    HubMetrics metrics,
    WebhookListeners webhooks,
    DatabaseClock clock,
    ILogger<RunTransitions> logger)
{
    /// <summary>Now on the database's clock: every lifecycle time (leases, created, started, completed) is on it.</summary>
    public DateTime UtcNow => clock.UtcNow;

    /// <summary>
    /// Inserts a queued run with its "created" event and the initiator's "queued" notification; null when an active
    /// run of the same identity exists (nothing written).
    /// </summary>
    public async Task<RunSummary?> TryInsertQueuedAsync(
        StartRunRequest request, OperationTypeDescriptor descriptor, string hash, RunContext context, string? traceParent,
        CancellationToken ct)
    {
        var now = UtcNow;
        var initiatorName = request.Initiator is null ? null : Sanitizer.SanitizeText(request.Initiator.DisplayName, 200);
        var by = initiatorName is null ? "by the system" : $"by {initiatorName}";
        var target = context.Target;
        var run = new NewRun(request.TenantId, request.Type, hash, target, RunJson.SerializeContext(context),
            request.Initiator?.UserId, initiatorName, now, request.RetryOfRunId, traceParent);
        var retryOf = request.RetryOfRunId is { } earlier
            ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $" as a retry of #{earlier}")
            : "";
        var id = await store.InsertQueuedAsync(run, new RunEffects(
            RunEventKinds.Created,
            $"Queued {by}{retryOf}.",
            request.Initiator is { } initiator
                ? new RunNotice(initiator.UserId, request.TenantId, NotificationKinds.Queued, RunOutcome.Pending,
                    RunTexts.QueuedTitle(descriptor.DisplayName), target is null ? "Queued." : $"Queued for {target}.")
                : null,
            webhooks.MayListen(request.TenantId)
                ? new RunHook(request.TenantId, WebhookEvents.Queued, request.Type, RunOutcome.Pending,
                    WebhookPayloads.Snapshot(request.Type, RunStatus.Queued, RunOutcome.Pending, default, now, null, null))
                : null), ct);
        if (id is not { } runId)
        {
            return null;
        }

        metrics.RunStarted(request.Type);
        feed.Publish(new RunChanged(runId, request.TenantId, request.Initiator?.UserId, 1));
        return new RunSummary(runId, request.TenantId, request.Type, RunStatus.Queued, RunOutcome.Pending, now, request.Initiator?.UserId);
    }

    /// <summary>
    /// Queued -> Running, taking a lease for <paramref name="owner"/>. Only a run of a registered type can be claimed;
    /// the caller looks at a refused claim to tell "someone else has it" from "nobody can run it".
    /// </summary>
    public async Task<RunRow?> TryClaimAsync(long runId, string owner, TimeSpan lease, CancellationToken ct)
    {
        var began = DateTimeOffset.UtcNow;
        var now = UtcNow;
        var row = await ApplyAsync(new RunTransition.Claim(runId, now, owner, now + lease, registry.Types), Started, ct);
        if (row is not null)
        {
            HubTracing.Claimed([row], owner, began);
        }

        return row;
    }

    /// <summary>
    /// Queued -> Running for up to <paramref name="limit"/> of the oldest queued runs of a registered type, each with a
    /// lease for <paramref name="owner"/>: how the worker takes work. Runs other workers are claiming are skipped.
    /// </summary>
    public async Task<IReadOnlyList<RunRow>> TryClaimBatchAsync(string owner, TimeSpan lease, int limit, CancellationToken ct)
    {
        var began = DateTimeOffset.UtcNow;
        var now = UtcNow;
        var rows = await store.ClaimAsync(new RunClaim(owner, now, now + lease, registry.Types, limit), Started, ct);
        foreach (var row in rows)
        {
            Committed(row);
        }

        HubTracing.Claimed(rows, owner, began);

        return rows;
    }

    /// <summary>
    /// Running -> Completed, only for the worker that holds the lease of <paramref name="claimed"/> (the row its claim
    /// returned, so the completion's event and notification are known before the write).
    /// </summary>
    public async Task<RunRow?> TryCompleteAsync(
        RunRow claimed, string owner, RunOutcome outcome, RunCounts counts,
        IReadOnlyList<RunFailure> failures, int failureTotal, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(claimed);
        var first = failures.Count > 0 ? failures[0] : null;
        var final = claimed with { Status = RunStatus.Completed, Outcome = outcome, Counts = counts };
        var effects = Terminal(final, RunTexts.CompletedEvent(outcome, counts, first),
            // The person who started it learns why it failed without opening the run.
            first is null
                ? RunTexts.CountsText(counts)
                : $"{RunTexts.CountsText(counts)} {first.Code}: {Sanitizer.SanitizeText(first.Message, 200)}");
        var row = await store.ApplyAsync(
            new RunTransition.Complete(claimed.RunId, UtcNow, owner, claimed.Attempt, outcome, counts, RunJson.SerializeFailures(failures), failureTotal),
            effects, ct);
        return Committed(row);
    }

    /// <summary>Queued -> Completed(Failed): nobody can run this type, or it could not be handed over.</summary>
    public Task<RunRow?> TryFailQueuedAsync(long runId, RunFailure failure, CancellationToken ct) =>
        ApplyAsync(new RunTransition.FailQueued(runId, UtcNow, RunJson.SerializeFailures([failure])), row => Failed(row, failure), ct);

    /// <summary>Queued -> Completed(Failed): no handler here knows the run's type, so nobody will run it.</summary>
    public async Task<RunRow?> TryFailUnknownTypeAsync(long runId, string type)
    {
        var clean = Sanitizer.SanitizeKey(type);
        var failed = await TryFailQueuedAsync(runId, new RunFailure(RunFailureCodes.UnknownOperationType,
            $"No handler is registered for the operation type '{clean}'."), CancellationToken.None);
        if (failed is not null)
        {
            LogUnknownType(logger, runId, clean);
        }

        return failed;
    }

    /// <summary>
    /// The one answer to a dispatch that threw: no run may sit in "Queued" for work nobody will do, so it is failed
    /// with <c>dispatch_failed</c> and a sanitized reason. Null when someone else moved it on meanwhile.
    /// </summary>
    public async Task<RunRow?> FailDispatchAsync(long runId, Exception exception)
    {
        var message = Sanitizer.SanitizeText($"The run could not be handed to the worker: {exception.Message}");
        LogDispatchFailed(logger, runId, message);
        return await TryFailQueuedAsync(runId, new RunFailure(RunFailureCodes.DispatchFailed, message), CancellationToken.None);
    }

    /// <summary>Running -> Completed(Failed, abandoned): the lease of <paramref name="deadOwner"/> expired.</summary>
    public Task<RunRow?> TryAbandonAsync(long runId, string deadOwner, RunFailure failure, CancellationToken ct) =>
        ApplyAsync(new RunTransition.Abandon(runId, UtcNow, deadOwner, RunJson.SerializeFailures([failure])), row => Failed(row, failure), ct);

    /// <summary>Running -> Queued: the lease of <paramref name="deadOwner"/> expired and the run may be retried.</summary>
    public Task<RunRow?> TryRequeueAsync(long runId, string deadOwner, int maxAttempts, CancellationToken ct) =>
        ApplyAsync(
            new RunTransition.Requeue(runId, UtcNow, deadOwner, maxAttempts),
            // The row comes back as it is after the update: its attempt is the one that just died.
            row => new RunEffects(RunEventKinds.Requeued,
                $"The worker stopped renewing its lease; queued again for attempt {row.Attempt + 1} of {maxAttempts}."),
            ct);

    /// <summary>Queued -> Completed(Cancelled), saying who cancelled it and why (both sanitized by the caller).</summary>
    public Task<RunRow?> TryCancelQueuedAsync(long runId, string requestedBy, string? reason, CancellationToken ct)
    {
        var text = $"Cancelled by {requestedBy} before it started.{RunTexts.Reason(reason)}";
        return ApplyAsync(new RunTransition.CancelQueued(runId, UtcNow), row => Terminal(row, text, text), ct);
    }

    /// <summary>Marks a running run for cancellation; its worker observes it at the next heartbeat.</summary>
    public Task<RunRow?> TryRequestCancelAsync(long runId, string requestedBy, string? reason, CancellationToken ct) =>
        ApplyAsync(
            new RunTransition.RequestCancel(runId, UtcNow),
            _ => new RunEffects(RunEventKinds.CancelRequested, $"Cancellation requested by {requestedBy}.{RunTexts.Reason(reason)}"),
            ct);

    /// <summary>
    /// Adds to a completed run's timeline that it was retried as <paramref name="retryId"/>, and signals the change so
    /// its open page links the retry at once.
    /// </summary>
    public async Task RecordRetriedAsync(RunSummary original, long retryId, string by, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(original);
        await store.AppendEventAsync(original.Id, RunEventKinds.Retried,
            string.Create(System.Globalization.CultureInfo.InvariantCulture, $"Retried as #{retryId} by {by}."), UtcNow, ct);
        feed.Publish(new RunChanged(original.Id, original.TenantId, original.InitiatorUserId, 0));
    }

    /// <summary>
    /// Writes log lines of a running run: each sanitized and bounded here, all in one commit; only while
    /// <paramref name="owner"/> holds the lease of <paramref name="run"/>'s claim (0 lines written otherwise).
    /// </summary>
    public Task<int> AppendLogAsync(RunRow run, string owner, IReadOnlyList<LogEntry> lines, CancellationToken ct)
    {
        var clean = new LogEntry[lines.Count];
        for (var i = 0; i < clean.Length; i++)
        {
            var line = lines[i];
            var message = Sanitizer.SanitizeText(line.Message, RunLogLine.MaxMessageLength);
            clean[i] = line with { Message = message.Length == 0 ? "(empty line)" : message };
        }

        return store.AppendLogAsync(run.RunId, owner, run.Attempt, clean, ct);
    }

    /// <summary>
    /// Renews the lease and, when given, writes progress (published: pages show it). No timeline event: heartbeats
    /// are not transitions.
    /// </summary>
    public async Task<HeartbeatResult> HeartbeatAsync(
        RunRow run, string owner, TimeSpan lease, RunCounts? counts, CancellationToken ct, FailuresSoFar? failures = null)
    {
        var now = UtcNow;
        var outcome = await store.HeartbeatAsync(new Heartbeat(run.RunId, owner, run.Attempt, now, now + lease, counts, failures), ct);
        if (!outcome.LeaseHeld)
        {
            return HeartbeatResult.LeaseLost;
        }

        if (counts is not null)
        {
            feed.Publish(new RunChanged(run.RunId, run.TenantId, run.InitiatorUserId, outcome.Version, ProgressOnly: true));
        }

        return outcome.CancelRequested ? HeartbeatResult.CancelRequested : HeartbeatResult.Renewed;
    }

    /// <summary>Lets the lease run out now, so recovery acts at once when this worker stops gracefully mid-run.</summary>
    public Task ReleaseLeaseAsync(RunRow claimed, string owner, CancellationToken ct) =>
        store.ReleaseLeaseAsync(claimed.RunId, owner, claimed.Attempt, UtcNow, ct);

    private static RunEffects Started(RunRow row) => new(RunEventKinds.Started, $"Started (attempt {row.Attempt}).");

    private async Task<RunRow?> ApplyAsync(RunTransition transition, Func<RunRow, RunEffects> effects, CancellationToken ct) =>
        Committed(await store.ApplyAsync(transition, effects, ct));

    /// <summary>After a transition committed: the completion metric and the publish, decided here for every transition.</summary>
    private RunRow? Committed(RunRow? row)
    {
        if (row is null)
        {
            return null;
        }

        if (row.Status == RunStatus.Completed)
        {
            metrics.RunCompleted(row.Type, row.Outcome);
        }

        feed.Publish(new RunChanged(row.RunId, row.TenantId, row.InitiatorUserId, row.Version));
        return row;
    }

    private RunEffects Failed(RunRow row, RunFailure failure) =>
        Terminal(row, $"Completed: failed. {failure.Code}: {failure.Message}", $"{failure.Code}: {failure.Message}");

    /// <summary>
    /// A terminal transition's effects: its event, the initiator's notification (system runs notify nobody), and the
    /// "completed" webhook event when the tenant may have a webhook.
    /// </summary>
    private RunEffects Terminal(RunRow row, string eventMessage, string notifyBody) => new(
        RunEventKinds.Completed,
        eventMessage,
        row.InitiatorUserId is { } userId
            ? new RunNotice(userId, row.TenantId, NotificationKinds.Completed, row.Outcome,
                RunTexts.CompletedTitle(registry.DisplayNameOf(row.Type), row.Outcome), notifyBody)
            : null,
        webhooks.MayListen(row.TenantId)
            ? new RunHook(row.TenantId, WebhookEvents.Completed, row.Type, row.Outcome,
                WebhookPayloads.Snapshot(row.Type, RunStatus.Completed, row.Outcome, row.Counts, row.CreatedAt, row.StartedAt, UtcNow))
            : null);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Warning, Message = "Run {RunId} failed: unknown operation type '{Type}'")]
    private static partial void LogUnknownType(ILogger logger, long runId, string type);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Error, Message = "Run {RunId} could not be dispatched and was failed: {Reason}")]
    private static partial void LogDispatchFailed(ILogger logger, long runId, string reason);
}

internal enum HeartbeatResult
{
    Renewed,
    CancelRequested,
    LeaseLost,
}
