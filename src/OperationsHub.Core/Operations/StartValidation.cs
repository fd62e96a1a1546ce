using OperationsHub.Core.Runs;

namespace OperationsHub.Core.Operations;

/// <summary>Why a start request was refused before any run was recorded.</summary>
public enum StartRejectionKind
{
    /// <summary>The request is wrong (an input missing, malformed or pointing at nothing): 422.</summary>
    Invalid,

    /// <summary>The request points at something of another tenant: 403.</summary>
    Forbidden,
}

public sealed record StartRejection(StartRejectionKind Kind, string Message, string Field = "inputs");

/// <summary>
/// Checks a start request of one operation type against the database before a run is recorded (for example, that a
/// restore names a completed backup of the same tenant). Runs inside <see cref="OperationRunService.StartAsync"/>, so
/// every start surface (button, page, API, demo) is checked the same way.
/// </summary>
public interface IOperationStartValidator
{
    string Type { get; }

    ValueTask<StartRejection?> ValidateAsync(StartRunRequest request, CancellationToken cancellationToken);
}

/// <summary>Thrown by <see cref="OperationRunService.StartAsync"/> when a validator refused the request.</summary>
public sealed class StartRejectedException(StartRejection rejection) : Exception(rejection.Message)
{
    public StartRejection Rejection { get; } = rejection;
}
