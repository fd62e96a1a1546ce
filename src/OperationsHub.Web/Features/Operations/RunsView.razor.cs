using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Routing;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Feed;
using OperationsHub.Core.Operations;
using OperationsHub.Web.Features.Live;
using OperationsHub.Web.Features.Tenants;

namespace OperationsHub.Web.Features.Operations;

/// <summary>
/// The runs grid of one tenant, live. Renders from the database only: change signals carry ids, and this view answers
/// them by re-querying the one page it shows (or, off the first page, by counting what is new). Filters, sort and page
/// live in the URL.
/// </summary>
public sealed partial class RunsView
{
    private RunsFilter _filter = new();
    private (RunsFilter Filter, RunGridPage Page)? _loaded;
    private HashSet<long> _rowIds = [];
    private long _reads;
    private long _shownRead;
    private long _loadingRead;
    private IReadOnlyList<OperationTypeDescriptor> _types = [];
    private RunsSummary? _summary;
    private bool _live = true;
    private bool _missedWhilePaused;
    // Runs created since this view was read, as signalled: ids are not a clock (a lower id can commit after a higher
    // one was shown), so "new" is "signalled as created", never "above some id".
    private readonly HashSet<long> _newIds = [];
    private int _newRuns;
    private string _announcement = "";
    // The bulk selection: runs ticked on the grid, or every run matching the view (the filter, on every page).
    private readonly HashSet<long> _selected = [];
    private bool _allMatching;
    private bool _bulkBusy;
    private readonly RunGridCells _cells = new();

    [Inject]
    private RunsGridQuery Query { get; set; } = default!;

    [Inject]
    private OperationTypeRegistry Registry { get; set; } = default!;

