using Hangfire;
using Hangfire.Storage.SQLite;

namespace OperationsHub.Bench.Throughput;

/// <summary>
/// Hangfire.Core 1.8 on Hangfire.Storage.SQLite: fire-and-forget jobs enqueued by the client, run by a
/// <see cref="BackgroundJobServer"/>, done when the storage's monitoring API counts them all Succeeded.
/// </summary>
internal sealed class HangfireContestant(bool tuned) : HangfireDrain
{
    public override string Name => tuned ? "Hangfire (tuned)" : "Hangfire (default)";

    public override string Settings => tuned
        ? $"Hangfire.Storage.SQLite, WAL + synchronous=NORMAL on every connection (as the hub), {TunedWorkers} workers, "
            + $"QueuePollInterval {TunedQueuePoll.TotalMilliseconds:F0} ms"
        : "Hangfire.Storage.SQLite defaults (WAL, synchronous=FULL, QueuePollInterval 15 s), BackgroundJobServer "
            + $"defaults ({new BackgroundJobServerOptions().WorkerCount} workers)";

    public override Task PrepareAsync(string directory)
    {
        var path = Path.Combine(directory, "hangfire.db");
        var options = new SQLiteStorageOptions();
        if (tuned)
        {
            options.QueuePollInterval = TunedQueuePoll;
            Storage = new SQLiteStorage(new SQLiteDbConnectionFactory(() =>
            {
                var connection = new SQLite.SQLiteConnection(path);
                connection.ExecuteScalar<string>("PRAGMA journal_mode=WAL");
                connection.Execute("PRAGMA synchronous=NORMAL");
                return connection;
            }), options);
        }
        else
        {
            Storage = new SQLiteStorage(path, options);
        }

        var serverOptions = new BackgroundJobServerOptions { ServerName = "bench" };
        if (tuned)
        {
            serverOptions.WorkerCount = TunedWorkers;
        }

        Server = new BackgroundJobServer(serverOptions, Storage);
        return Task.CompletedTask;
    }
}

/// <summary>
/// How every Hangfire contestant drains, whatever its storage: fire-and-forget no-op jobs from the producers, done
/// when the storage's monitoring API counts them all Succeeded; stopped by stopping its server.
/// </summary>
internal abstract class HangfireDrain : Contestant
{
    /// <summary>Tuned: as many workers as the hub has, and a queue poll short enough never to leave a worker idle.</summary>
    public static readonly int TunedWorkers = HubConcurrency;

    protected static readonly TimeSpan TunedQueuePoll = TimeSpan.FromMilliseconds(50);

    /// <summary>The storage the server and the client use; set by <see cref="Contestant.PrepareAsync"/>.</summary>
    protected JobStorage? Storage { get; set; }

    protected BackgroundJobServer? Server { get; set; }

    public override async Task<int> DrainAsync(int count)
    {
        await EnqueueAsync(count);
        return await WaitSucceededAsync(count);
    }

    /// <summary>Enqueues <paramref name="count"/> no-op jobs from the producers through the storage's client.</summary>
    protected Task EnqueueAsync(int count)
    {
        var client = new BackgroundJobClient(Storage!);
        return Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = Producers }, (_, _) =>
        {
            client.Enqueue<NoopJob>(job => job.Run());
            return ValueTask.CompletedTask;
        });
    }

    /// <summary>Waits until the monitoring API counts <paramref name="count"/> succeeded jobs; returns the count.</summary>
    protected async Task<int> WaitSucceededAsync(int count)
    {
        var monitoring = Storage!.GetMonitoringApi();
        await WaitUntilAsync(() => Task.FromResult(monitoring.SucceededListCount() >= count));
        return (int)monitoring.SucceededListCount();
    }

    public override ValueTask DisposeAsync()
    {
        Server?.SendStop();
        Server?.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>The no-op job Hangfire runs (public: Hangfire activates it by type).</summary>
public sealed class NoopJob
{
    public void Run()
    {
    }
}
