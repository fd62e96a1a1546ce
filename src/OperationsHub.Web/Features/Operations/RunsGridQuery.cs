using System.Collections.Frozen;
using System.Globalization;
using Microsoft.EntityFrameworkCore;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Operations;
using OperationsHub.Core.Sanitization;
using OperationsHub.Core.Storage;

namespace OperationsHub.Web.Features.Operations;

public sealed record RunGridRow(
    long Id,
    string Type,
    RunStatus Status,
    RunOutcome Outcome,
    string? Target,
    string? InitiatorName,
    DateTime CreatedAt,
    DateTime? StartedAt,
    DateTime? CompletedAt,
    int Processed,
    int Total,
    int Version,
    DateTime? LeaseExpiresAt = null);

/// <summary>One page of the grid. <see cref="TotalIsCapped"/>: there are more than <see cref="Total"/> matches.</summary>
public sealed record RunGridPage(IReadOnlyList<RunGridRow> Rows, int Total, bool TotalIsCapped);

public sealed record RunsSummary(int Queued, int Running, int FailedLastDay);

/// <summary>
/// The runs grid's reads, shaped by the screen. Each user action costs one SQL statement: the page and its (capped)
/// count travel together. Every filter has an index that keeps the grid's order (see HubDbContext and each provider),
/// search (target, initiator, operation name) uses the provider's trigram index (<see cref="IRunSearch"/>), and counting stops at <see cref="CountCap"/>, so no view of a million-run tenant scans it all.
/// </summary>
public sealed class RunsGridQuery(
    IDbContextFactory<HubDbContext> dbFactory,
    IRunSearch search,
    OperationTypeRegistry registry,
    TimeProvider time,
    Microsoft.Extensions.Options.IOptions<Core.Worker.WorkerOptions>? worker = null,
    Core.Runs.DatabaseClock? clock = null)
{
    private readonly Core.Worker.WorkerOptions _worker = worker?.Value ?? new Core.Worker.WorkerOptions();

    /// <summary>
    /// "Now" on the clock leases are written by (the database's, see <see cref="Core.Runs.DatabaseClock"/>): a node whose
    /// own clock is behind would otherwise call no run stale, and one ahead would call live runs stuck.
    /// </summary>
    private DateTime LeaseNow => clock?.UtcNow ?? time.GetUtcNow().UtcDateTime;

    /// <summary>Counting stops here; beyond it the grid says "10,000+" and asks for a narrower filter.</summary>
    public const int CountCap = 10_000;

    /// <summary>Trigram search needs three characters; shorter text only matches run numbers.</summary>
    public const int MinSearchLength = 3;

    public async Task<RunGridPage> GetPageAsync(long tenantId, long userId, RunsFilter filter, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var (filtered, counted) = await FilteredAsync(db, tenantId, userId, filter, cancellationToken);
        var ordered = Ordered(filtered, filter.Sort);
        var skip = filter.Page * filter.PageSize;
        if (skip >= CountCap)
        {
            skip = Math.Max(0, (CountCap / filter.PageSize - 1) * filter.PageSize);
        }

        var page = await ordered
            .Skip(skip)
            .Take(filter.PageSize)
            .Select(r => new
            {
                Row = new RunGridRow(r.Id, r.Type, r.Status, r.Outcome, r.Target, r.InitiatorName, r.CreatedAt, r.StartedAt,
                    r.CompletedAt, r.ProcessedCount, r.TotalCount, r.Version, r.LeaseExpiresAt),
                // Uncorrelated, so SQLite evaluates it once for the statement: page and count in one round trip.
                Count = counted.Take(CountCap + 1).Count(),
            })
            .ToListAsync(cancellationToken);

        // No rows on the first page means no matches; only a page past the end needs its own count.
        var count = page.Count > 0 ? page[0].Count
            : skip == 0 ? 0
            : await counted.Take(CountCap + 1).CountAsync(cancellationToken);
        return new RunGridPage(page.Select(p => p.Row).ToList(), Math.Min(count, CountCap), count > CountCap);
    }

    /// <summary>
    /// The grid's order, the run number breaking ties. "Newest first" is "highest id first": the order every grid
    /// index already keeps (rowid within equal keys), which lets SQLite stop after one page instead of sorting. The
    /// Created and Duration sorts read their own index, (tenant_id, created_at) and (tenant_id, duration_ms).
    /// </summary>
    private static IOrderedQueryable<OperationRun> Ordered(IQueryable<OperationRun> runs, RunsSort sort) => sort switch
    {
        RunsSort.Oldest => runs.OrderBy(r => r.Id),
        RunsSort.CreatedNewest => runs.OrderByDescending(r => r.CreatedAt).ThenByDescending(r => r.Id),
        RunsSort.CreatedOldest => runs.OrderBy(r => r.CreatedAt).ThenBy(r => r.Id),
        RunsSort.LongestFirst => runs.OrderByDescending(r => r.DurationMs).ThenByDescending(r => r.Id),
        RunsSort.ShortestFirst => runs.OrderBy(r => r.DurationMs).ThenBy(r => r.Id),
        _ => runs.OrderByDescending(r => r.Id),
    };

    /// <summary>
    /// The API's list: the filter's runs newest first, from below the run number <paramref name="before"/> (the cursor
    /// of the page before), <paramref name="limit"/> of them, each read through <paramref name="select"/>. Keyset
    /// paging: no page is skipped or read twice however many runs start while a client pages through.
    /// </summary>
    public async Task<List<T>> ReadNewestBeforeAsync<T>(
        long tenantId, long userId, RunsFilter filter, long? before, int limit,
        System.Linq.Expressions.Expression<Func<OperationRun, T>> select, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var (page, _) = await FilteredAsync(db, tenantId, userId, filter with { Sort = RunsSort.Newest }, cancellationToken);
        if (before is { } cursor)
        {
            page = page.Where(r => r.Id < cursor);
        }

        return await page.OrderByDescending(r => r.Id).Take(limit).Select(select).ToListAsync(cancellationToken);
    }

    /// <summary>How many of the runs <paramref name="runIds"/> match the filter (for "N new runs").</summary>
    public async Task<int> CountAmongAsync(
        long tenantId, long userId, RunsFilter filter, IReadOnlyCollection<long> runIds, CancellationToken cancellationToken)
    {
        if (runIds.Count == 0)
        {
            return 0;
        }

        var ids = runIds.ToList();
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var (_, counted) = await FilteredAsync(db, tenantId, userId, filter, cancellationToken);
        return await counted.Where(r => ids.Contains(r.Id)).Take(CountCap + 1).CountAsync(cancellationToken);
    }

    /// <summary>How long a running run has gone without a heartbeat, when that makes it stale; else null.</summary>
    public TimeSpan? StaleFor(RunGridRow row) =>
        row.Status == RunStatus.Running ? _worker.StaleFor(row.LeaseExpiresAt, LeaseNow) : null;

    /// <summary>
    /// The runs a bulk action over "everything matching this filter" covers: up to <paramref name="limit"/> of them,
    /// oldest first, each with its status (for the dialog's "12 queued, 3 running, 2 already completed").
    /// </summary>
    public async Task<IReadOnlyList<(long Id, RunStatus Status)>> MatchingAsync(
        long tenantId, long userId, RunsFilter filter, int limit, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var (_, counted) = await FilteredAsync(db, tenantId, userId, filter, cancellationToken);
        var rows = await counted.OrderBy(r => r.Id).Take(limit).Select(r => new { r.Id, r.Status }).ToListAsync(cancellationToken);
        return [.. rows.Select(r => (r.Id, r.Status))];
    }

    /// <summary>The runs of <paramref name="runIds"/> that exist in the tenant, each with its status.</summary>
    public async Task<IReadOnlyList<(long Id, RunStatus Status)>> AmongAsync(
        long tenantId, IReadOnlyCollection<long> runIds, CancellationToken cancellationToken)
    {
        var ids = runIds.Distinct().ToList();
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var rows = await db.Runs.AsNoTracking().Where(r => r.TenantId == tenantId && ids.Contains(r.Id))
            .OrderBy(r => r.Id).Select(r => new { r.Id, r.Status }).ToListAsync(cancellationToken);
        return [.. rows.Select(r => (r.Id, r.Status))];
    }

    public async Task<RunsSummary> GetSummaryAsync(long tenantId, CancellationToken cancellationToken)
    {
        var since = time.GetUtcNow().UtcDateTime.AddHours(-24);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        // Two statements, both awaited: the id floor first (it turns "last 24 h" into an id range), then the counts.
        var floor = await IdFloorAsync(db, tenantId, since, cancellationToken);
        var summary = await db.Tenants.AsNoTracking()
            .Where(t => t.Id == tenantId)
            .Select(t => new RunsSummary(
                db.Runs.Count(r => r.TenantId == tenantId && r.Status == RunStatus.Queued),
                db.Runs.Count(r => r.TenantId == tenantId && r.Status == RunStatus.Running),
                db.Runs.Count(r => r.TenantId == tenantId && r.Outcome == RunOutcome.Failed && r.Id > floor && r.CreatedAt >= since)))
            .SingleOrDefaultAsync(cancellationToken);
        return summary ?? new RunsSummary(0, 0, 0);
    }

    /// <summary>
    /// An id every run created at or after <paramref name="since"/> is above: the id of the last run created before
    /// <c>since - CommitOrder.Slack</c> (0 when none; ids are not a clock, see <see cref="CommitOrder"/>). A bound on the order the grid's indexes keep, found by one index seek;
    /// the exact time filter still applies to the runs above it.
    /// </summary>
    private static async Task<long> IdFloorAsync(HubDbContext db, long tenantId, DateTime since, CancellationToken cancellationToken)
    {
        var before = since - CommitOrder.Slack;
        return await db.Runs.Where(x => x.TenantId == tenantId && x.CreatedAt < before)
            .OrderByDescending(x => x.CreatedAt)
            .Select(x => (long?)x.Id)
            .FirstOrDefaultAsync(cancellationToken) ?? 0;
    }

    /// <summary>The registered types whose display name contains the text ("restore" finds Restore's runs).</summary>
    private List<string> TypesNamed(string text) =>
        [.. registry.All.Where(d => d.DisplayName.Contains(text, StringComparison.OrdinalIgnoreCase)).Select(d => d.Type).Order(StringComparer.Ordinal)];

    /// <summary>"123" or "#123": a run number.</summary>
    public static bool TryParseRunNumber(string text, out long runId) =>
        long.TryParse(text.TrimStart('#'), NumberStyles.None, CultureInfo.InvariantCulture, out runId) && runId > 0;

    /// <summary>
    /// The runs matching the filter, twice over: <c>Page</c> for reading in the filter's order, <c>Counted</c> for
    /// counting, which has no order. They differ only for the Created and Duration sorts, where the count takes the
    /// run-number path (a search is counted in its trigram index, not by checking the text of every run in the
    /// sort's index); the statements awaited here (the id bound of a time range) run once for both.
    /// </summary>
    private async Task<(IQueryable<OperationRun> Page, IQueryable<OperationRun> Counted)> FilteredAsync(
        HubDbContext db, long tenantId, long userId, RunsFilter filter, CancellationToken cancellationToken)
    {
        // "Stale" is a kind of running: it counts as Running for everything below, and then narrows the running rows.
        var staleOnly = filter.StaleOnly && !filter.Statuses.Contains(RunStatus.Running);
        IReadOnlySet<RunStatus> statuses = filter.StaleOnly ? filter.Statuses.Append(RunStatus.Running).ToFrozenSet() : filter.Statuses;
        var staleBefore = _worker.StaleLeaseBefore(LeaseNow);
        if (filter.Outcomes.Count > 0)
        {
            // Every outcome a user can pick is terminal, so it already means "Completed".
            statuses = statuses.Count == 0 || statuses.Contains(RunStatus.Completed) ? System.Collections.Frozen.FrozenSet<RunStatus>.Empty : statuses;
            if (filter.Statuses.Count > 0 && statuses.Count > 0)
            {
                var none = db.Runs.Where(r => false);
                return (none, none);
            }
        }

        // Control characters mean nothing in a target and break the databases (PostgreSQL refuses a NUL in text;
        // SQLite's FTS5 reads it as the end of the string): the search is for the text without them.
        var searched = filter.Text is { } raw ? Sanitizer.RemoveControlCharacters(raw).Trim() : "";
        var text = searched.Length >= MinSearchLength && !TryParseRunNumber(searched, out _) ? searched : null;
        var activeOnly = statuses.Count > 0 && !statuses.Contains(RunStatus.Completed);
        // Filter pairs that have an index of their own: the provider may let that index lead a common search term.
        var selective = (filter.Types.Count > 0 && filter.Outcomes.Count > 0)
            || (filter.MineOnly && (filter.Types.Count > 0 || filter.Outcomes.Count > 0));
        var runSearch = new RunSearch(text, activeOnly, selective)
        {
            Types = text is null ? [] : TypesNamed(text),
            RunNumberOrder = RunsFilter.ColumnOf(filter.Sort) == RunsSortColumn.Run,
        };
        var page = await search.RunsAsync(db, runSearch, cancellationToken);
        var counted = runSearch.RunNumberOrder ? page : await search.RunsAsync(db, runSearch with { RunNumberOrder = true }, cancellationToken);

        // "Created since" also becomes an id floor: a bound on the order the indexes keep, so a page stops early.
        var since = RunsFilter.RangeSpan(filter.Range) is { } span ? time.GetUtcNow().UtcDateTime - span : (DateTime?)null;
        var floor = since is { } from ? await IdFloorAsync(db, tenantId, from, cancellationToken) : 0;
        var runNumber = searched.Length > 0 && text is null && TryParseRunNumber(searched, out var id) ? id : (long?)null;

        IQueryable<OperationRun> Narrow(IQueryable<OperationRun> runs)
        {
            var query = runs.AsNoTracking().Where(r => r.TenantId == tenantId);

            // The sets are small and come from enums or the registry, never raw user text: inlined as constants so
            // SQLite sees "IN ('Queued','Running')" and can use the matching index.
            if (statuses.Count > 0)
            {
                var statusList = statuses.Order().ToList();
                query = query.Where(r => EF.Constant(statusList).Contains(r.Status));
            }

            if (staleOnly)
            {
                query = query.Where(r => r.Status != RunStatus.Running || r.LeaseExpiresAt < staleBefore);
            }

            if (filter.Outcomes.Count > 0)
            {
                var outcomes = filter.Outcomes.ToList();
                query = query.Where(r => EF.Constant(outcomes).Contains(r.Outcome));
            }

            if (filter.Types.Count > 0)
            {
                var types = filter.Types.ToList();
                query = query.Where(r => EF.Constant(types).Contains(r.Type));
            }

            if (filter.MineOnly)
            {
                query = query.Where(r => r.InitiatorUserId == userId);
            }

            if (since is { } start)
            {
                query = query.Where(r => r.Id > floor && r.CreatedAt >= start);
            }

            if (runNumber is { } runId)
            {
                // A run number ("123", "#123"). Text too short for trigram search (a link with ?q=ab) filters nothing:
                // the page shows its hint and the rows it would show without it.
                query = query.Where(r => r.Id == runId);
            }

            return query;
        }

        var narrowedPage = Narrow(page);
        return (narrowedPage, ReferenceEquals(counted, page) ? narrowedPage : Narrow(counted));
    }
}
