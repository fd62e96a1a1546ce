namespace OperationsHub.Bench.Throughput;

/// <summary>
/// One system draining no-op work on SQLite. <see cref="PrepareAsync"/> builds and starts it on an empty database
/// (not measured); <see cref="DrainAsync"/> submits <c>count</c> items from four concurrent producers and returns when
/// the system's own stored state says every one of them completed (measured, with the commits it took).
/// </summary>
internal abstract class Contestant : IAsyncDisposable
{
    /// <summary>How often each contestant's stored state is polled for completion: the same for all.</summary>
    protected static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    internal const int Producers = 4;

    /// <summary>The hub's runs in flight by default: what a tuned peer gets as its workers or threads.</summary>
    internal static readonly int HubConcurrency = new OperationsHub.Core.Worker.WorkerOptions().MaxConcurrency;

    public abstract string Name { get; }

    /// <summary>The settings this contestant runs with, for the table's footnotes.</summary>
    public abstract string Settings { get; }

    public abstract Task PrepareAsync(string directory);

    /// <summary>Returns how many items the system's stored state reports completed successfully.</summary>
    public abstract Task<int> DrainAsync(int count);

    public abstract ValueTask DisposeAsync();

    /// <summary>
    /// Queues <paramref name="count"/> items while no worker runs (not measured), for a <see cref="DrainAsync"/> that
    /// then only releases the workers and waits: the backlog drain. Only contestants that can hold their workers back.
    /// </summary>
    public virtual Task QueueBacklogAsync(int count) => throw new NotSupportedException($"{Name} has no backlog mode.");

    /// <summary>When a drain gives up waiting (a slow contestant is reported at the rate it reached by then).</summary>
    public DateTime Deadline { get; set; } = DateTime.MaxValue;

    internal async Task WaitUntilAsync(Func<Task<bool>> done)
    {
        while (!await done() && DateTime.UtcNow < Deadline)
        {
            await Task.Delay(PollInterval);
        }
    }
}