    [Inject]
    private SharedReads Shared { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    [Inject]
    private TimeProvider Time { get; set; } = default!;

    [Inject]
    private BulkCommands Bulk { get; set; } = default!;

    [Inject]
    private MudBlazor.IDialogService Dialogs { get; set; } = default!;

    [Inject]
    private MudBlazor.ISnackbar Snackbar { get; set; } = default!;

    [Inject]
    private Auth.RevalidatingSessionStateProvider Sessions { get; set; } = default!;

    [CascadingParameter]
    private Task<Microsoft.AspNetCore.Components.Authorization.AuthenticationState> AuthenticationState { get; set; } = default!;

    /// <summary>Managers and owners get the selection column and the bulk actions; the check itself is in BulkCommands.</summary>
    private bool CanBulk => TenantPermissions.CanBulkAct(Tenant.Role);

    private bool AllOnPageSelected => _loaded is { Page.Rows.Count: > 0 } loaded && loaded.Page.Rows.All(r => _selected.Contains(r.Id));

    private string SelectionText => _allMatching
        ? $"All {(_loaded is { Page.TotalIsCapped: true } ? "" : $"{_loaded?.Page.Total ?? 0:N0} ")}runs matching this view are selected."
        : _selected.Count == 1 ? "1 run selected." : $"{_selected.Count:N0} runs selected.";

    [Parameter, EditorRequired]
    public TenantContext Tenant { get; set; } = default!;

    private DateTime Now => Time.GetUtcNow().UtcDateTime;

    private string BasePath => HubLinks.Operations(Tenant.ExternalId);

    /// <summary>A view the user asked for is still being read: no read started since it has been shown.</summary>
    private bool Loading => _loadingRead > _shownRead;

    private int LastPage => _loaded is { } loaded && loaded.Page.Total > 0 ? (loaded.Page.Total - 1) / _filter.PageSize : 0;

    private string PagerInfo
    {
        get
        {
            if (_loaded is not { } loaded || loaded.Page.Total == 0)
            {
                return "0 of 0";
            }

            var culture = System.Globalization.CultureInfo.CurrentCulture;
            var first = (loaded.Filter.Page * loaded.Filter.PageSize) + 1;
            var last = first + loaded.Page.Rows.Count - 1;
            return string.Create(culture, $"{first:N0}-{Math.Max(first, last):N0} of {loaded.Page.Total:N0}{(loaded.Page.TotalIsCapped ? "+" : "")}");
        }
    }

    protected override void Dispose(bool disposing) => Navigation.LocationChanged -= OnLocationChanged;

    protected override async Task OnInitializedAsync()
    {
        _types = Registry.All.Where(t => !t.Internal).OrderBy(t => t.DisplayName, StringComparer.Ordinal).ToList();
        _filter = ParseUrl(Navigation.Uri);
        _summary = await Query.GetSummaryAsync(Tenant.TenantId, Disposing);
        Navigation.LocationChanged += OnLocationChanged;
        // Tenant-scoped: this circuit hears about this tenant's runs only, never anyone else's.
        Watch(RunChangeScope.ForTenant(Tenant.TenantId), OnRunsChangedAsync);
        if (RendererInfo.IsInteractive)
        {
            // "3 min ago" ages even when nothing changes.
            RerenderEvery(TimeSpan.FromSeconds(30), Time);
            if (!string.Equals(new Uri(Navigation.Uri).Query.TrimStart('?'), _filter.ToQuery(), StringComparison.Ordinal))
            {
                // The address names what is shown: a value the page ignored (sort=bogus, an unknown operation, a
                // page size it does not offer) leaves it, in place of this entry, so a copied link is not misleading.
                WriteUrl(replace: true);
            }

            // Not while prerendering: the interactive render would start empty again and the rows would flash away
            // to "Loading runs…" and back, for a second query.
            await LoadAsync();
        }
    }

    /// <summary>
    /// Reads the page of the current view, showing a loading bar: for the user's own changes of view (filter, sort,
    /// page, back and forward), not for live changes (<see cref="RefreshShownPageAsync"/>).
    /// </summary>
    private async Task LoadAsync()
    {
        var wanted = _filter;
        var read = _loadingRead = ++_reads;
        var page = await Query.GetPageAsync(Tenant.TenantId, Tenant.UserId, wanted, Disposing);
        if (wanted.Page > 0 && page.Rows.Count == 0 && page.Total > 0 && ReferenceEquals(wanted, _filter))
        {
            // Past the end (fewer runs than when the link was made): the last page instead, in place of this entry.
            _filter = wanted with { Page = (page.Total - 1) / wanted.PageSize };
            WriteUrl(replace: true);
            await LoadAsync();
            return;
        }

        Show(read, wanted, page);
        if (ShowsNewest(wanted))
        {
            _newRuns = 0;
            _newIds.Clear();
        }
    }

    private async Task ApplyFilterAsync(RunsFilter filter)
    {
        if (filter.Equivalent(_filter))
        {
            return;
        }

        if (!filter.SameCriteria(_filter))
        {
            // Another view is another set of runs: what was selected in the last one is not carried over.
            ClearSelection();
        }

        _filter = filter;
        _newRuns = 0;
        _newIds.Clear();
        WriteUrl();
        await LoadAsync();
    }

    private void ToggleRun(long runId, ChangeEventArgs e)
    {
        if (e.Value is true)
        {
            _selected.Add(runId);
        }
        else
        {
            _selected.Remove(runId);
        }
    }

    private void TogglePage(ChangeEventArgs e)
    {
        if (_loaded is not { } loaded)
        {
            return;
        }

        foreach (var row in loaded.Page.Rows)
        {
            if (e.Value is true)
            {
                _selected.Add(row.Id);
            }
            else
            {
                _selected.Remove(row.Id);
            }
        }
    }

    private void SelectAllMatching() => _allMatching = true;

    private void ClearSelection()
    {
        _selected.Clear();
        _allMatching = false;
    }

    /// <summary>
    /// A bulk action: counts the selection on the server first and shows the count in a dialog; only a confirmed count
    /// is acted on (the server refuses if the set changed meanwhile).
    /// </summary>
    private async Task BulkAsync(Core.Runs.BulkActionKind action)
    {
        _bulkBusy = true;
        try
        {
            var user = (await AuthenticationState).User;
            var selection = _allMatching ? BulkSelection.Matching(_filter) : BulkSelection.Of([.. _selected]);
            var preview = await Bulk.PreviewAsync(user, Tenant.ExternalId, selection, Disposing);
            if (!await AnsweredAsync(preview.Status, preview.Message))
            {
                return;
            }

            var verb = action == Core.Runs.BulkActionKind.Cancel ? "Cancel" : "Retry";
            var dialog = await Dialogs.ShowAsync<BulkActionDialog>(
                $"{verb} runs",
                new MudBlazor.DialogParameters<BulkActionDialog>
                {
                    { d => d.Action, action },
                    { d => d.Preview, preview.Value! },
                    { d => d.CapMessage, Bulk.CapMessage(preview.Value!.Count) },
                },
                new MudBlazor.DialogOptions { MaxWidth = MudBlazor.MaxWidth.Small, FullWidth = true, CloseOnEscapeKey = true });
            if (await dialog.Result is not { Canceled: false, Data: string reason })
            {
                return;
            }

            var started = await Bulk.StartAsync(user, Tenant.ExternalId, action, selection, preview.Value!.Count,
                reason.Length == 0 ? null : reason, Disposing);
            if (!await AnsweredAsync(started.Status, started.Message))
            {
                return;
            }

            ClearSelection();
            Notifications.RunToast.Started(Snackbar, "Bulk action", started.Value!, HubLinks.Run(Tenant.ExternalId, started.Value!.Run.Id),
                $"{verb} {preview.Value.Count:N0} run{(preview.Value.Count == 1 ? "" : "s")}");
        }
        finally
        {
            _bulkBusy = false;
        }
    }

    /// <summary>Whether a command went through; if not, says why (or, for an ended session, shows the signed-out notice).</summary>
    private async Task<bool> AnsweredAsync(CommandStatus status, string? message)
    {
        switch (status)
        {
            case CommandStatus.Ok:
                return true;
            case CommandStatus.Unauthenticated:
                await Sessions.EnsureLiveAsync(Disposing);
                return false;
            default:
                Snackbar.Add(message ?? "That did not work.", MudBlazor.Severity.Warning);
                return false;
        }
    }

    private Task SortByAsync(RunsSortColumn column) =>
        ApplyFilterAsync(_filter with { Sort = RunsFilter.Toggle(_filter.Sort, column), Page = 0 });

    private Task ChangeSortAsync(ChangeEventArgs e) =>
        ApplyFilterAsync(_filter with { Sort = RunsFilter.ParseSort(e.Value as string), Page = 0 });

    private static string SortTitle(RunsSort sort) => sort switch
    {
        RunsSort.Oldest => "Oldest run first",
        RunsSort.CreatedNewest => "Newest created first",
        RunsSort.CreatedOldest => "Oldest created first",
        RunsSort.LongestFirst => "Longest first",
        RunsSort.ShortestFirst => "Shortest first",
        _ => "Newest run first",
    };

    private Task GoToPageAsync(int page) => ApplyFilterAsync(_filter with { Page = Math.Clamp(page, 0, LastPage) });

    private Task ChangePageSizeAsync(ChangeEventArgs e)
    {
        if (!int.TryParse(e.Value as string, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var size)
            || !RunsFilter.PageSizes.Contains(size))
        {
            return Task.CompletedTask;
        }

        // Keep the first run now on screen on screen.
        return ApplyFilterAsync(_filter with { PageSize = size, Page = _filter.Page * _filter.PageSize / size });
    }

    private async Task SetLiveAsync(bool live)
    {
        _live = live;
        if (live && _missedWhilePaused)
        {
            _missedWhilePaused = false;
            _summary = await Query.GetSummaryAsync(Tenant.TenantId, Disposing);
            await LoadAsync();
        }
    }

    /// <summary>The first page, newest first (by run number or creation): new runs appear on it as they come.</summary>
    private static bool ShowsNewest(RunsFilter filter) => filter.Page == 0 && filter.Sort is (RunsSort.Newest or RunsSort.CreatedNewest);

    private Task ShowNewestAsync() => ApplyFilterAsync(_filter with { Page = 0, Sort = RunsSort.Newest });

    /// <summary>A throttled batch of this tenant's changes (or, after a reconnect, an overflow: reload everything).</summary>
    private async Task OnRunsChangedAsync(RunChangeBatch batch)
    {
        if (!_live)
        {
            _missedWhilePaused = true;
            return;
        }

        _summary = await SummaryAsync();
        var atHead = ShowsNewest(_filter);
        // Sorted by duration, any run that finishes may move into (or out of) the page shown: re-read it.
        var reorders = RunsFilter.ColumnOf(_filter.Sort) == RunsSortColumn.Duration;
        var touchesPage = batch.Overflowed || batch.Changes.Any(c => _rowIds.Contains(c.RunId));
        if (atHead || reorders || touchesPage)
        {
            await RefreshShownPageAsync();
        }

        if (atHead || reorders)
        {
            return;
        }

        // A new run may come to match the view later (it completes, say), so any change of a new run recounts.
        var recount = false;
        foreach (var change in batch.Changes)
        {
            recount |= _newIds.Contains(change.RunId)
                || (change.Version == 1 && !_rowIds.Contains(change.RunId) && _newIds.Count <= RunsGridQuery.CountCap && _newIds.Add(change.RunId));
        }

        if (recount)
        {
            _newRuns = await Query.CountAmongAsync(Tenant.TenantId, Tenant.UserId, _filter, _newIds, Disposing);
        }
    }

    private void OnLocationChanged(object? sender, LocationChangedEventArgs e)
    {
        // Back and forward: the URL is the source of truth for the view.
        if (!e.Location.Contains(BasePath, StringComparison.Ordinal))
        {
            return;
        }

        var filter = ParseUrl(e.Location);
        if (!filter.Equivalent(_filter))
        {
            _ = InvokeAsync(async () =>
            {
                _filter = filter;
                StateHasChanged();
                await LoadAsync();
                StateHasChanged();
            });
        }
    }

    /// <summary>
    /// A live change: the same view, fresh rows, no loading bar. Rows are keyed by run, so a new run at the top moves
    /// the others down instead of rewriting every cell, and only what changed goes to the browser.
    /// </summary>
    private async Task RefreshShownPageAsync()
    {
        var filter = _filter;
        var read = ++_reads;
        // Watchers of the same view share one read per change; "started by me" views are per user. The query string
        // already names the page, its size and the sort.
        var key = $"runs-page:{Tenant.TenantId}:{(filter.MineOnly ? Tenant.UserId : 0)}:{filter.ToQuery()}";
        var page = await Shared.GetAsync(key, ct => Query.GetPageAsync(Tenant.TenantId, Tenant.UserId, filter, ct), Disposing);
        Show(read, filter, page);
    }

    /// <summary>
    /// Shows a page read, unless a read started later has already been shown or the view has changed since (a slow
    /// read never overwrites a newer one). Announces what changed state, and keeps the page for the next change.
    /// </summary>
    private void Show(long read, RunsFilter filter, RunGridPage page)
    {
        if (read < _shownRead || !ReferenceEquals(filter, _filter))
        {
            return;
        }

        _shownRead = read;
        Announce(_loaded?.Page.Rows, page.Rows);
        _loaded = (filter, page);
        _rowIds = page.Rows.Select(r => r.Id).ToHashSet();
    }

    private Task<RunsSummary> SummaryAsync() =>
        Shared.GetAsync($"runs-summary:{Tenant.TenantId}", ct => Query.GetSummaryAsync(Tenant.TenantId, ct), Disposing);

    private void WriteUrl(bool replace = false)
    {
        var query = _filter.ToQuery();
        Navigation.NavigateTo(query.Length == 0 ? BasePath : $"{BasePath}?{query}", replace: replace);
    }

    private RunsFilter ParseUrl(string uri) =>
        RunsFilter.Parse(new Uri(uri).Query, _types.Select(t => t.Type).ToHashSet(StringComparer.Ordinal));

    /// <summary>Tells screen readers, politely, which runs on the page changed state since the last look.</summary>
    private void Announce(IReadOnlyList<RunGridRow>? before, IReadOnlyList<RunGridRow> after)
    {
        if (before is null)
        {
            return;
        }

        var previous = before.ToDictionary(r => r.Id);
        var changes = after
            .Where(r => previous.TryGetValue(r.Id, out var old) && (old.Status != r.Status || old.Outcome != r.Outcome))
            .Select(r => $"Run {r.Id} {DisplayName(r.Type)}: {OperationVisuals.State(r.Status, r.Outcome).Text}.")
            .ToList();
        if (changes.Count > 0)
        {
            _announcement = changes.Count <= 3 ? string.Join(" ", changes) : $"{changes.Count} runs changed state.";
        }
    }

    private string RunLink(long runId)
    {
        var from = _filter.ToQuery();
        return HubLinks.Run(Tenant.ExternalId, runId) + (from.Length == 0 ? "" : $"?from={Uri.EscapeDataString(from)}");
    }

    private string DisplayName(string type) => Registry.DisplayNameOf(type);

    private RunGridCells.RowCells CellsOf(RunGridRow run) => _cells.For(new RunGridCells.RowKey(
        run.Id, RunLink(run.Id), run.Type, DisplayName(run.Type), run.Status, run.Outcome,
        Query.StaleFor(run) is { } silent ? OperationVisuals.RunningDuration(silent) : null,
        run.Target, run.InitiatorName, OperationVisuals.Relative(run.CreatedAt, Now), Viewer.Both(run.CreatedAt), run.Processed, run.Total));

    private TimeSpan? DurationOf(RunGridRow row) => row.StartedAt is not { } started ? null
        : (row.CompletedAt ?? Now) - started;

    /// <summary>"1 new run matches this view", "3 new runs match this view".</summary>
    internal static string NewRunsText(int count) =>
        count == 1 ? "1 new run matches this view" : $"{count.ToString("N0", System.Globalization.CultureInfo.CurrentCulture)} new runs match this view";
}
