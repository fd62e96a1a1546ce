using OperationsHub.Core.Domain;
using OperationsHub.Core.Runs;

namespace OperationsHub.Core.Storage;

/// <summary>
/// The run lifecycle's storage, in the state machine's own verbs. A provider (SQLite, PostgreSQL) implements it with
/// its database's most efficient statements; the engine decides every text, event, notification, metric and publish
/// (in <c>RunTransitions</c>) and never sees a driver type. Each verb is one transaction: a transition's conditional
/// UPDATE commits together with the effects the engine asks for, or nothing is written.
/// </summary>
public interface IRunStore
{
    /// <summary>
    /// Inserts a queued run with its <paramref name="effects"/>, in one commit. Returns null, having written nothing,
    /// when an active run of the same tenant and identity exists: the unique index on active identities decides
    /// dedupe, never a check before the insert.
    /// </summary>
    Task<long?> InsertQueuedAsync(NewRun run, RunEffects effects, CancellationToken cancellationToken);

    /// <summary>
    /// Claims up to <see cref="RunClaim.Limit"/> queued runs of the claim's types, oldest first, for its owner (Queued
    /// -> Running with a lease), with the effects <paramref name="effects"/> returns for each claimed row, in one
    /// commit. Runs another worker is claiming at the same moment are skipped, never waited for; an empty list means
    /// nothing is queued for these types.
    /// </summary>
    Task<IReadOnlyList<RunRow>> ClaimAsync(RunClaim claim, Func<RunRow, RunEffects> effects, CancellationToken cancellationToken);

    /// <summary>
    /// Applies one transition as a conditional UPDATE. When its condition holds, writes the effects
    /// <paramref name="effects"/> returns for the updated row in the same commit and returns the row; when it no
    /// longer holds, writes nothing and returns null.
    /// </summary>
    Task<RunRow?> ApplyAsync(RunTransition transition, Func<RunRow, RunEffects> effects, CancellationToken cancellationToken);

    /// <summary>
    /// As <see cref="ApplyAsync(RunTransition, Func{RunRow, RunEffects}, CancellationToken)"/>, for a transition whose
    /// effects the engine knows before the write (it holds the row, as the worker that claimed it does): a provider may
    /// then write the update and its effects in one statement.
    /// </summary>
    Task<RunRow?> ApplyAsync(RunTransition transition, RunEffects effects, CancellationToken cancellationToken);

    /// <summary>
    /// Renews the lease of a running run held by the heartbeat's owner for the heartbeat's attempt and, when given,
    /// writes its progress.
    /// </summary>
    Task<HeartbeatOutcome> HeartbeatAsync(Heartbeat heartbeat, CancellationToken cancellationToken);

    /// <summary>
    /// Lets the lease of a running run held by <paramref name="owner"/> for <paramref name="attempt"/> lapse now (the
    /// worker is stopping).
    /// </summary>
    Task ReleaseLeaseAsync(long runId, string owner, int attempt, DateTime now, CancellationToken cancellationToken);

    /// <summary>
    /// Appends <paramref name="lines"/> (sanitized and bounded by the engine) to a run's log, in one commit and a few
    /// multi-row statements: a log costs a write per batch, never one per line. Only while <paramref name="owner"/>
    /// holds the lease of the claim that began <paramref name="attempt"/>, like every write of a running run; returns
    /// how many lines were written (0: the lease is gone, nothing was written).
    /// </summary>
    Task<int> AppendLogAsync(long runId, string owner, int attempt, IReadOnlyList<LogEntry> lines, CancellationToken cancellationToken);

    /// <summary>
    /// Adds a timeline event to a run outside a transition of its own: what was done to it from elsewhere (it was
    /// retried as another run).
    /// </summary>
    Task AppendEventAsync(long runId, string kind, string message, DateTime at, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes up to <paramref name="batchSize"/> runs completed before <paramref name="cutoff"/>, oldest first, with
    /// their events and notifications, in one commit. Returns the runs deleted (each with its tenant, for the feed).
    /// </summary>
    Task<IReadOnlyList<PrunedRun>> PruneAsync(DateTime cutoff, int batchSize, CancellationToken cancellationToken);

    /// <summary>
    /// Whether <paramref name="exception"/> is a passing condition of the database (busy, locked, a failover, too many
    /// connections): nothing was written, and the same request may succeed in a moment.
    /// </summary>
    bool IsTransient(Exception exception);

    /// <summary>
    /// The database's clock (UTC), which every node's lease times follow (<see cref="Runs.DatabaseClock"/>): the
    /// server's for a database server, this machine's for an embedded file (every process that opens it is here).
    /// </summary>
    Task<DateTime> ReadClockAsync(CancellationToken cancellationToken);
}

/// <summary>A run to insert as Queued, its values sanitized by the engine.</summary>
public sealed record NewRun(
    long TenantId,
    string Type,
    string IdentityHash,
    string? Target,
    string ContextJson,
    long? InitiatorUserId,
    string? InitiatorName,
    DateTime Now,
    long? RetryOfRunId = null,
    string? TraceParent = null);

/// <summary>A batch claim: up to <paramref name="Limit"/> queued runs of <paramref name="Types"/> for <paramref name="Owner"/>.</summary>
public sealed record RunClaim(string Owner, DateTime Now, DateTime LeaseExpiresAt, IReadOnlyList<string> Types, int Limit);

/// <summary>A state-machine transition: each kind is one conditional UPDATE, written by the provider.</summary>
public abstract record RunTransition(long RunId, DateTime Now)
{
    /// <summary>Queued -> Running with a lease for <paramref name="Owner"/>, for runs of <paramref name="Types"/> only.</summary>
    public sealed record Claim(long RunId, DateTime Now, string Owner, DateTime LeaseExpiresAt, IReadOnlyList<string> Types)
        : RunTransition(RunId, Now);

