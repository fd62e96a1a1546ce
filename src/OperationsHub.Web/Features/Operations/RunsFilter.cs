using System.Collections.Frozen;
using System.Globalization;
using Microsoft.AspNetCore.WebUtilities;
using OperationsHub.Core.Domain;

namespace OperationsHub.Web.Features.Operations;

public enum RunTimeRange
{
    All,
    LastHour,
    Last24Hours,
    Last7Days,
    Last30Days,
}

/// <summary>The grid's order: by run number (the default, newest first), by creation time, or by duration.</summary>
public enum RunsSort
{
    Newest,
    Oldest,
    CreatedNewest,
    CreatedOldest,

    /// <summary>Longest finished runs first; runs without a duration (queued, running, never started) last.</summary>
    LongestFirst,

    /// <summary>Runs without a duration first, then the shortest.</summary>
    ShortestFirst,
}

/// <summary>The grid columns that sort.</summary>
public enum RunsSortColumn
{
    Run,
    Created,
    Duration,
}

/// <summary>
/// Everything that decides which runs the grid shows. It round-trips through the URL query, so every view is a deep
/// link and back/forward work. Unknown or malformed values are dropped, never an error: a link is a hint, not a command.
/// </summary>
public sealed record RunsFilter
{
    public static readonly IReadOnlyList<int> PageSizes = [10, 25, 50, 100];
    public const int DefaultPageSize = 25;
    public const int MaxTextLength = 100;

    public IReadOnlySet<RunStatus> Statuses { get; init; } = FrozenSet<RunStatus>.Empty;

    public IReadOnlySet<RunOutcome> Outcomes { get; init; } = FrozenSet<RunOutcome>.Empty;

    public IReadOnlySet<string> Types { get; init; } = FrozenSet<string>.Empty;

    public bool MineOnly { get; init; }

    /// <summary>
    /// Running runs whose heartbeat is overdue ("may be stuck"): chosen in the status filter beside the statuses
    /// ("status=stale"). With Running also chosen it adds nothing; with Queued it adds the stale running runs to them.
    /// </summary>
    public bool StaleOnly { get; init; }

    public RunTimeRange Range { get; init; }

    public string? Text { get; init; }

    public RunsSort Sort { get; init; }

    /// <summary>Zero-based.</summary>
    public int Page { get; init; }

    public int PageSize { get; init; } = DefaultPageSize;

    public bool HasCriteria => Statuses.Count > 0 || StaleOnly || Outcomes.Count > 0 || Types.Count > 0 || MineOnly
        || Range != RunTimeRange.All || !string.IsNullOrEmpty(Text);

    /// <summary>The view the summary strip's "queued now" / "running now" / "failed in 24 h" buttons open.</summary>
    public static RunsFilter QueuedNow { get; } = new() { Statuses = new[] { RunStatus.Queued }.ToFrozenSet() };

    public static RunsFilter RunningNow { get; } = new() { Statuses = new[] { RunStatus.Running }.ToFrozenSet() };

    public static RunsFilter FailedLastDay { get; } =
        new() { Outcomes = new[] { RunOutcome.Failed }.ToFrozenSet(), Range = RunTimeRange.Last24Hours };

    /// <summary>Same criteria (ignoring page, page size and sort)? Used to tell a new search from paging.</summary>
    public bool SameCriteria(RunsFilter other) =>
        Statuses.SetEquals(other.Statuses) && StaleOnly == other.StaleOnly && Outcomes.SetEquals(other.Outcomes) && Types.SetEquals(other.Types)
        && MineOnly == other.MineOnly && Range == other.Range && string.Equals(Text, other.Text, StringComparison.Ordinal);

    public bool Equivalent(RunsFilter other) =>
        SameCriteria(other) && Sort == other.Sort && Page == other.Page && PageSize == other.PageSize;

