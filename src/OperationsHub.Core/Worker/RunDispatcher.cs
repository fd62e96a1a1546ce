namespace OperationsHub.Core.Worker;

/// <summary>
/// Hands a queued run to the worker. The database is the queue, so handing over is telling the worker to look now;
/// a throw means the hand-over failed, and the caller fails the run at once rather than leave it waiting.
/// </summary>
public interface IRunDispatcher
{
    Task DispatchAsync(long runId, CancellationToken cancellationToken);
}

/// <summary>Wakes this node's worker, which claims the run (and whatever else is queued) from the database.</summary>
internal sealed class WorkerWakeDispatcher(RunWorker worker) : IRunDispatcher
{
    public Task DispatchAsync(long runId, CancellationToken cancellationToken)
    {
        worker.Wake();
        return Task.CompletedTask;
    }
}
