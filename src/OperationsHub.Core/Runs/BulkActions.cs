using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Operations;

namespace OperationsHub.Core.Runs;

/// <summary>What a bulk action does to each run it covers.</summary>
public enum BulkActionKind
{
    Cancel,
    Retry,
}

/// <summary>Limits of bulk actions (section <c>BulkActions</c>).</summary>
public sealed class BulkActionOptions
{
    public const string SectionName = "BulkActions";

    /// <summary>The most runs one bulk action may cover; a larger selection is refused, never cut short silently.</summary>
    public int MaxRuns { get; set; } = 1_000;
}

/// <summary>
/// A bulk action is itself an operation run (type <see cref="Type"/>), started by the person who asked for it, over a
/// frozen list of runs (its items): it is visible, live, notified and audited like any other run. Each covered run's
/// timeline names it ("Cancelled by bulk action #60 (Mateo Manager)"); a covered run that is already completed (or,
/// for a retry, still active or succeeded) is counted as skipped.
/// </summary>
public static class BulkActions
{
    public const string Type = "bulk_action";
    public const string ActionInput = "action";
    public const string SelectionInput = "selection";
    public const string ReasonInput = "reason";

    public static OperationTypeDescriptor Descriptor { get; } = new(Type, "Bulk action")
    {
        Description = "Cancels or retries a selection of runs, one by one, with an outcome per run.",
        IdentityInputs = [ActionInput, SelectionInput],
        // Started from the runs grid or the bulk endpoint only, never from the generic start surfaces.
        Internal = true,
        DefaultTarget = "Selected runs",
    };

    public static string Key(BulkActionKind action) => action == BulkActionKind.Cancel ? "cancel" : "retry";

    public static bool TryParse(string? text, out BulkActionKind action)
    {
        switch (text?.Trim().ToLowerInvariant())
        {
            case "cancel":
                action = BulkActionKind.Cancel;
                return true;
            case "retry":
                action = BulkActionKind.Retry;
                return true;
            default:
                action = default;
                return false;
        }
    }

    /// <summary>
    /// The start request of a bulk action over <paramref name="runIds"/>. Its identity is the action and the exact set
    /// of runs, so the same action over the same runs asked twice (a double click) is one run.
    /// </summary>
    public static StartRunRequest Request(
        long tenantId, BulkActionKind action, IReadOnlyCollection<long> runIds, string? reason, RunInitiator initiator)
    {
        ArgumentNullException.ThrowIfNull(runIds);
        var ids = runIds.Distinct().Order().ToList();
        var joined = string.Join(',', ids.Select(id => id.ToString(CultureInfo.InvariantCulture)));
        var selection = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(joined)))[..16];
        var inputs = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!string.IsNullOrWhiteSpace(reason))
        {
            inputs[ReasonInput] = reason.Trim();
        }

        return new StartRunRequest
        {
            TenantId = tenantId,
            Type = Type,
            IdentityInputs = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                [ActionInput] = Key(action),
                [SelectionInput] = selection,
            },
            Inputs = inputs,
            Target = string.Create(CultureInfo.InvariantCulture,
                $"{(action == BulkActionKind.Cancel ? "Cancel" : "Retry")} {ids.Count:N0} run{(ids.Count == 1 ? "" : "s")}"),
            Items = [.. ids.Select(id => id.ToString(CultureInfo.InvariantCulture))],
            Initiator = initiator,
        };
    }
}

