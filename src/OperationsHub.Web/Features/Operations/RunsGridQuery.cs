using System.Globalization;
using Microsoft.EntityFrameworkCore;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;

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
    int Version);

/// <summary>One page of the grid. <see cref="TotalIsCapped"/>: there are more than <see cref="Total"/> matches.</summary>
public sealed record RunGridPage(IReadOnlyList<RunGridRow> Rows, int Total, bool TotalIsCapped);

public sealed record RunsSummary(int Queued, int Running, int FailedLastDay);

/// <summary>
/// The runs grid's reads, shaped by the screen. Each user action costs one SQL statement: the page and its (capped)
/// count travel together. Every filter has an index ending in <c>created_at</c> (see HubDbContext), target search uses
/// the FTS5 trigram index, and counting stops at <see cref="CountCap"/>, so no view of a million-run tenant scans it all.
/// </summary>
public sealed class RunsGridQuery(IDbContextFactory<HubDbContext> dbFactory, TimeProvider time)
{
    /// <summary>Counting stops here; beyond it the grid says "10,000+" and asks for a narrower filter.</summary>
    public const int CountCap = 10_000;

    /// <summary>Trigram search needs three characters; shorter text only matches run numbers.</summary>
    public const int MinSearchLength = 3;

    public async Task<RunGridPage> GetPageAsync(long tenantId, long userId, RunsFilter filter, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var filtered = await FilteredAsync(db, tenantId, userId, filter, cancellationToken);
        // Run numbers grow with creation time, so "newest first" is "highest id first": the order every grid index
        // already keeps (rowid within equal keys), which lets SQLite stop after one page instead of sorting.
        var ordered = filter.Sort == RunsSort.Oldest
            ? filtered.OrderBy(r => r.Id)
            : filtered.OrderByDescending(r => r.Id);
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
                    r.CompletedAt, r.ProcessedCount, r.TotalCount, r.Version),
                // Uncorrelated, so SQLite evaluates it once for the statement: page and count in one round trip.
                Count = filtered.Take(CountCap + 1).Count(),
            })
            .ToListAsync(cancellationToken);

        // No rows on the first page means no matches; only a page past the end needs its own count.
        var count = page.Count > 0 ? page[0].Count
            : skip == 0 ? 0
            : await filtered.Take(CountCap + 1).CountAsync(cancellationToken);
        return new RunGridPage(page.Select(p => p.Row).ToList(), Math.Min(count, CountCap), count > CountCap);
    }

    /// <summary>How many runs matching the filter were created after <paramref name="afterId"/> (for "N new runs").</summary>
    public async Task<int> CountNewerAsync(long tenantId, long userId, RunsFilter filter, long afterId, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var filtered = await FilteredAsync(db, tenantId, userId, filter, cancellationToken);
        return await filtered.Where(r => r.Id > afterId).Take(CountCap + 1).CountAsync(cancellationToken);
    }

    public async Task<RunsSummary> GetSummaryAsync(long tenantId, CancellationToken cancellationToken)
    {
        var since = time.GetUtcNow().UtcDateTime.AddHours(-24);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        // Two statements, both awaited: the time bound first (it turns "last 24 h" into an id range), then the counts.
        var firstId = await FirstIdSince(db, tenantId, since).FirstOrDefaultAsync(cancellationToken) ?? long.MaxValue;
        var summary = await db.Tenants.AsNoTracking()
            .Where(t => t.Id == tenantId)
            .Select(t => new RunsSummary(
                db.Runs.Count(r => r.TenantId == tenantId && r.Status == RunStatus.Queued),
                db.Runs.Count(r => r.TenantId == tenantId && r.Status == RunStatus.Running),
                db.Runs.Count(r => r.TenantId == tenantId && r.Outcome == RunOutcome.Failed && r.Id >= firstId)))
            .SingleOrDefaultAsync(cancellationToken);
        return summary ?? new RunsSummary(0, 0, 0);
    }

    /// <summary>The id of the first run created at or after <paramref name="since"/> (none: no run since).</summary>
    private static IQueryable<long?> FirstIdSince(HubDbContext db, long tenantId, DateTime since) =>
        db.Runs.Where(x => x.TenantId == tenantId && x.CreatedAt >= since)
            .OrderBy(x => x.CreatedAt)
            .Select(x => (long?)x.Id);

    /// <summary>"123" or "#123": a run number.</summary>
    public static bool TryParseRunNumber(string text, out long runId) =>
        long.TryParse(text.TrimStart('#'), NumberStyles.None, CultureInfo.InvariantCulture, out runId) && runId > 0;

    private async Task<IQueryable<OperationRun>> FilteredAsync(
        HubDbContext db, long tenantId, long userId, RunsFilter filter, CancellationToken cancellationToken)
    {
        var statuses = filter.Statuses;
        if (filter.Outcomes.Count > 0)
        {
            // Every outcome a user can pick is terminal, so it already means "Completed".
            statuses = statuses.Count == 0 || statuses.Contains(RunStatus.Completed) ? System.Collections.Frozen.FrozenSet<RunStatus>.Empty : statuses;
            if (filter.Statuses.Count > 0 && statuses.Count > 0)
            {
                return db.Runs.Where(r => false);
            }
        }

        var text = filter.Text is { Length: >= MinSearchLength } t && !TryParseRunNumber(t, out _) ? t : null;
        var activeOnly = statuses.Count > 0 && !statuses.Contains(RunStatus.Completed);
        // Which side drives a text search: when other filters have an index of their own combination (or only the
        // few active runs are wanted) and the text is common, the runs index finds the candidates and a LIKE checks
        // each; otherwise the trigram index leads, read in the grid's order. Both match case-insensitive substrings.
        var runsDriven = activeOnly
            || (text is not null
                && ((filter.Types.Count > 0 && filter.Outcomes.Count > 0) || (filter.MineOnly && (filter.Types.Count > 0 || filter.Outcomes.Count > 0)))
                && await IsCommonTermAsync(db, text, cancellationToken));
        var query = (text is not null && !runsDriven ? SearchBase(db, text) : activeOnly ? ActiveBase(db) : db.Runs)
            .AsNoTracking()
            .Where(r => r.TenantId == tenantId);
        if (text is not null && runsDriven)
        {
            var pattern = "%" + text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal)
                .Replace("_", "\\_", StringComparison.Ordinal) + "%";
            query = query.Where(r => r.Target != null && EF.Functions.Like(r.Target, pattern, "\\"));
        }

        // The sets are small and come from enums or the registry, never raw user text: inlined as constants so
        // SQLite sees "IN ('Queued','Running')" and can use the matching index.
        if (statuses.Count > 0)
        {
            var statusList = statuses.Order().ToList();
            query = query.Where(r => EF.Constant(statusList).Contains(r.Status));
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

        if (RunsFilter.RangeSpan(filter.Range) is { } span)
        {
            // "Created since" becomes "id from the first run created since": a bound on the order the indexes keep.
            var since = time.GetUtcNow().UtcDateTime - span;
            var firstId = await FirstIdSince(db, tenantId, since).FirstOrDefaultAsync(cancellationToken) ?? long.MaxValue;
            query = query.Where(r => r.Id >= firstId);
        }

        if (filter.Text is { Length: > 0 } searched && text is null)
        {
            // A run number ("123", "#123"), or text too short for trigram search, which then matches nothing.
            query = TryParseRunNumber(searched, out var runId) ? query.Where(r => r.Id == runId) : query.Where(r => false);
        }

        return query;
    }

    /// <summary>
    /// Runs whose target contains the text, driven by the FTS5 trigram index. The run's id is taken from the index's
    /// rowid, so "newest first" is read straight off the index in order, with no sort of the matches.
    /// </summary>
    private static IQueryable<OperationRun> SearchBase(HubDbContext db, string text)
    {
        return db.Runs.FromSqlRaw(SearchSql(db), new Microsoft.Data.Sqlite.SqliteParameter("phrase", Phrase(text)));
    }

    /// <summary>
    /// Whether the text matches many runs (of all tenants). A probe of the trigram index that stops at
    /// <see cref="CommonTermThreshold"/>: the one case where a page load costs a second, cheap statement.
    /// </summary>
    private async Task<bool> IsCommonTermAsync(HubDbContext db, string text, CancellationToken cancellationToken)
    {
        var phrase = Phrase(text);
        var threshold = CommonTermThreshold;
        var matches = await db.Database
            .SqlQuery<int>($"SELECT COUNT(*) AS \"Value\" FROM (SELECT 1 FROM run_search WHERE run_search MATCH {phrase} LIMIT {threshold})")
            .ToListAsync(cancellationToken);
        return matches.Single() >= threshold;
    }

    /// <summary>Above this many matches a term is cheaper to check row by row than to walk in the trigram index.</summary>
    internal int CommonTermThreshold { get; init; } = 2_000;

    /// <summary>An FTS5 phrase: quotes doubled, so the text is searched for literally, never parsed as query syntax.</summary>
    private static string Phrase(string text) => "\"" + text.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>
    /// Queued and running runs through the small partial index that holds only them. SQLite's planner, knowing only
    /// that a status covers a third of the rows on average, would otherwise walk the whole tenant in id order.
    /// </summary>
    private static IQueryable<OperationRun> ActiveBase(HubDbContext db) =>
        db.Runs.FromSqlRaw("SELECT * FROM operation_runs INDEXED BY ux_operation_runs_active_identity WHERE " + HubDbContext.ActiveRunFilter);

    private static string? _searchSql;

    private static string SearchSql(HubDbContext db) => _searchSql ??= BuildSearchSql(db);

    private static string BuildSearchSql(HubDbContext db)
    {
        var entity = db.Model.FindEntityType(typeof(OperationRun))!;
        var columns = entity.GetProperties().Select(p => p.GetColumnName()).Select(c =>
            c == "id" ? "s.rowid AS \"id\"" : $"r.\"{c}\"");
        return $"SELECT {string.Join(", ", columns)} FROM run_search s JOIN operation_runs r ON r.id = s.rowid WHERE run_search MATCH @phrase";
    }
}
