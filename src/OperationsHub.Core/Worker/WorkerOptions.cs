using Microsoft.Extensions.Options;

namespace OperationsHub.Core.Worker;

/// <summary>
/// Worker, lease and recovery settings. The defaults recover a dead node's run within 10 s: the lease runs out at most
/// <see cref="LeaseDuration"/> after the last renewal, and the next recovery pass (every <see cref="RecoveryInterval"/>,
/// on every node) acts on it: 8 s + 1 s. A live node renews every 2 s, so it can miss three renewals in a row (a long
/// GC pause, a CPU-starved host: the drill starves a node with busy loops on its core) before its runs are taken.
/// </summary>
public sealed class WorkerOptions
{
    public const string SectionName = "Worker";

    /// <summary>Run the Quartz worker on this node. Off for a UI-only node.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// How many runs execute at once on this node: the worker claims no more than it has free slots for. A slot is not a
    /// thread (handlers are async, on the thread pool), so the default keeps enough writes in flight for group commit
    /// to pay: 32 drained no-op runs 40 % faster than 8 on PostgreSQL and 20 % on SQLite (bench/BENCHMARKS.md).
    /// </summary>
    public int MaxConcurrency { get; set; } = 32;

    /// <summary>
    /// How often the worker looks in the database for queued runs when nothing woke it. A start on this node wakes it
    /// at once; the poll finds runs queued by another node, or left queued by a crash.
    /// </summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(8);

    /// <summary>How often a running run's lease is renewed.</summary>
    public TimeSpan LeaseRenewalInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Progress is written at most once per this interval per run (plus the final write).</summary>
    public TimeSpan ProgressInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often recovery looks for expired leases (one indexed read when there are none).</summary>
    public TimeSpan RecoveryInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How often this node compares its clock with the database's. Lifecycle times (leases, started, completed) are
    /// on the database's clock, so a node whose clock runs ahead neither takes live runs from other nodes nor loses
    /// its own early.
    /// </summary>
    public TimeSpan ClockSyncInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// A queued run of a type no handler here knows (the type was removed, or a newer node queued it) is failed by
    /// recovery once it has waited this long, so it never sits in "Queued" for work nobody will do.
    /// </summary>
    public TimeSpan UnknownTypeGrace { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Attempts a retry-safe run gets before an expired lease fails it as abandoned.</summary>
    public int MaxAttempts { get; set; } = 3;

    /// <summary>How many runs one recovery pass handles of each kind (expired leases, unknown types).</summary>
    public int RecoveryBatchSize { get; set; } = 500;

    /// <summary>
    /// The most log lines one run keeps (over all its attempts); past it, one "truncated" line is written and later
    /// lines are dropped, so one chatty handler cannot fill the database.
    /// </summary>
    public int MaxLogLinesPerRun { get; set; } = 10_000;

    /// <summary>
    /// A running run whose last heartbeat is older than this is shown as "may be stuck" (recovery still decides its
    /// fate when the lease runs out). Unset: three renewal intervals.
    /// </summary>
    public TimeSpan? StaleAfter { get; set; }

    /// <summary><see cref="StaleAfter"/>, or its default of three renewal intervals.</summary>
    public TimeSpan StaleHeartbeatAfter => StaleAfter ?? LeaseRenewalInterval * 3;

    /// <summary>
    /// How long a running run with lease <paramref name="leaseExpiresAt"/> has gone without a heartbeat at
    /// <paramref name="now"/>, when that makes it stale; else null. The last heartbeat is read from the lease: every
    /// heartbeat writes "expires in <see cref="LeaseDuration"/>" (so every node must run with the same lease settings,
    /// as recovery already needs).
    /// </summary>
    public TimeSpan? StaleFor(DateTime? leaseExpiresAt, DateTime now) =>
        leaseExpiresAt is { } lease && now - (lease - LeaseDuration) is var silent && silent > StaleHeartbeatAfter ? silent : null;

    /// <summary>The lease expiry below which a running run counts as stale at <paramref name="now"/> (the same rule, for a query).</summary>
    public DateTime StaleLeaseBefore(DateTime now) => now - StaleHeartbeatAfter + LeaseDuration;
}

internal sealed class ValidateWorkerOptions : IValidateOptions<WorkerOptions>
{
    public ValidateOptionsResult Validate(string? name, WorkerOptions o)
    {
        var failures = new List<string>();
        if (o.MaxConcurrency is < 1 or > 256)
        {
            failures.Add("Worker:MaxConcurrency must be between 1 and 256.");
        }

        if (o.LeaseDuration < TimeSpan.FromSeconds(1))
        {
            failures.Add("Worker:LeaseDuration must be at least 1 second.");
        }

        // Two renewals must fit in one lease, or a single slow write would let a live run be recovered.
        if (o.LeaseRenewalInterval <= TimeSpan.Zero || o.LeaseRenewalInterval * 2 > o.LeaseDuration)
        {
            failures.Add("Worker:LeaseRenewalInterval must be positive and at most half of Worker:LeaseDuration.");
        }

        if (o.ProgressInterval <= TimeSpan.Zero || o.ProgressInterval > o.LeaseRenewalInterval)
        {
            failures.Add("Worker:ProgressInterval must be positive and at most Worker:LeaseRenewalInterval.");
        }

        if (o.RecoveryInterval <= TimeSpan.Zero)
        {
            failures.Add("Worker:RecoveryInterval must be positive.");
        }

        if (o.ClockSyncInterval <= TimeSpan.Zero)
        {
            failures.Add("Worker:ClockSyncInterval must be positive.");
        }

        if (o.PollInterval <= TimeSpan.Zero)
        {
            failures.Add("Worker:PollInterval must be positive.");
        }

        if (o.UnknownTypeGrace < TimeSpan.Zero)
        {
            failures.Add("Worker:UnknownTypeGrace must not be negative.");
        }

        if (o.MaxAttempts < 1)
        {
            failures.Add("Worker:MaxAttempts must be at least 1.");
        }

        if (o.MaxLogLinesPerRun < 0)
        {
            failures.Add("Worker:MaxLogLinesPerRun must not be negative.");
        }

        if (o.StaleAfter is { } stale && stale <= TimeSpan.Zero)
        {
            failures.Add("Worker:StaleAfter must be positive.");
        }

        if (o.RecoveryBatchSize < 1)
        {
            failures.Add("Worker:RecoveryBatchSize must be at least 1.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
