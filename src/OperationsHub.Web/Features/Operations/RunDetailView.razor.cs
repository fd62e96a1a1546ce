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
    private bool _busy;
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

    private bool CanCancel => _details is { Run.Status: not RunStatus.Completed, CancelRequestedAt: null }
        && TenantPermissions.CanCancelRun(Tenant.Role, _details.InitiatorUserId == Tenant.UserId);

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
            Watch(RunChangeScope.ForRun(RunId), _ => LoadAsync());
        }

        await LoadAsync();
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
        _busy = true;
        try
        {
            var user = (await AuthenticationState).User;
            var result = await Commands.CancelAsync(user, Tenant.ExternalId, RunId, Disposing);
            if (result.Status == CommandStatus.Unauthenticated)
            {
                // The session ended (signed out elsewhere, locked, expired): the page turns into the signed-out notice.
                await Sessions.EnsureLiveAsync(Disposing);
                return;
            }

            if (result.Succeeded)
            {
                Snackbar.Add("Cancellation requested.", Severity.Info);
            }
            else
            {
                Snackbar.Add(result.Message ?? "The run could not be cancelled.", Severity.Warning);
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
