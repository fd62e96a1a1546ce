namespace OperationsHub.Core.Data;

/// <summary>
/// Serializes this process's write transactions. SQLite admits one writer at a time anyway; letting writers
/// collide inside the database means SQLITE_BUSY and the busy handler's sleeps (1, 2, 5, 10 … 100 ms), which
/// collapses throughput under load. Queuing them here costs nothing and keeps the busy timeout for other processes.
/// </summary>
internal sealed class WriteGate
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    public async ValueTask<Releaser> EnterAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        return new Releaser(_gate);
    }

    internal readonly struct Releaser(SemaphoreSlim gate) : IDisposable
    {
        public void Dispose() => gate.Release();
    }
}
