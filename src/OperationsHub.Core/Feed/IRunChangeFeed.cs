namespace OperationsHub.Core.Feed;

/// <summary>
/// A run changed. Ids only: subscribers re-query the database, so a lost signal costs freshness, not truth.
/// <see cref="ProgressOnly"/>: the run's counts moved and nothing else (a heartbeat with progress), so a view of states
/// (counts per status, notifications, an operation's active run) has nothing to re-read.
/// </summary>
public readonly record struct RunChanged(long RunId, long TenantId, long? InitiatorUserId, int Version, bool ProgressOnly = false)
{
    /// <summary>
    /// One signal for a run from two: the newer version, and progress-only only when both were, so a state change
    /// queued for a run is never hidden behind a progress beat that follows it.
    /// </summary>
    public static RunChanged Coalesce(RunChanged queued, RunChanged next)
    {
        var newest = queued.Version <= next.Version ? next : queued;
        return newest with { ProgressOnly = queued.ProgressOnly && next.ProgressOnly };
    }
}

public enum RunChangeScopeKind
{
    Tenant,
    Run,
    User,
}

/// <summary>What a subscriber listens to: every run of a tenant, one run, or the runs a user started.</summary>
public readonly record struct RunChangeScope(RunChangeScopeKind Kind, long Id)
{
    public static RunChangeScope ForTenant(long tenantId) => new(RunChangeScopeKind.Tenant, tenantId);

    public static RunChangeScope ForRun(long runId) => new(RunChangeScopeKind.Run, runId);

    public static RunChangeScope ForUser(long userId) => new(RunChangeScopeKind.User, userId);
}

/// <summary>
/// The changes coalesced since the last delivery, one entry per run (its newest version). When more runs changed
/// than a batch holds, <see cref="Overflowed"/> is set and the subscriber should simply reload everything it shows.
/// </summary>
public sealed record RunChangeBatch(IReadOnlyList<RunChanged> Changes, bool Overflowed)
{
    /// <summary>Only counts moved: no run changed state, and nothing was lost to an overflow.</summary>
    public bool ProgressOnly => !Overflowed && Changes.Count > 0 && Changes.All(c => c.ProgressOnly);
}

/// <summary>
/// The live-update backbone: published after every commit that changes a run; each subscription is throttled
/// (bursts coalesce, a minimum interval between deliveries, the last signal always delivered).
/// </summary>
public interface IRunChangeFeed
{
    /// <summary>Signals a committed change. Never blocks on subscribers.</summary>
    void Publish(RunChanged change);

    /// <summary>
    /// How many changes have been published so far. A read that starts after this value was observed reflects every
    /// change up to it (changes are published after their commit), which is what lets readers share results.
    /// </summary>
    long Sequence { get; }

    /// <summary>
    /// Subscribes to a scope. Deliveries to one subscription never overlap. Dispose to stop: after
    /// <see cref="IDisposable.Dispose"/> returns, no new delivery starts.
    /// </summary>
    IDisposable Subscribe(RunChangeScope scope, Func<RunChangeBatch, Task> callback);
}

/// <summary>
/// A feed that relays changes between nodes (PostgreSQL) says whether it hears the other nodes right now; a single-node
/// feed registers none.
/// </summary>
public interface IChangeFeedRelay
{
    /// <summary>Whether this node's listener is connected: while it is not, pages here miss other nodes' changes.</summary>
    bool Listening { get; }
}