    public static RunsFilter Parse(string query, IReadOnlySet<string> knownTypes)
    {
        var values = QueryHelpers.ParseQuery(query);
        string? One(string key) => values.TryGetValue(key, out var v) ? v.ToString() : null;
        IEnumerable<string> Many(string key) =>
            (One(key) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

        var page = int.TryParse(One("page"), NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p is >= 1 and <= 1_000_000 ? p - 1 : 0;
        var size = int.TryParse(One("size"), NumberStyles.None, CultureInfo.InvariantCulture, out var s) && PageSizes.Contains(s) ? s : DefaultPageSize;
        var text = One("q")?.Trim();
        return new RunsFilter
        {
            Statuses = Many("status").Select(ParseStatus).OfType<RunStatus>().ToFrozenSet(),
            StaleOnly = Many("status").Contains(StaleKey, StringComparer.Ordinal),
            Outcomes = Many("outcome").Select(ParseOutcome).OfType<RunOutcome>().ToFrozenSet(),
            Types = Many("type").Where(knownTypes.Contains).ToFrozenSet(StringComparer.Ordinal),
            MineOnly = string.Equals(One("mine"), "true", StringComparison.OrdinalIgnoreCase),
            Range = One("range") switch
            {
                "1h" => RunTimeRange.LastHour,
                "24h" => RunTimeRange.Last24Hours,
                "7d" => RunTimeRange.Last7Days,
                "30d" => RunTimeRange.Last30Days,
                _ => RunTimeRange.All,
            },
            Text = string.IsNullOrEmpty(text) ? null : text.Length > MaxTextLength ? text[..MaxTextLength] : text,
            Sort = ParseSort(One("sort")),
            Page = page,
            PageSize = size,
        };
    }

    /// <summary>The query string for this view (without "?"), with defaults left out so links stay short.</summary>
    public string ToQuery()
    {
        var parts = new List<KeyValuePair<string, string?>>();
        if (Statuses.Count > 0 || StaleOnly)
        {
            var keys = Statuses.Order().Select(StatusKey).ToList();
            if (StaleOnly)
            {
                // After "running", where it belongs in the list.
                keys.Insert(keys.Count(k => k is "queued" or "running"), StaleKey);
            }

            parts.Add(new("status", string.Join(',', keys)));
        }

        if (Outcomes.Count > 0)
        {
            parts.Add(new("outcome", string.Join(',', Outcomes.Order().Select(OutcomeKey))));
        }

        if (Types.Count > 0)
        {
            parts.Add(new("type", string.Join(',', Types.Order(StringComparer.Ordinal))));
        }

        if (MineOnly)
        {
            parts.Add(new("mine", "true"));
        }

        if (Range != RunTimeRange.All)
        {
            parts.Add(new("range", RangeKey(Range)));
        }

        if (!string.IsNullOrEmpty(Text))
        {
            parts.Add(new("q", Text));
        }

        if (Sort != RunsSort.Newest)
        {
            parts.Add(new("sort", SortKey(Sort)));
        }

        if (Page > 0)
        {
            parts.Add(new("page", (Page + 1).ToString(CultureInfo.InvariantCulture)));
        }

        if (PageSize != DefaultPageSize)
        {
            parts.Add(new("size", PageSize.ToString(CultureInfo.InvariantCulture)));
        }

        return QueryHelpers.AddQueryString("", parts).TrimStart('?');
    }

    /// <summary>The sort's column.</summary>
    public static RunsSortColumn ColumnOf(RunsSort sort) => sort switch
    {
        RunsSort.CreatedNewest or RunsSort.CreatedOldest => RunsSortColumn.Created,
        RunsSort.LongestFirst or RunsSort.ShortestFirst => RunsSortColumn.Duration,
        _ => RunsSortColumn.Run,
    };

    /// <summary>Ascending (oldest, shortest first)?</summary>
    public static bool IsAscending(RunsSort sort) => sort is RunsSort.Oldest or RunsSort.CreatedOldest or RunsSort.ShortestFirst;

    /// <summary>
    /// What clicking a column's header does: a new column starts descending (newest, longest first), the current
    /// column flips its direction.
    /// </summary>
    public static RunsSort Toggle(RunsSort current, RunsSortColumn column) => (column, ColumnOf(current) == column && !IsAscending(current)) switch
    {
        (RunsSortColumn.Created, true) => RunsSort.CreatedOldest,
        (RunsSortColumn.Created, false) => RunsSort.CreatedNewest,
        (RunsSortColumn.Duration, true) => RunsSort.ShortestFirst,
        (RunsSortColumn.Duration, false) => RunsSort.LongestFirst,
        (_, true) => RunsSort.Oldest,
        _ => RunsSort.Newest,
    };

    /// <summary>The sort's key in the URL; the default (run number, newest first) has none.</summary>
    public static string SortKey(RunsSort sort) => sort switch
    {
        RunsSort.Oldest => "oldest",
        RunsSort.CreatedNewest => "created-desc",
        RunsSort.CreatedOldest => "created-asc",
        RunsSort.LongestFirst => "duration-desc",
        RunsSort.ShortestFirst => "duration-asc",
        _ => "newest",
    };

    /// <summary>The sort a URL key names; the default for anything else.</summary>
    public static RunsSort ParseSort(string? value) => value switch
    {
        "oldest" => RunsSort.Oldest,
        "created-desc" => RunsSort.CreatedNewest,
        "created-asc" => RunsSort.CreatedOldest,
        "duration-desc" => RunsSort.LongestFirst,
        "duration-asc" => RunsSort.ShortestFirst,
        _ => RunsSort.Newest,
    };

    public static string StatusKey(RunStatus status) => status.ToString().ToLowerInvariant();

    /// <summary>The status filter's key for running runs without a recent heartbeat.</summary>
    public const string StaleKey = "stale";

    public static string OutcomeKey(RunOutcome outcome) => outcome switch
    {
        RunOutcome.PartiallySucceeded => "partially_succeeded",
        _ => outcome.ToString().ToLowerInvariant(),
    };

    public static string RangeKey(RunTimeRange range) => range switch
    {
        RunTimeRange.LastHour => "1h",
        RunTimeRange.Last24Hours => "24h",
        RunTimeRange.Last7Days => "7d",
        RunTimeRange.Last30Days => "30d",
        _ => "all",
    };

    public static TimeSpan? RangeSpan(RunTimeRange range) => range switch
    {
        RunTimeRange.LastHour => TimeSpan.FromHours(1),
        RunTimeRange.Last24Hours => TimeSpan.FromHours(24),
        RunTimeRange.Last7Days => TimeSpan.FromDays(7),
        RunTimeRange.Last30Days => TimeSpan.FromDays(30),
        _ => null,
    };

    internal static RunStatus? ParseStatus(string value) => value switch
    {
        "queued" => RunStatus.Queued,
        "running" => RunStatus.Running,
        "completed" => RunStatus.Completed,
        _ => null,
    };

    internal static RunOutcome? ParseOutcome(string value) => value switch
    {
        "succeeded" => RunOutcome.Succeeded,
        "partially_succeeded" => RunOutcome.PartiallySucceeded,
        "failed" => RunOutcome.Failed,
        "cancelled" => RunOutcome.Cancelled,
        _ => null,
    };
}
