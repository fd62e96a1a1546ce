using Microsoft.Extensions.Options;

namespace OperationsHub.Core.Worker;

/// <summary>
/// Worker, lease and recovery settings. The defaults recover a dead worker's run within 30 s:
/// the lease runs out at most <see cref="LeaseDuration"/> after the last renewal, and the next recovery pass
/// (every <see cref="RecoveryInterval"/>) acts on it: 20 s + 5 s.
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

    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>How often a running run's lease is renewed.</summary>
    public TimeSpan LeaseRenewalInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Progress is written at most once per this interval per run (plus the final write).</summary>
    public TimeSpan ProgressInterval { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan RecoveryInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// A queued run of a type no handler here knows (the type was removed, or a newer node queued it) is failed by
    /// recovery once it has waited this long, so it never sits in "Queued" for work nobody will do.
    /// </summary>
    public TimeSpan UnknownTypeGrace { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Attempts a retry-safe run gets before an expired lease fails it as abandoned.</summary>
    public int MaxAttempts { get; set; } = 3;

    /// <summary>How many runs one recovery pass handles of each kind (expired leases, unknown types).</summary>
    public int RecoveryBatchSize { get; set; } = 500;
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

        if (o.RecoveryBatchSize < 1)
        {
            failures.Add("Worker:RecoveryBatchSize must be at least 1.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
