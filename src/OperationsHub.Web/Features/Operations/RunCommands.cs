using System.Security.Claims;
using Microsoft.EntityFrameworkCore;
using OperationsHub.Core.Data;
using OperationsHub.Core.Operations;
using OperationsHub.Core.Runs;
using OperationsHub.Core.Storage;
using OperationsHub.Web.Features.Tenants;

namespace OperationsHub.Web.Features.Operations;

public enum CommandStatus
{
    Ok,
    Unauthenticated,
    NotFound,
    Forbidden,
    Invalid,
    Conflict,

    /// <summary>The database is busy past its timeout; nothing was changed and the caller may try again.</summary>
    Unavailable,
}

public sealed record CommandResult<T>(CommandStatus Status, T? Value = default, string? Message = null, string? Field = null)
{
    public bool Succeeded => Status == CommandStatus.Ok;
}

/// <summary>What a start surface asks for: an operation type and the inputs that identify and describe the work.</summary>
public sealed record StartRunInput(
    string Type,
    IReadOnlyDictionary<string, string>? IdentityInputs = null,
    string? Target = null,
    IReadOnlyDictionary<string, string>? Inputs = null);

/// <summary>
/// Every action that changes something goes through here, and every one checks membership and role itself,
/// so a forged call from a Readonly member (or from another tenant) is refused whatever the UI showed.
/// </summary>
public sealed class RunCommands(
    TenantAccess access,
    OperationRunService runs,
    OperationTypeRegistry registry,
    IRunStore store)
{
    private const int MaxInputs = 32;
    private const int MaxInputLength = 512;

    public async Task<CommandResult<StartRunResult>> StartAsync(
        ClaimsPrincipal user, string tenantExternalId, StartRunInput input, CancellationToken cancellationToken)
    {
        var resolved = await access.ResolveAsync(user, tenantExternalId, cancellationToken);
        if (resolved.Status != AccessStatus.Allowed)
        {
            return new(Map(resolved.Status), Message: Refusal(resolved.Status, "tenant"));
        }

        var tenant = resolved.Tenant!;
        if (!TenantPermissions.CanStartRuns(tenant.Role))
        {
            return new(CommandStatus.Forbidden, Message: $"Your role in {tenant.Name} ({tenant.Role}) cannot start operations.");
        }

        if (!registry.TryGet(input.Type, out var descriptor) || descriptor.Internal)
        {
            return new(CommandStatus.Invalid, Message: $"'{Core.Sanitization.Sanitizer.SanitizeKey(input.Type)}' is not an operation type.", Field: "type");
        }

        var identity = input.IdentityInputs ?? new Dictionary<string, string>();
        var missing = descriptor.IdentityInputs.Where(name => !identity.TryGetValue(name, out var v) || string.IsNullOrWhiteSpace(v)).ToList();
        if (missing.Count > 0)
        {
            return new(CommandStatus.Invalid, Message: $"{descriptor.DisplayName} needs: {string.Join(", ", missing)}.", Field: "identityInputs");
        }

        var extra = input.Inputs ?? new Dictionary<string, string>();
        // JSON callers can send null where a string belongs; say which input, rather than fail on it later.
        if (identity.Concat(extra).FirstOrDefault(p => p.Value is null) is { Key: { } withoutValue })
        {
            return new(CommandStatus.Invalid, Message: $"The input '{Core.Sanitization.Sanitizer.SanitizeKey(withoutValue)}' needs a text value.", Field: "inputs");
        }

        if (identity.Count + extra.Count > MaxInputs
            || identity.Concat(extra).Any(p => p.Key.Length > 64 || p.Value.Length > MaxInputLength)
            || input.Target?.Length > MaxInputLength)
        {
            return new(CommandStatus.Invalid, Message: $"At most {MaxInputs} inputs of up to {MaxInputLength} characters each.", Field: "inputs");
        }

        try
        {
            var result = await runs.StartAsync(new StartRunRequest
            {
                TenantId = tenant.TenantId,
                Type = descriptor.Type,
                IdentityInputs = identity,
                Inputs = extra,
                Target = input.Target,
                Initiator = new RunInitiator(tenant.UserId, tenant.UserName),
            }, cancellationToken);
            return new(CommandStatus.Ok, result);
        }
        catch (StartRejectedException rejected)
        {
            var status = rejected.Rejection.Kind == StartRejectionKind.Forbidden ? CommandStatus.Forbidden : CommandStatus.Invalid;
            return new(status, Message: rejected.Rejection.Message, Field: rejected.Rejection.Field);
        }
        catch (Exception ex) when (store.IsTransient(ex))
        {
            return new(CommandStatus.Unavailable, Message: BusyMessage("started"));
        }
    }

    /// <summary>
    /// Cancels a queued or running run, with an optional reason for its timeline. Operators and up, for their own
    /// runs and others'.
    /// </summary>
    public async Task<CommandResult<bool>> CancelAsync(
        ClaimsPrincipal user, string tenantExternalId, long runId, CancellationToken cancellationToken, string? reason = null)
    {
        var resolved = await access.ResolveRunAsync(user, tenantExternalId, RunNumber(runId), cancellationToken);
        if (resolved.Status != AccessStatus.Allowed)
        {
            return new(Map(resolved.Status), Message: Refusal(resolved.Status, "run"));
        }

        var tenant = resolved.Tenant!;
        if (!TenantPermissions.CanCancelRun(tenant.Role))
        {
            return new(CommandStatus.Forbidden, Message: $"Your role in {tenant.Name} ({tenant.Role}) cannot cancel runs.");
        }

        if (ReasonRefusal(reason) is { } tooLong)
        {
            return new(CommandStatus.Invalid, Message: tooLong, Field: "reason");
        }

        try
        {
            return await runs.CancelAsync(runId, tenant.UserName, reason, cancellationToken)
                ? new(CommandStatus.Ok, true)
                : new(CommandStatus.Conflict, false, "The run has already finished or is already being cancelled.");
        }
        catch (Exception ex) when (store.IsTransient(ex))
        {
            return new(CommandStatus.Unavailable, Message: BusyMessage("cancelled"));
        }
    }

    /// <summary>
    /// Retries a completed run (or runs a succeeded one again) as a new run linked to it, through the one start path:
    /// when the same work is already active, the answer is that run (deduped). With <paramref name="failedItemsOnly"/>,
    /// only the failed items, for a type that supports it. Operators and up.
    /// </summary>
    public async Task<CommandResult<StartRunResult>> RetryAsync(
        ClaimsPrincipal user, string tenantExternalId, long runId, bool failedItemsOnly, CancellationToken cancellationToken)
    {
        var resolved = await access.ResolveRunAsync(user, tenantExternalId, RunNumber(runId), cancellationToken);
        if (resolved.Status != AccessStatus.Allowed)
        {
            return new(Map(resolved.Status), Message: Refusal(resolved.Status, "run"));
        }

        var tenant = resolved.Tenant!;
        if (!TenantPermissions.CanRetryRun(tenant.Role))
        {
            return new(CommandStatus.Forbidden, Message: $"Your role in {tenant.Name} ({tenant.Role}) cannot retry runs.");
        }

        try
        {
            var result = await runs.RetryAsync(new RetryRequest
            {
                TenantId = tenant.TenantId,
                RunId = runId,
                Initiator = new RunInitiator(tenant.UserId, tenant.UserName),
                FailedItemsOnly = failedItemsOnly,
            }, cancellationToken);
            return result.Refusal is { } refusal
                ? new(refusal.Kind == RetryRefusalKind.NotFound ? CommandStatus.NotFound : CommandStatus.Conflict, Message: refusal.Message)
                : new(CommandStatus.Ok, result.Started);
        }
        catch (Exception ex) when (store.IsTransient(ex))
        {
            return new(CommandStatus.Unavailable, Message: BusyMessage("retried"));
        }
    }

    private static string RunNumber(long runId) => runId.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Why a reason given for an action is refused (too long); null when it is fine or absent.</summary>
    internal static string? ReasonRefusal(string? reason) => reason?.Length > OperationRunService.MaxReasonLength
        ? $"A reason may be at most {OperationRunService.MaxReasonLength} characters."
        : null;

    internal static string BusyMessage(string what) =>
        $"The hub's database is busy right now, so nothing was {what}. Try again in a few seconds.";

    public const string SignedOutMessage = "You were signed out — sign in again.";

    /// <summary>What a refused action says for a tenant or run the user may not act on (shared by every command class).</summary>
    internal static string Refusal(AccessStatus status, string noun) => status switch
    {
        AccessStatus.Unauthenticated => SignedOutMessage,
        AccessStatus.NotFound => $"There is no such {noun}.",
        // Also what a member whose membership was just removed reads on the page they still had open.
        _ => $"You do not have access to this {noun}: your membership may have been removed. Reload to see what you can open.",
    };

    internal static CommandStatus Map(AccessStatus status) => status switch
    {
        AccessStatus.Unauthenticated => CommandStatus.Unauthenticated,
        AccessStatus.NotFound => CommandStatus.NotFound,
        _ => CommandStatus.Forbidden,
    };
}
