namespace OperationsHub.Core.Domain;

/// <summary>
/// Failed sign-ins for an email that has no local account, counted like an account's own, so that the answers
/// (incorrect, then locked) cannot tell which emails exist. In the database, so every node answers alike.
/// </summary>
public sealed class SignInThrottle
{
    public required string NormalizedEmail { get; set; }

    public int AccessFailedCount { get; set; }

    public DateTime? LockoutEndsAt { get; set; }

    public DateTime UpdatedAt { get; set; }
}
