using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Routing;
using MudBlazor;
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
    private readonly int[] _pageSizes = [.. RunsFilter.PageSizes];
    private MudDataGrid<RunGridRow>? _grid;
    private RunsFilter _filter = new();
    private (RunsFilter Filter, RunGridPage Page)? _loaded;
    private GridData<RunGridRow>? _shown;
    private List<RunGridRow> _shownRows = [];
    private HashSet<long> _rowIds = [];
    private IReadOnlyList<OperationTypeDescriptor> _types = [];
    private RunsSummary? _summary;
    private bool _live = true;
    private bool _missedWhilePaused;
    private bool _forceReload;
    private long? _watermark;
    private int _newRuns;
    private string _announcement = "";

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

    [Parameter, EditorRequired]
    public TenantContext Tenant { get; set; } = default!;

    private DateTime Now => Time.GetUtcNow().UtcDateTime;

    private string BasePath => HubLinks.Operations(Tenant.ExternalId);

    private string PagerInfo => _loaded?.Page.TotalIsCapped == true
        ? "{first_item}-{last_item} of " + RunsGridQuery.CountCap.ToString("N0", System.Globalization.CultureInfo.InvariantCulture) + "+"
        : "{first_item}-{last_item} of {all_items}";

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
            _ = RefreshRelativeTimesAsync(Disposing);
        }
    }

    private async Task<GridData<RunGridRow>> LoadAsync(GridState<RunGridRow> state, CancellationToken cancellationToken)
    {
        var sort = state.SortDefinitions.FirstOrDefault() is { Descending: false } ? RunsSort.Oldest : RunsSort.Newest;
        var wanted = _filter with { Page = state.Page, PageSize = state.PageSize, Sort = sort };

        // MudDataGrid may ask twice for the same view (first render, parameter sync); the second costs nothing.
        if (!_forceReload && _loaded is { } last && last.Filter.Equivalent(wanted) && _shown is not null)
        {
            return _shown;
        }

        _forceReload = false;
        var page = await Query.GetPageAsync(Tenant.TenantId, Tenant.UserId, wanted, cancellationToken);
        Remember(wanted, page);
        if (wanted.Page == 0 && wanted.Sort == RunsSort.Newest)
        {
            _newRuns = 0;
            _watermark = null;
        }

        if (!wanted.Equivalent(_filter))
        {
            // The pager or a column header changed the view: record it in the URL (a new history entry).
            _filter = wanted;
            WriteUrl();
        }

        _shownRows = [.. page.Rows];
        _shown = new GridData<RunGridRow> { Items = _shownRows, TotalItems = page.Total };
        return _shown;
    }

    private async Task ApplyFilterAsync(RunsFilter filter)
    {
        if (filter.Equivalent(_filter))
        {
            return;
        }

        _filter = filter;
        _newRuns = 0;
        _watermark = null;
        WriteUrl();
        await ReloadGridAsync();
    }

    private async Task SetLiveAsync(bool live)
    {
        _live = live;
        if (live && _missedWhilePaused)
        {
            _missedWhilePaused = false;
            _summary = await Query.GetSummaryAsync(Tenant.TenantId, Disposing);
            await ReloadGridAsync();
        }
    }

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
        var atHead = _filter.Page == 0 && _filter.Sort == RunsSort.Newest;
        var touchesPage = batch.Overflowed || batch.Changes.Any(c => _rowIds.Contains(c.RunId));
        if (atHead || touchesPage)
        {
            await RefreshShownPageAsync();
        }

        var created = batch.Changes.Where(c => c.Version == 1 && !_rowIds.Contains(c.RunId)).Select(c => c.RunId).ToList();
        if (!atHead && created.Count > 0)
        {
            _watermark ??= created.Min() - 1;
            _newRuns = await Query.CountNewerAsync(Tenant.TenantId, Tenant.UserId, _filter, _watermark.Value, Disposing);
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
                await ReloadGridAsync();
            });
        }
    }

    /// <summary>
    /// A live change: the same view, fresh rows. The grid's own reload shows a loading bar and rebuilds the whole table
    /// in the browser on every change, which costs every watching page a full layout; instead the rows it is showing
    /// are replaced in place and only the cells that changed are sent. A different view still goes through the grid.
    /// </summary>
    private async Task RefreshShownPageAsync()
    {
        if (_shown is null || _loaded is not { } last || !last.Filter.Equivalent(_filter))
        {
            await ReloadGridAsync();
            return;
        }

        var filter = last.Filter;
        // Watchers of the same view share one read per change; "started by me" views are per user. The query string
        // already names the page, its size and the sort.
        var key = $"runs-page:{Tenant.TenantId}:{(filter.MineOnly ? Tenant.UserId : 0)}:{filter.ToQuery()}";
        var page = await Shared.GetAsync(key, ct => Query.GetPageAsync(Tenant.TenantId, Tenant.UserId, filter, ct), Disposing);
        Remember(filter, page);
        // The same list, refilled: the grid keys its body by it, so a new list would rebuild the whole body.
        _shownRows.Clear();
        _shownRows.AddRange(page.Rows);
        _shown.TotalItems = page.Total;
    }

    /// <summary>The page now shown: announce what changed state since the last one, and keep it for the next change.</summary>
    private void Remember(RunsFilter filter, RunGridPage page)
    {
        Announce(_loaded?.Page.Rows, page.Rows);
        _loaded = (filter, page);
        _rowIds = page.Rows.Select(r => r.Id).ToHashSet();
    }

    private Task<RunsSummary> SummaryAsync() =>
        Shared.GetAsync($"runs-summary:{Tenant.TenantId}", ct => Query.GetSummaryAsync(Tenant.TenantId, ct), Disposing);

    private async Task ReloadGridAsync()
    {
        _forceReload = true;
        if (_grid is not null)
        {
            await _grid.ReloadServerData();
        }
    }

    private void WriteUrl()
    {
        var query = _filter.ToQuery();
        Navigation.NavigateTo(query.Length == 0 ? BasePath : $"{BasePath}?{query}");
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

    private async Task RefreshRelativeTimesAsync(CancellationToken cancellationToken)
    {
        // "3 min ago" ages even when nothing changes.
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(30), Time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                await InvokeAsync(StateHasChanged);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private string RunLink(long runId)
    {
        var from = _filter.ToQuery();
        return HubLinks.Run(Tenant.ExternalId, runId) + (from.Length == 0 ? "" : $"?from={Uri.EscapeDataString(from)}");
    }

    private string DisplayName(string type) => Registry.DisplayNameOf(type);

    private TimeSpan? DurationOf(RunGridRow row) => row.StartedAt is not { } started ? null
        : (row.CompletedAt ?? Now) - started;

    private static double Percent(RunGridRow row) => row.Total <= 0 ? 0 : Math.Clamp(100.0 * row.Processed / row.Total, 0, 100);
}
