namespace OperationsHub.Core.Worker;

/// <summary>
/// Who holds a lease: unique per process start, so a restarted node never mistakes its predecessor's runs for its
/// own live ones.
/// </summary>
public sealed class WorkerIdentity(string name)
{
    public WorkerIdentity()
        : this(Bound($"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}"))
    {
    }

    public string Name { get; } = name;

    private static string Bound(string value) => value.Length <= 128 ? value : value[^128..];
}
