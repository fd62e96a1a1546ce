using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.JSInterop;
using MudBlazor;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Feed;
using OperationsHub.Core.Operations;
using OperationsHub.Web.Features.Live;
using OperationsHub.Web.Features.Tenants;

namespace OperationsHub.Web.Features.Operations;

/// <summary>One run in full, rendered from the database and re-queried whenever the run changes.</summary>
public sealed partial class RunDetailView
{
    private RunDetails? _details;
    private List<BreadcrumbItem> _breadcrumbs = [];
    private long _subscribedRunId;
    // Deliveries heard for the run so far: the log below reads its new lines on each (one subscription per page).
    private long _signals;
    private bool _busy;
    private bool _ticking;
    private string _announcement = "";

    [Inject]
    private RunQueries Queries { get; set; } = default!;

    [Inject]
    private RunCommands Commands { get; set; } = default!;

    [Inject]
    private OperationTypeRegistry Registry { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    [Inject]
    private Auth.RevalidatingSessionStateProvider Sessions { get; set; } = default!;

    [Inject]
    private IJSRuntime JS { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    [Inject]
    private TimeProvider Time { get; set; } = default!;

    [CascadingParameter]
    private Task<AuthenticationState> AuthenticationState { get; set; } = default!;

    [Parameter, EditorRequired]
    public TenantContext Tenant { get; set; } = default!;

    [Parameter, EditorRequired]
    public long RunId { get; set; }

    /// <summary>The grid view's query string the user came from.</summary>
    [Parameter]
    public string? From { get; set; }

    private DateTime Now => Time.GetUtcNow().UtcDateTime;

    [Inject]
    private IDialogService Dialogs { get; set; } = default!;

    [Inject]
    private Microsoft.Extensions.Options.IOptions<OperationsHub.Core.Worker.WorkerOptions> Worker { get; set; } = default!;

    /// <summary>The clock leases are written by (the database's), for "No heartbeat for ...".</summary>
    [Inject]
    private OperationsHub.Core.Runs.DatabaseClock Clock { get; set; } = default!;

    [Inject]
    private Microsoft.Extensions.Options.IOptions<Telemetry.TelemetryOptions> Telemetry { get; set; } = default!;

    private bool CanCancel => _details is { Run.Status: not RunStatus.Completed, CancelRequestedAt: null }
        && TenantPermissions.CanCancelRun(Tenant.Role);

    private bool CanRetry => _details is { Run.Status: RunStatus.Completed, Retryable: true } && TenantPermissions.CanRetryRun(Tenant.Role);

    /// <summary>How long a running run has been silent, when that is past the stale threshold; else null.</summary>
    /// <summary>Silent since the last renewal, on the clock the lease was written by (the database's).</summary>
    private TimeSpan? StaleFor => _details is { Run.Status: RunStatus.Running } d ? Worker.Value.StaleFor(d.LeaseExpiresAt, Clock.UtcNow) : null;

    private static string ItemsText(IReadOnlyList<string> items) =>
        items.Count <= 12 ? string.Join(", ", items) : $"{string.Join(", ", items.Take(12))} and {items.Count - 12:N0} more";

    private double Percent => _details is { Run.Total: > 0 } d ? Math.Clamp(100.0 * d.Run.Processed / d.Run.Total, 0, 100) : 0;

    private TimeSpan? QueueWait => _details?.Run.StartedAt - _details?.Run.CreatedAt;

    private TimeSpan? RunTime => _details?.Run.StartedAt is { } started ? (_details.Run.CompletedAt ?? Now) - started : null;

    private string OperationsPath => HubLinks.Operations(Tenant.ExternalId);

    protected override async Task OnParametersSetAsync()
    {
        // Only a view the grid can show goes into the breadcrumb: re-parsed and re-written, never echoed back raw.
        var known = Registry.All.Select(t => t.Type).ToHashSet(StringComparer.Ordinal);
        var back = From is null ? "" : RunsFilter.Parse(From, known).ToQuery();
        _breadcrumbs =
        [
            new BreadcrumbItem(Tenant.Name, HubLinks.Dashboard(Tenant.ExternalId)),
            new BreadcrumbItem("Operations", back.Length == 0 ? OperationsPath : $"{OperationsPath}?{back}"),
            new BreadcrumbItem($"#{RunId}", null),
        ];

        if (_subscribedRunId != RunId)
        {
            StopWatching();
            _subscribedRunId = RunId;
            Watch(RunChangeScope.ForRun(RunId), _ =>
            {
                _signals++;
                return LoadAsync();
            });
        }

        await LoadAsync();
        if (!_ticking)
        {
            // While the run is active its run time keeps counting, and a run that went silent (no heartbeat, so no
            // signal) is shown as possibly stuck without waiting for one.
            _ticking = true;
            RerenderEvery(TimeSpan.FromSeconds(5), Time, () => _details is { Run.Status: not RunStatus.Completed });
        }
    }

    private async Task LoadAsync()
    {
        var before = _details?.Run;
        _details = await Queries.GetDetailsAsync(Tenant.TenantId, RunId, Disposing);
        if (before is not null && _details is { } now && (before.Status != now.Run.Status || before.Outcome != now.Run.Outcome))
        {
            _announcement = $"Run {now.Run.Id} is now {OperationVisuals.State(now.Run.Status, now.Run.Outcome).Text}.";
        }
    }

    private async Task CancelAsync()
    {
        var run = _details!.Run;
        var what = run.Status == RunStatus.Queued
            ? $"{run.DisplayName} #{run.Id} is queued: it will be cancelled before it starts."
            : $"{run.DisplayName} #{run.Id} is running ({run.Processed:N0} of {run.Total:N0} done): it will be asked to stop, and ends as cancelled when it does. What it already did stays done.";
        var dialog = await Dialogs.ShowAsync<CancelRunDialog>(
            $"Cancel run #{run.Id}?",
            new DialogParameters<CancelRunDialog> { { d => d.What, what } },
            new DialogOptions { MaxWidth = MaxWidth.Small, FullWidth = true, CloseOnEscapeKey = true });
        var answer = await dialog.Result;
        if (answer is not { Canceled: false, Data: string reason })
        {
            return;
        }

        await ActAsync(async user =>
        {
            var result = await Commands.CancelAsync(user, Tenant.ExternalId, RunId, Disposing, reason.Length == 0 ? null : reason);
            if (result.Succeeded)
            {
                Snackbar.Add("Cancellation requested.", Severity.Info);
            }

            return (result.Status, result.Message ?? "The run could not be cancelled.");
        });
    }

    private Task RetryAsync(bool failedItemsOnly) => ActAsync(async user =>
    {
        var result = await Commands.RetryAsync(user, Tenant.ExternalId, RunId, failedItemsOnly, Disposing);
        if (result is { Succeeded: true, Value: { } started })
        {
            // Like every start surface: queued is not success, and a deduped answer says which run has the work.
            Notifications.RunToast.Started(Snackbar, _details!.Run.DisplayName, started, HubLinks.Run(Tenant.ExternalId, started.Run.Id),
                started.Deduped ? "the same work was already active" : $"retry of #{RunId}");
            Navigation.NavigateTo(RunLink(started.Run.Id));
        }

        return (result.Status, result.Message ?? "The run could not be retried.");
    });

    /// <summary>
    /// Runs an action for the signed-in user: a session that ended turns the page into the signed-out notice, a refusal
    /// is said in a toast, and the page reads the run again either way.
    /// </summary>
    private async Task ActAsync(Func<System.Security.Claims.ClaimsPrincipal, Task<(CommandStatus Status, string Message)>> action)
    {
        _busy = true;
        try
        {
            var user = (await AuthenticationState).User;
            var (status, message) = await action(user);
            if (status == CommandStatus.Unauthenticated)
            {
                // The session ended (signed out elsewhere, locked, expired): the page turns into the signed-out notice.
                await Sessions.EnsureLiveAsync(Disposing);
                return;
            }

            if (status != CommandStatus.Ok)
            {
                Snackbar.Add(message, Severity.Warning);
            }

            await LoadAsync();
        }
        finally
        {
            _busy = false;
        }
    }

    private async Task CopyLinkAsync()
    {
        var link = Navigation.ToAbsoluteUri(HubLinks.Run(Tenant.ExternalId, RunId)).ToString();
        try
        {
            await JS.InvokeVoidAsync("navigator.clipboard.writeText", link);
            Snackbar.Add("Link copied.", Severity.Success);
        }
        catch (JSException)
        {
            // Clipboard access can be refused (insecure origin, permissions): show the link to copy by hand.
            Snackbar.Add($"Copy this link: {link}", Severity.Info);
        }
    }

    private string RunLink(long runId) => HubLinks.Run(Tenant.ExternalId, runId) + (From is null ? "" : $"?from={Uri.EscapeDataString(From)}");
}
