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
/// <param name="Busy">Runs whose handlers it is executing now.</param>
/// <param name="Completing">Runs whose handlers have returned and whose completion it is writing (they still hold a lease).</param>
public sealed record WorkerStatus(bool Enabled, bool Running, int ClaimFailures, int Busy, int Completing);

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

    /// <summary>Claims under way at once at most: each asks for the slots that freed since the one before.</summary>
    private const int MaxClaimsInFlight = 4;

    // One pending wake-up is all it takes: the next claim sees every run queued before it.
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    private readonly CancellationTokenSource _disposed = new();
    private int _busy;
    private int _completing; // runs whose handler has ended and whose completion (or release) is being written
    private int _claiming; // slots asked for by claims under way
    private int _wakes; // wake-ups asked for so far: a claim under way learns whether one came after it began
    private volatile bool _writerGone;
    private int _disposeCount;
    private volatile bool _running;
    private int _draining; // 1 once the loop has stopped claiming and waits for its runs: every end then wakes it
    private int _claimFailures;

    /// <summary>How many claimed runs this worker is executing the handlers of now.</summary>
    public int Busy => Volatile.Read(ref _busy);

    public WorkerStatus Current =>
        new(options.Value.Enabled, _running, Volatile.Read(ref _claimFailures), Busy, Volatile.Read(ref _completing));

    /// <summary>Asks the worker to look for queued runs now (a run was started on this node, or requeued).</summary>
    public void Wake()
    {
        Interlocked.Increment(ref _wakes);
        _wake.Writer.TryWrite(true);
    }

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
        var claims = new List<Task>();
        while (!token.IsCancellationRequested && !_writerGone)
        {
            claims.RemoveAll(c => c.IsCompleted);
            var failures = Volatile.Read(ref _claimFailures);
            if (failures > 0 && claims.Count == 0)
            {
                // The database is away: try again later, ever less often, but never give up. Wake-ups (a start here,
                // a slot freeing) do not cut this short: they would only hit the same wall sooner.
                try
                {
                    await Task.Delay(Backoff(failures), time, token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }

            // Slots that free while a claim is under way are claimed at once by a claim of their own, beside it,
            // rather than after it: a run's slot waits for one commit, not for the claim before and then its own.
            // _claiming first: a claim that ends adds its runs to Busy before it gives its slots back, so read in this
            // order the two never both miss them (which would claim past MaxConcurrency).
            // Completions being written hold no slot, up to MaxConcurrency of them: past that, a database slower than
            // the handlers holds the claims back rather than piling up writes. Read after Busy: a handler that ends
            // counts itself completing before it leaves Busy.
            var claiming = Volatile.Read(ref _claiming);
            var busy = Busy;
            var completingOver = Math.Max(0, Volatile.Read(ref _completing) - settings.MaxConcurrency);
            var free = settings.MaxConcurrency - claiming - busy - completingOver;
            if (free > 0 && claims.Count < MaxClaimsInFlight && (failures == 0 || claims.Count == 0))
            {
                Interlocked.Add(ref _claiming, free);
                claims.Add(ClaimAsync(settings, free, token));
                continue;
            }

            await WaitAsync(settings.PollInterval, token);
        }

        // Stopping: a claim under way still hands its runs to the executor, which sees the token and releases each
        // lease for recovery elsewhere.
        await Task.WhenAll(claims);
        // A full fence before the counters are read, as each completion's decrement is one before it reads this flag:
        // of the two, at least one sees the other, so the last completion to end is never missed.
        Interlocked.Exchange(ref _draining, 1);
        while (Busy > 0 || Volatile.Read(ref _completing) > 0)
        {
            await _wake.Reader.WaitToReadAsync(CancellationToken.None);
            _wake.Reader.TryRead(out _);
        }
    }

    /// <summary>
    /// Claims up to <paramref name="slots"/> queued runs and starts each. It wakes the loop when it filled every slot
    /// (more may be queued), and when a wake-up came while it was under way: the loop may have had no slot to claim
    /// with then, and a run started meanwhile may have been queued after this claim looked.
    /// </summary>
    private async Task ClaimAsync(WorkerOptions settings, int slots, CancellationToken token)
    {
        var wakesBefore = Volatile.Read(ref _wakes);
        var failuresBefore = Volatile.Read(ref _claimFailures);
        var again = false;
        try
        {
            var claimed = await transitions.TryClaimBatchAsync(identity.Name, settings.LeaseDuration, slots, token);
            Interlocked.Exchange(ref _claimFailures, 0);
            foreach (var run in claimed)
            {
                Interlocked.Increment(ref _busy);
                _ = Task.Run(() => ExecuteAsync(run, token), CancellationToken.None);
            }

            again = claimed.Count == slots;
        }
        catch (ObjectDisposedException)
        {
            _writerGone = true; // the store is gone: the host is stopping
        }
        catch (Exception) when (token.IsCancellationRequested)
        {
            // stopping: nothing more to claim
        }
        catch (Exception ex)
        {
            // Nothing was claimed; the loop backs off before the next claim. Claims under way together when the
            // database went count as one failure.
            if (Interlocked.CompareExchange(ref _claimFailures, failuresBefore + 1, failuresBefore) == failuresBefore)
            {
                LogClaimFailed(logger, failuresBefore + 1, Sanitizer.SanitizeText(ex.Message));
            }

            again = true;
        }
        finally
        {
            Interlocked.Add(ref _claiming, -slots);
        }

        if (again || Volatile.Read(ref _wakes) != wakesBefore)
        {
            Wake();
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
        // The slot frees when the handler ends (the next run need not wait for this one's completion to commit);
        // the run leaves the worker when its completion is written.
        var slot = new Slot(this, options.Value.MaxConcurrency);
        try
        {
            await executor.ExecuteClaimedAsync(run, stopping, slot.HandlerEnded);
        }
        catch (Exception ex)
        {
            // Its completion could not be written (the database went away): the lease runs out and recovery acts.
            LogRunFailed(logger, run.RunId, Sanitizer.SanitizeText(ex.Message));
        }
        finally
        {
            slot.Ended();
        }
    }

    /// <summary>One claimed run's place in the worker: in <see cref="Busy"/> while its handler runs, then completing.</summary>
    private sealed class Slot(RunWorker worker, int maxConcurrency)
    {
        private int _handlerEnded;

        public void HandlerEnded()
        {
            if (Interlocked.Exchange(ref _handlerEnded, 1) == 0)
            {
                Interlocked.Increment(ref worker._completing);
                Interlocked.Decrement(ref worker._busy);
                worker.Wake();
            }
        }

        public void Ended()
        {
            if (Interlocked.Exchange(ref _handlerEnded, 1) == 0)
            {
                Interlocked.Decrement(ref worker._busy);
                worker.Wake(); // its slot frees only now
            }
            else if (Interlocked.Decrement(ref worker._completing) >= maxConcurrency || Volatile.Read(ref worker._draining) == 1)
            {
                // Past the bound, a completion's end frees a slot; a stopping worker waits for the last one. Otherwise
                // the slot was given back when the handler returned, and a wake-up would only cost an empty claim.
                worker.Wake();
            }
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
