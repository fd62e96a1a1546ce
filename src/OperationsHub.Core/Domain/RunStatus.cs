namespace OperationsHub.Core.Domain;

/// <summary>Where a run is in its lifecycle: <c>Queued -> Running -> Completed</c>. Completed is terminal.</summary>
public enum RunStatus
{
    Queued = 0,
    Running = 1,
    Completed = 2,
}

/// <summary>How a run ended. <see cref="Pending"/> until the run is <see cref="RunStatus.Completed"/>.</summary>
public enum RunOutcome
{
    Pending = 0,
    Succeeded = 1,
    PartiallySucceeded = 2,
    Failed = 3,
    Cancelled = 4,
}
