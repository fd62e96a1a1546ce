using Hangfire;
using Hangfire.Storage.SQLite;

namespace OperationsHub.Bench.Throughput;

/// <summary>
/// Hangfire.Core 1.8 on Hangfire.Storage.SQLite: fire-and-forget jobs enqueued by the client, run by a
/// <see cref="BackgroundJobServer"/>, done when the storage's monitoring API counts them all Succeeded.
/// </summary>
internal sealed class HangfireContestant(bool tuned) : Contestant
{
    /// <summary>Tuned: as many workers as the hub has, and a queue poll short enough never to leave a worker idle.</summary>
    public const int TunedWorkers = 8;

    private static readonly TimeSpan TunedQueuePoll = TimeSpan.FromMilliseconds(50);

    private SQLiteStorage? _storage;
    private BackgroundJobServer? _server;

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
            _storage = new SQLiteStorage(new SQLiteDbConnectionFactory(() =>
            {
                var connection = new SQLite.SQLiteConnection(path);
                connection.ExecuteScalar<string>("PRAGMA journal_mode=WAL");
                connection.Execute("PRAGMA synchronous=NORMAL");
                return connection;
            }), options);
        }
        else
        {
            _storage = new SQLiteStorage(path, options);
        }

        var serverOptions = new BackgroundJobServerOptions { ServerName = "bench" };
        if (tuned)
        {
            serverOptions.WorkerCount = TunedWorkers;
        }

        _server = new BackgroundJobServer(serverOptions, _storage);
        return Task.CompletedTask;
    }

    public override async Task<int> DrainAsync(int count)
    {
        var client = new BackgroundJobClient(_storage!);
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = Producers }, (_, _) =>
        {
            client.Enqueue<NoopJob>(job => job.Run());
            return ValueTask.CompletedTask;
        });

        var monitoring = _storage!.GetMonitoringApi();
        await WaitUntilAsync(() => Task.FromResult(monitoring.SucceededListCount() >= count));
        return (int)monitoring.SucceededListCount();
    }

    public override ValueTask DisposeAsync()
    {
        _server?.SendStop();
        _server?.Dispose();
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
