using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OperationsHub.Core.Data;
using OperationsHub.Core.Diagnostics;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Operations;
using OperationsHub.Core.Runs;
using OperationsHub.Core.Sanitization;
using OperationsHub.Core.Storage;

namespace OperationsHub.Core.Worker;

/// <summary>
/// The job middleware: claims a queued run, runs its handler in a scope of its own with a heartbeat beside it,
/// and maps what the handler reported, returned or threw to the run's outcome. Handlers never write status.
/// </summary>
internal sealed partial class RunExecutor(
    IDbContextFactory<HubDbContext> dbFactory,
    RunTransitions transitions,
    OperationTypeRegistry registry,
    IServiceScopeFactory scopeFactory,
    WorkerIdentity identity,
    IOptions<WorkerOptions> options,
    TimeProvider time,
    HubMetrics metrics,
    ILogger<RunExecutor> logger)
{
    /// <summary>
    /// Claims this one run and executes it: for a caller that must work a given run now. The worker claims in batches
    /// and calls <see cref="ExecuteClaimedAsync"/>.
    /// </summary>
    public async Task ExecuteAsync(long runId, CancellationToken stopping)
    {
        // Claim first: the conditional UPDATE is the check. Only a refused claim costs a read, to learn why.
        var run = await transitions.TryClaimAsync(runId, identity.Name, options.Value.LeaseDuration, stopping);
        if (run is null)
        {
            await ExplainRefusedClaimAsync(runId, stopping);
            return;
        }

        await ExecuteClaimedAsync(run, stopping);
    }

    /// <summary>
    /// Executes a run this worker has claimed (it holds the lease), through to its completion.
    /// <paramref name="handlerEnded"/> is called once the handler has returned and its last log lines are written,
    /// before the completion is: the worker gives the run's slot to the next run while the completion commits.
    /// </summary>
    public async Task ExecuteClaimedAsync(RunRow run, CancellationToken stopping, Action? handlerEnded = null)
    {
        ArgumentNullException.ThrowIfNull(run);
        var runId = run.RunId;
        using var activity = HubTracing.Execute(run, identity.Name);
        metrics.QueueWait(run.Type, (run.StartedAt ?? run.CreatedAt) - run.CreatedAt);
        LogClaimed(logger, runId, run.Type, run.Attempt);
        var startedAt = time.GetTimestamp();

        using var handlerCancellation = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        using var heartbeatStop = new CancellationTokenSource();
        var signals = new ExecutionSignals();
        // A later attempt shares the run's log bound with the attempts before it.
        // Not on the stopping token: a run claimed as the host stops must still reach its handler, see the token there and
        // have its lease released below, not throw here and leave the lease to run out.
        var logLinesLeft = options.Value.MaxLogLinesPerRun - (run.Attempt > 1 ? await CountLogLinesAsync(runId, CancellationToken.None) : 0);
        var context = new OperationContext(
            run,
            RunJson.DeserializeContext(run.ContextJson),
            handlerCancellation.Token,
            () => new ValueTask(BeatAsync(run, null, null, signals, handlerCancellation, heartbeatStop.Token)),
            time,
            Math.Max(0, logLinesLeft));
        var heartbeat = HeartbeatLoopAsync(run, context, signals, handlerCancellation, heartbeatStop.Token);

        RunOutcome? outcome;
        try
        {
            outcome = await RunHandlerAsync(run.Type, context, signals, stopping, handlerCancellation.Token);
        }
        finally
        {
            await heartbeatStop.CancelAsync();
            await heartbeat;
            // The last lines land before the completion, so a completed run's log is whole when its page says so.
            await FlushLogAsync(run, context, CancellationToken.None);
            handlerEnded?.Invoke();
        }

        HubTracing.Ended(activity, outcome, context.Failures.Count > 0 ? context.Failures[0].Code : null);
        if (outcome is not { } final)
        {
            if (!signals.LeaseLost)
            {
                // The host is stopping mid-run: let the lease lapse now so recovery acts on the next start at once.
                await transitions.ReleaseLeaseAsync(run, identity.Name, CancellationToken.None);
                LogInterrupted(logger, runId);
            }

            return;
        }

        // Completion must land even while the host shuts down, so it does not take the stopping token.
        var completed = await transitions.TryCompleteAsync(
            run, identity.Name, final, context.FinalCounts(), context.Failures, context.FailureTotal, CancellationToken.None);
        if (completed is null)
        {
            LogCompletionLost(logger, runId);
            return;
        }

        var duration = time.GetElapsedTime(startedAt);
        metrics.RunDuration(run.Type, final, duration);
        LogCompleted(logger, runId, run.Type, final, duration.TotalMilliseconds);
    }

    /// <summary>A claim is refused when the run is no longer queued (normal) or when nobody here can run its type.</summary>
    private async Task ExplainRefusedClaimAsync(long runId, CancellationToken stopping)
    {
        var state = await LoadStateAsync(runId, stopping);
        if (state is null || state.Status != RunStatus.Queued)
        {
            LogNotQueued(logger, runId, state?.Status);
            return;
        }

        if (registry.TryGet(state.Type, out _))
        {
            LogClaimLost(logger, runId); // it was requeued or re-dispatched between the claim and this read
            return;
        }

        await transitions.TryFailUnknownTypeAsync(runId, state.Type);
    }

    /// <summary>Runs the handler and maps the result; null means "not ours to complete" (shutdown or lease lost).</summary>
    private async Task<RunOutcome?> RunHandlerAsync(
        string type,
        OperationContext context,
        ExecutionSignals signals,
        CancellationToken stopping,
        CancellationToken handlerToken)
    {
        try
        {
            await using var scope = scopeFactory.CreateAsyncScope();
            var handler = scope.ServiceProvider.GetRequiredKeyedService<IOperationHandler>(type);
            await handler.ExecuteAsync(context, handlerToken);
            return context.OutcomeFromReports();
        }
        catch (OperationCanceledException) when (signals.LeaseLost)
        {
            LogLeaseLost(logger, context.RunId);
            return null;
        }
        catch (OperationCanceledException) when (signals.CancelRequested)
        {
            return RunOutcome.Cancelled;
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            return null;
        }
        catch (OperationFailedException ex)
        {
            context.RecordFailure(ex.Code, ex.Message);
            context.FailItemInFlight();
            LogHandlerFailed(logger, context.RunId, context.Type, Sanitizer.SanitizeKey(ex.Code), Sanitizer.SanitizeText(ex.Message));
            return RunOutcome.Failed;
        }
        catch (Exception ex)
        {
            // Only the type and the sanitized message leave this method: never a stack trace or a raw payload.
            var message = $"{ex.GetType().Name}: {ex.Message}";
            context.RecordFailure(RunFailureCodes.HandlerException, message);
            context.FailItemInFlight();
            LogHandlerFailed(logger, context.RunId, context.Type, RunFailureCodes.HandlerException, Sanitizer.SanitizeText(message));
            return RunOutcome.Failed;
        }
    }

    /// <summary>
    /// The only database writer while a handler runs: every progress interval it writes progress if it moved, and
    /// renews the lease when due. So progress costs at most one write per interval per run, however often it is
    /// reported.
    /// </summary>
    private async Task HeartbeatLoopAsync(
        RunRow run,
        OperationContext context,
        ExecutionSignals signals,
        CancellationTokenSource handlerCancellation,
        CancellationToken stop)
    {
        var settings = options.Value;
        long written = 0;
        var failuresWritten = 0;
        var lastBeat = time.GetTimestamp();
        // A periodic timer, not a delay re-armed after each beat: a tick that comes while a beat is still being
        // written is kept, not lost, so a slow write never pushes the renewal that is due past its time.
        using var timer = new PeriodicTimer(settings.ProgressInterval, time);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                if (!await timer.WaitForNextTickAsync(stop))
                {
                    return;
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }

            // New log lines go first, in one batch: the beat below then signals them with the progress.
            var logged = await FlushLogAsync(run, context, stop);
            var changes = context.ChangeCount;
            var progressDue = changes != written || logged;
            if (!progressDue && time.GetElapsedTime(lastBeat) < settings.LeaseRenewalInterval)
            {
                continue;
            }

            // Failures recorded so far travel with the progress, so the run's page shows them while it runs.
            var failureTotal = context.FailureTotal;
            var failures = progressDue && failureTotal != failuresWritten
                ? new FailuresSoFar(RunJson.SerializeFailures(context.Failures), failureTotal)
                : null;

            // The renewal interval counts from when this beat computes its lease, not from when its write returns:
            // a slow write must not push the next renewal later than the lease it wrote calls for.
            var beatStarted = time.GetTimestamp();
            if (await BeatAsync(run, progressDue ? context.Counts : null, failures, signals, handlerCancellation, stop))
            {
                written = changes;
                failuresWritten = failures?.Total ?? failuresWritten;
                lastBeat = beatStarted;
            }

            if (signals.LeaseLost)
            {
                return;
            }
        }
    }

    /// <summary>Writes the lines logged since the last flush, in one commit; false when there were none (or it failed).</summary>
    private async Task<bool> FlushLogAsync(RunRow run, OperationContext context, CancellationToken stop)
    {
        var lines = context.TakeLog();
        if (lines.Count == 0)
        {
            return false;
        }

        try
        {
            // Refused (0) once the lease is gone: a handler whose run was taken writes nothing more.
            await transitions.AppendLogAsync(run, identity.Name, lines, stop);
            return true;
        }
        catch (Exception ex)
        {
            // A busy database: the lines go back and the next beat writes them.
            context.ReturnLog(lines);
            if (ex is not OperationCanceledException)
            {
                LogLogWriteFailed(logger, run.RunId, Sanitizer.SanitizeText(ex.Message));
            }

            return false;
        }
    }

    private async Task<int> CountLogLinesAsync(long runId, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.RunLogLines.CountAsync(l => l.RunId == runId, ct);
    }

    private async Task<bool> BeatAsync(
        RunRow run,
        RunCounts? counts,
        FailuresSoFar? failures,
        ExecutionSignals signals,
        CancellationTokenSource handlerCancellation,
        CancellationToken stop)
    {
        try
        {
            var result = await transitions.HeartbeatAsync(run, identity.Name, options.Value.LeaseDuration, counts, stop, failures);
            switch (result)
            {
                case HeartbeatResult.LeaseLost:
                    signals.LeaseLost = true;
                    await handlerCancellation.CancelAsync();
                    break;
                case HeartbeatResult.CancelRequested when !signals.CancelRequested:
                    signals.CancelRequested = true;
                    LogCancelObserved(logger, run.RunId);
                    await handlerCancellation.CancelAsync();
                    break;
            }

            return true;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return false;
        }
        catch (Exception ex)
        {
            // A busy database must not kill the run: the lease has slack for a missed beat or two.
            LogHeartbeatFailed(logger, run.RunId, Sanitizer.SanitizeText(ex.Message));
            return false;
        }
    }

    private async Task<QueuedState?> LoadStateAsync(long runId, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Runs.AsNoTracking().Where(r => r.Id == runId)
            .Select(r => new QueuedState(r.Status, r.Type)).FirstOrDefaultAsync(ct);
    }

    private sealed record QueuedState(RunStatus Status, string Type);

    private sealed class ExecutionSignals
    {
        private volatile bool _leaseLost;
        private volatile bool _cancelRequested;

        public bool LeaseLost { get => _leaseLost; set => _leaseLost = value; }

        public bool CancelRequested { get => _cancelRequested; set => _cancelRequested = value; }
    }

    [LoggerMessage(EventId = 1101, Level = LogLevel.Debug, Message = "Run {RunId} skipped: status is {Status}, not Queued")]
    private static partial void LogNotQueued(ILogger logger, long runId, RunStatus? status);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Debug, Message = "Run {RunId} was claimed by another worker")]
    private static partial void LogClaimLost(ILogger logger, long runId);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Information, Message = "Run {RunId} ({Type}) started, attempt {Attempt}")]
    private static partial void LogClaimed(ILogger logger, long runId, string type, int attempt);

    [LoggerMessage(EventId = 1105, Level = LogLevel.Information, Message = "Run {RunId} ({Type}) completed: {Outcome} in {DurationMs:F0} ms")]
    private static partial void LogCompleted(ILogger logger, long runId, string type, RunOutcome outcome, double durationMs);

    [LoggerMessage(EventId = 1106, Level = LogLevel.Warning, Message = "Run {RunId} ({Type}) handler failed with {Code}: {Message}")]
    private static partial void LogHandlerFailed(ILogger logger, long runId, string type, string code, string message);

    [LoggerMessage(EventId = 1107, Level = LogLevel.Warning, Message = "Run {RunId} lost its lease; another worker or recovery owns it now")]
    private static partial void LogLeaseLost(ILogger logger, long runId);

    [LoggerMessage(EventId = 1108, Level = LogLevel.Warning, Message = "Run {RunId} could not be completed: its lease was no longer ours")]
    private static partial void LogCompletionLost(ILogger logger, long runId);

    [LoggerMessage(EventId = 1109, Level = LogLevel.Information, Message = "Run {RunId} interrupted by shutdown; its lease was released for recovery")]
    private static partial void LogInterrupted(ILogger logger, long runId);

    [LoggerMessage(EventId = 1110, Level = LogLevel.Information, Message = "Run {RunId}: cancellation observed")]
    private static partial void LogCancelObserved(ILogger logger, long runId);

    [LoggerMessage(EventId = 1112, Level = LogLevel.Warning, Message = "Run {RunId}: writing its log failed, to be tried again: {Message}")]
    private static partial void LogLogWriteFailed(ILogger logger, long runId, string message);

    [LoggerMessage(EventId = 1111, Level = LogLevel.Warning, Message = "Run {RunId}: heartbeat failed: {Message}")]
    private static partial void LogHeartbeatFailed(ILogger logger, long runId, string message);
}