    /// <summary>
    /// Running -> Completed, only while <paramref name="Owner"/> holds the lease of the claim that began
    /// <paramref name="Attempt"/>: a lease is fenced by owner and attempt, and every claim increments the attempt.
    /// </summary>
    public sealed record Complete(
        long RunId, DateTime Now, string Owner, int Attempt, RunOutcome Outcome, RunCounts Counts, string? FailuresJson, int FailureTotal)
        : RunTransition(RunId, Now);

    /// <summary>Queued -> Completed(Failed): dispatch failed, or nobody can run the type.</summary>
    public sealed record FailQueued(long RunId, DateTime Now, string? FailuresJson) : RunTransition(RunId, Now);

    /// <summary>Running -> Completed(Failed): the lease of <paramref name="Owner"/> expired.</summary>
    public sealed record Abandon(long RunId, DateTime Now, string Owner, string? FailuresJson) : RunTransition(RunId, Now);

    /// <summary>Running -> Queued: the lease of <paramref name="Owner"/> expired and attempts remain.</summary>
    public sealed record Requeue(long RunId, DateTime Now, string Owner, int MaxAttempts) : RunTransition(RunId, Now);

    /// <summary>Queued -> Completed(Cancelled).</summary>
    public sealed record CancelQueued(long RunId, DateTime Now) : RunTransition(RunId, Now);

    /// <summary>Marks a running run for cancellation (it stays Running until its handler stops).</summary>
    public sealed record RequestCancel(long RunId, DateTime Now) : RunTransition(RunId, Now);
}

/// <summary>
/// What a write adds beside the run row: a timeline event, the initiator's notification where due, and the webhook
/// event the tenant's endpoints may hear (an outbox row per endpoint whose filters match, in the same commit).
/// </summary>
public sealed record RunEffects(string EventKind, string EventMessage, RunNotice? Notification = null, RunHook? Hook = null);

/// <summary>
/// A run event for the tenant's webhooks: <paramref name="Event"/> (queued or completed) of a run of
/// <paramref name="Type"/> that ended <paramref name="Outcome"/>, with the run as the event saw it
/// (<paramref name="PayloadJson"/>, without the run's id, which the outbox row carries).
/// </summary>
public sealed record RunHook(long TenantId, WebhookEvents Event, string Type, RunOutcome Outcome, string PayloadJson);

/// <summary>A notification row for <paramref name="UserId"/> about the run being written.</summary>
public sealed record RunNotice(long UserId, long TenantId, string Kind, RunOutcome Outcome, string Title, string Body);

/// <summary>The run as it stands right after a write committed.</summary>
public sealed record RunRow(
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
    RunCounts Counts,
    string? TraceParent = null);

/// <summary>
/// A lease renewal, with progress when it moved, and with the failures recorded so far when they changed (so a
/// failure shows on the run's page while it still runs).
/// </summary>
public sealed record Heartbeat(
    long RunId, string Owner, int Attempt, DateTime Now, DateTime LeaseExpiresAt, RunCounts? Counts, FailuresSoFar? Failures = null);

/// <summary>The failures of a running run: the stored (bounded) list as JSON and how many were recorded in all.</summary>
public sealed record FailuresSoFar(string? Json, int Total);

/// <summary>One line for a run's log, as the engine stores it.</summary>
public readonly record struct LogEntry(DateTime At, RunLogLevel Level, string Message);

/// <summary>What a heartbeat found: the lease renewed (and whether cancellation was asked), or lost.</summary>
public readonly record struct HeartbeatOutcome(bool LeaseHeld, bool CancelRequested, int Version)
{
    public static HeartbeatOutcome Lost => new(false, false, 0);
}

/// <summary>A run deleted by retention.</summary>
public readonly record struct PrunedRun(long RunId, long TenantId, long? InitiatorUserId);