/// <summary>Works a bulk action's runs one by one, stopping between runs when the bulk run itself is cancelled.</summary>
internal sealed class BulkActionHandler(OperationRunService runs, IDbContextFactory<HubDbContext> dbFactory) : IOperationHandler
{
    public async Task ExecuteAsync(IOperationContext context, CancellationToken cancellationToken)
    {
        if (!BulkActions.TryParse(context.Context.Inputs.GetValueOrDefault(BulkActions.ActionInput), out var action))
        {
            throw new OperationFailedException("invalid_bulk_action", "The bulk action names no action the hub knows (cancel or retry).");
        }

        var ids = (context.Context.Items ?? [])
            .Select(item => long.TryParse(item, NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? id : 0)
            .Where(id => id > 0)
            .ToList();
        context.SetTotal(ids.Count);

        Dictionary<long, (RunStatus Status, RunOutcome Outcome)> states;
        RunInitiator initiator;
        await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
        {
            var self = await db.Runs.AsNoTracking().Where(r => r.Id == context.RunId)
                .Select(r => new { r.InitiatorUserId, r.InitiatorName }).SingleAsync(cancellationToken);
            if (self.InitiatorUserId is not { } userId)
            {
                throw new OperationFailedException("no_initiator", "A bulk action acts for a person, and this one names nobody.");
            }

            initiator = new RunInitiator(userId, self.InitiatorName ?? "a member");
            // Tenant-scoped: a run number of another tenant in the list is "not found" here, never touched.
            states = await db.Runs.AsNoTracking()
                .Where(r => r.TenantId == context.TenantId && ids.Contains(r.Id))
                .Select(r => new { r.Id, r.Status, r.Outcome })
                .ToDictionaryAsync(r => r.Id, r => (r.Status, r.Outcome), cancellationToken);
        }

        var by = string.Create(CultureInfo.InvariantCulture, $"bulk action #{context.RunId} ({initiator.DisplayName})");
        var reason = context.Context.Inputs.GetValueOrDefault(BulkActions.ReasonInput);
        context.Log(RunLogLevel.Information,
            $"{(action == BulkActionKind.Cancel ? "Cancelling" : "Retrying")} {ids.Count:N0} runs for {initiator.DisplayName}.");
        foreach (var id in ids)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var label = string.Create(CultureInfo.InvariantCulture, $"#{id}");
            if (!states.TryGetValue(id, out var state))
            {
                context.Log(RunLogLevel.Warning, $"{label}: no such run in this tenant (it may have been pruned); skipped.");
                context.ItemSkipped();
                continue;
            }

            if (action == BulkActionKind.Cancel)
            {
                await CancelOneAsync(context, id, label, state.Status, by, reason, cancellationToken);
            }
            else
            {
                await RetryOneAsync(context, id, label, state, initiator, by, cancellationToken);
            }
        }
    }

    private async Task CancelOneAsync(
        IOperationContext context, long id, string label, RunStatus status, string by, string? reason, CancellationToken ct)
    {
        if (status == RunStatus.Completed)
        {
            context.Log(RunLogLevel.Information, $"{label}: already completed; skipped.");
            context.ItemSkipped();
            return;
        }

        if (await runs.CancelAsync(id, by, reason, ct))
        {
            context.Log(RunLogLevel.Information, $"{label}: {(status == RunStatus.Queued ? "cancelled" : "cancellation requested")}.");
            context.ItemSucceeded();
        }
        else
        {
            context.Log(RunLogLevel.Information, $"{label}: finished or was already being cancelled meanwhile; skipped.");
            context.ItemSkipped();
        }
    }

    private async Task RetryOneAsync(
        IOperationContext context, long id, string label, (RunStatus Status, RunOutcome Outcome) state,
        RunInitiator initiator, string by, CancellationToken ct)
    {
        if (state.Status != RunStatus.Completed)
        {
            context.Log(RunLogLevel.Information, $"{label}: still {state.Status.ToString().ToLowerInvariant()}; skipped.");
            context.ItemSkipped();
            return;
        }

        if (state.Outcome == RunOutcome.Succeeded)
        {
            context.Log(RunLogLevel.Information, $"{label}: succeeded, nothing to retry; skipped.");
            context.ItemSkipped();
            return;
        }

        var result = await runs.RetryAsync(new RetryRequest
        {
            TenantId = context.TenantId,
            RunId = id,
            Initiator = initiator,
            RequestedBy = by,
        }, ct);
        if (result.Refusal is { } refusal)
        {
            context.ItemFailed("not_retryable", refusal.Message, label);
            context.Log(RunLogLevel.Warning, $"{label}: {refusal.Message}");
        }
        else if (result.Started is { Deduped: true } deduped)
        {
            context.Log(RunLogLevel.Information,
                string.Create(CultureInfo.InvariantCulture, $"{label}: the same work is already active as #{deduped.Run.Id}; skipped."));
            context.ItemSkipped();
        }
        else
        {
            context.Log(RunLogLevel.Information,
                string.Create(CultureInfo.InvariantCulture, $"{label}: retried as #{result.Started!.Run.Id}."));
            context.ItemSucceeded();
        }
    }
}
