using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OperationsHub.Core.Runs;
using OperationsHub.Core.Sanitization;
using OperationsHub.Core.Storage;
using Quartz;

namespace OperationsHub.Core.Worker;

/// <summary>What this node's worker is doing, for readiness checks.</summary>
/// <param name="Enabled">Whether this node runs a worker at all (<c>Worker:Enabled</c>).</param>
/// <param name="Running">Whether its loop has started and not stopped.</param>
/// <param name="ClaimFailures">Claims that failed in a row (the database is away); 0 once one succeeds.</param>
/// <param name="Busy">Runs it is executing now.</param>
public sealed record WorkerStatus(bool Enabled, bool Running, int ClaimFailures, int Busy);

/// <summary>This node's worker status, read by the readiness endpoint.</summary>
public interface IWorkerStatus
{
    WorkerStatus Current { get; }
}

/// <summary>
/// The worker: the database is the queue. It claims the oldest queued runs in batches, never more than it has free
/// slots for (<see cref="WorkerOptions.MaxConcurrency"/>), and runs each on the <see cref="RunExecutor"/>. It looks
/// again at once when a start on this node wakes it or a slot frees, and every <see cref="WorkerOptions.PollInterval"/>
/// otherwise. A claim is one conditional UPDATE of many rows, so two workers (or two nodes) never take the same run.
/// </summary>
internal sealed partial class RunWorker(
    RunTransitions transitions,
    RunExecutor executor,
    WorkerIdentity identity,
    IOptions<WorkerOptions> options,
    TimeProvider time,
    ILogger<RunWorker> logger) : IWorkerStatus, IDisposable
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(10);

    // One pending wake-up is all it takes: the next claim sees every run queued before it.
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    private readonly CancellationTokenSource _disposed = new();
    private int _busy;
    private int _disposeCount;
    private volatile bool _running;
    private volatile int _claimFailures;

    /// <summary>How many claimed runs this worker is executing now.</summary>
    public int Busy => Volatile.Read(ref _busy);

    public WorkerStatus Current => new(options.Value.Enabled, _running, _claimFailures, Busy);

    /// <summary>Asks the worker to look for queued runs now (a run was started on this node, or requeued).</summary>
    public void Wake() => _wake.Writer.TryWrite(true);

    /// <summary>Claims and runs work until <paramref name="stopping"/> fires, then waits for the runs it holds to end.</summary>
    public async Task RunAsync(CancellationToken stopping)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, _disposed.Token);
        var token = linked.Token;
        var settings = options.Value;
        LogStarted(logger, identity.Name, settings.MaxConcurrency);
        _running = true;
        try
        {
            await LoopAsync(settings, token);
        }
        finally
        {
            _running = false;
        }

        LogStopped(logger, identity.Name);
    }

    private async Task LoopAsync(WorkerOptions settings, CancellationToken token)
    {
        while (!token.IsCancellationRequested)
        {
            var free = settings.MaxConcurrency - Busy;
            if (free > 0)
            {
                IReadOnlyList<RunRow> claimed;
                try
                {
                    claimed = await transitions.TryClaimBatchAsync(identity.Name, settings.LeaseDuration, free, token);
                    _claimFailures = 0;
                }
                catch (Exception ex) when (token.IsCancellationRequested || ex is ObjectDisposedException)
                {
                    break;
                }
                catch (Exception ex)
                {
                    // The database is away: nothing was claimed. Try again later, ever less often, but never give up.
                    var failures = ++_claimFailures; // only this loop writes it
                    LogClaimFailed(logger, failures, Sanitizer.SanitizeText(ex.Message));
                    await WaitAsync(Backoff(failures), token);
                    continue;
                }

                foreach (var run in claimed)
                {
                    Interlocked.Increment(ref _busy);
                    _ = Task.Run(() => ExecuteAsync(run, token), CancellationToken.None);
                }

                if (claimed.Count == free)
                {
                    continue; // more may be queued: claim again as soon as a slot frees
                }
            }

            await WaitAsync(settings.PollInterval, token);
        }

        // Stopping: each handler sees the token, and the executor releases its lease for recovery elsewhere.
        while (Busy > 0)
        {
            await _wake.Reader.WaitToReadAsync(CancellationToken.None);
            _wake.Reader.TryRead(out _);
        }
    }

    /// <summary>Stops the loop. Idempotent: the container disposes it once per registration (it is also <see cref="IWorkerStatus"/>).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposeCount, 1) != 0)
        {
            return;
        }

        _disposed.Cancel();
        _disposed.Dispose();
    }

    private async Task ExecuteAsync(RunRow run, CancellationToken stopping)
    {
        try
        {
            await executor.ExecuteClaimedAsync(run, stopping);
        }
        catch (Exception ex)
        {
            // Its completion could not be written (the database went away): the lease runs out and recovery acts.
            LogRunFailed(logger, run.RunId, Sanitizer.SanitizeText(ex.Message));
        }
        finally
        {
            Interlocked.Decrement(ref _busy);
            Wake();
        }
    }

    private async Task WaitAsync(TimeSpan interval, CancellationToken stopping)
    {
        using var timeout = new CancellationTokenSource(interval, time);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(stopping, timeout.Token);
        try
        {
            await _wake.Reader.WaitToReadAsync(either.Token);
            _wake.Reader.TryRead(out _);
        }
        catch (OperationCanceledException)
        {
            // the poll interval passed, or the worker is stopping: the loop decides which
        }
    }

    private static TimeSpan Backoff(int failures) =>
        TimeSpan.FromMilliseconds(Math.Min(MaxBackoff.TotalMilliseconds, 250 * Math.Pow(2, Math.Min(failures - 1, 10))));

    [LoggerMessage(EventId = 1301, Level = LogLevel.Information, Message = "Worker {Worker} started: up to {MaxConcurrency} runs at once")]
    private static partial void LogStarted(ILogger logger, string worker, int maxConcurrency);

    [LoggerMessage(EventId = 1302, Level = LogLevel.Information, Message = "Worker {Worker} stopped")]
    private static partial void LogStopped(ILogger logger, string worker);

    [LoggerMessage(EventId = 1303, Level = LogLevel.Warning, Message = "Worker could not claim queued runs (failure {Failures} in a row): {Message}")]
    private static partial void LogClaimFailed(ILogger logger, int failures, string message);

    [LoggerMessage(EventId = 1304, Level = LogLevel.Error, Message = "Run {RunId}: the worker could not finish it; its lease will run out and recovery will act: {Message}")]
    private static partial void LogRunFailed(ILogger logger, long runId, string message);
}

/// <summary>Hosts the worker in Quartz: one long-running job, started with the scheduler, that ends when the host stops.</summary>
[DisallowConcurrentExecution]
internal sealed class WorkerJob(RunWorker worker, IHostApplicationLifetime lifetime) : IJob
{
    public static readonly JobKey Key = new("worker", "operationshub");

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lifetime.ApplicationStopping);
        await worker.RunAsync(stopping.Token);
    }
}
