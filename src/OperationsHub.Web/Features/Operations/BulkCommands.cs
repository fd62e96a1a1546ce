using System.Security.Claims;
using Microsoft.Extensions.Options;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Runs;
using OperationsHub.Core.Storage;
using OperationsHub.Web.Features.Tenants;

namespace OperationsHub.Web.Features.Operations;

/// <summary>What a bulk action covers: the runs picked on the grid, or every run matching a grid filter.</summary>
public sealed record BulkSelection(IReadOnlyCollection<long>? RunIds = null, RunsFilter? Filter = null)
{
    public static BulkSelection Of(IReadOnlyCollection<long> runIds) => new(RunIds: runIds);

    public static BulkSelection Matching(RunsFilter filter) => new(Filter: filter);
}

/// <summary>
/// What a bulk action would cover, counted before anything happens: how many runs, and how many of them are queued,
/// running and already completed (those are skipped by a cancel). <see cref="OverCap"/>: more than <see cref="Cap"/>.
/// </summary>
public sealed record BulkPreview(int Count, int Queued, int Running, int Completed, int Cap)
{
    public bool OverCap => Count > Cap;
}

/// <summary>
/// Bulk cancel and retry, for Managers and Owners. The exact set is counted when asked and again when confirmed; a
/// count that no longer matches is a conflict, so nobody acts on a set other than the one they saw. A confirmed
/// bulk action is a <c>bulk_action</c> run over that frozen set.
/// </summary>
public sealed class BulkCommands(
    TenantAccess access,
    OperationRunService runs,
    RunsGridQuery grid,
    IOptions<BulkActionOptions> options,
    IRunStore store)
{
    /// <summary>The most run numbers a caller may list; the cap applies after them.</summary>
    public const int MaxListedRuns = 10_000;

    public int Cap => options.Value.MaxRuns;

    public async Task<CommandResult<BulkPreview>> PreviewAsync(
        ClaimsPrincipal user, string tenantExternalId, BulkSelection selection, CancellationToken cancellationToken)
    {
        var (status, tenant, message) = await AuthorizeAsync(user, tenantExternalId, cancellationToken);
        if (status != CommandStatus.Ok)
        {
            return new(status, Message: message);
        }

        if (Invalid(selection) is { } invalid)
        {
            return new(CommandStatus.Invalid, Message: invalid, Field: "selection");
        }

        var targets = await TargetsAsync(tenant!, selection, cancellationToken);
        return new(CommandStatus.Ok, Preview(targets));
    }

    /// <summary>
    /// Starts the bulk action over the selection, if it still holds exactly <paramref name="expectedCount"/> runs (else
    /// <see cref="CommandStatus.Conflict"/>, nothing done) and no more than the cap (else <see cref="CommandStatus.Invalid"/>).
    /// </summary>
    public async Task<CommandResult<StartRunResult>> StartAsync(
        ClaimsPrincipal user, string tenantExternalId, BulkActionKind action, BulkSelection selection, int expectedCount,
        string? reason, CancellationToken cancellationToken)
    {
        var (status, tenant, message) = await AuthorizeAsync(user, tenantExternalId, cancellationToken);
        if (status != CommandStatus.Ok)
        {
            return new(status, Message: message);
        }

        if (Invalid(selection) is { } invalid)
        {
            return new(CommandStatus.Invalid, Message: invalid, Field: "selection");
        }

        if (RunCommands.ReasonRefusal(reason) is { } tooLong)
        {
            return new(CommandStatus.Invalid, Message: tooLong, Field: "reason");
        }

        try
        {
            var targets = await TargetsAsync(tenant!, selection, cancellationToken);
            if (targets.Count == 0)
            {
                return new(CommandStatus.Invalid, Message: "No runs are selected, so there is nothing to act on.", Field: "selection");
            }

            if (targets.Count > Cap)
            {
                return new(CommandStatus.Invalid, Message: CapMessage(targets.Count), Field: "selection");
            }

            if (targets.Count != expectedCount)
            {
                return new(CommandStatus.Conflict, Message:
                    $"The selection now holds {targets.Count:N0} run{(targets.Count == 1 ? "" : "s")}, not {expectedCount:N0}: review it and confirm again.");
            }

            var started = await runs.StartAsync(
                BulkActions.Request(tenant!.TenantId, action, [.. targets.Select(t => t.Id)], reason,
                    new RunInitiator(tenant.UserId, tenant.UserName)),
                cancellationToken);
            return new(CommandStatus.Ok, started);
        }
        catch (Exception ex) when (store.IsTransient(ex))
        {
            return new(CommandStatus.Unavailable, Message: RunCommands.BusyMessage("started"));
        }
    }

    public string CapMessage(int count) =>
        $"{(count > Cap + 1 ? "More than" : "")} {Math.Min(count, Cap + 1):N0} runs match, and a bulk action covers at most {Cap:N0}: narrow the filter and try again."
            .TrimStart();

    private async Task<(CommandStatus Status, TenantContext? Tenant, string? Message)> AuthorizeAsync(
        ClaimsPrincipal user, string tenantExternalId, CancellationToken cancellationToken)
    {
        var resolved = await access.ResolveAsync(user, tenantExternalId, cancellationToken);
        if (resolved.Status != AccessStatus.Allowed)
        {
            return (RunCommands.Map(resolved.Status), null, RunCommands.Refusal(resolved.Status, "tenant"));
        }

        var tenant = resolved.Tenant!;
        return TenantPermissions.CanBulkAct(tenant.Role)
            ? (CommandStatus.Ok, tenant, null)
            : (CommandStatus.Forbidden, tenant, $"Your role in {tenant.Name} ({tenant.Role}) cannot act on many runs at once: that takes Manager or Owner.");
    }

    private static string? Invalid(BulkSelection selection) => selection switch
    {
        { RunIds: not null, Filter: not null } => "Name either run numbers or a filter, not both.",
        { RunIds: null, Filter: null } => "Name the runs: run numbers, or a filter of the runs grid.",
        { RunIds.Count: > MaxListedRuns } => $"At most {MaxListedRuns:N0} run numbers may be listed.",
        { RunIds: { } ids } when ids.Any(id => id <= 0) => "Run numbers are positive whole numbers.",
        _ => null,
    };

    /// <summary>The runs covered, up to one past the cap (enough to refuse a larger set without reading it all).</summary>
    private async Task<IReadOnlyList<(long Id, RunStatus Status)>> TargetsAsync(
        TenantContext tenant, BulkSelection selection, CancellationToken cancellationToken)
    {
        if (selection.RunIds is { } ids)
        {
            return await grid.AmongAsync(tenant.TenantId, ids, cancellationToken);
        }

        // Every page of the view, in no page: the filter's criteria only.
        var filter = selection.Filter! with { Page = 0 };
        return await grid.MatchingAsync(tenant.TenantId, tenant.UserId, filter, Cap + 1, cancellationToken);
    }

    private BulkPreview Preview(IReadOnlyList<(long Id, RunStatus Status)> targets) => new(
        targets.Count,
        targets.Count(t => t.Status == RunStatus.Queued),
        targets.Count(t => t.Status == RunStatus.Running),
        targets.Count(t => t.Status == RunStatus.Completed),
        Cap);
}
