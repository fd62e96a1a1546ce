using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Storage;

namespace OperationsHub.Sqlite;

/// <summary>
/// Grid reads on SQLite. Search runs on the FTS5 trigram table <c>run_search</c> (target, initiator name and type, kept
/// by triggers), whose rowid is the run's id, so "newest first" is read straight off the index in order. Active-only
/// views go through the small partial index that holds only queued and running runs.
/// </summary>
internal sealed class SqliteRunSearch : IRunSearch
{
    private string? _searchSql;

    /// <summary>Above this many matches a term is cheaper to check row by row than to walk in the trigram index.</summary>
    internal int CommonTermThreshold { get; init; } = 2_000;

    public async Task<IQueryable<OperationRun>> RunsAsync(HubDbContext db, RunSearch search, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(search);
        var text = search.Text;
        // Which side drives a text search: when other filters have an index of their own combination (or only the
        // few active runs are wanted, or the order is not the run number's) and the text is common, the runs index
        // finds the candidates and a LIKE checks each; otherwise the trigram index leads, read in the grid's order.
        // Both match case-insensitive substrings. A type key under three characters has no trigram: the LIKE side.
        var runsDriven = search.ActiveOnly
            || search.Types.Any(t => t.Length < 3)
            || (text is not null && (search.SelectiveFilters || !search.RunNumberOrder) && await IsCommonTermAsync(db, search, cancellationToken));
        if (text is not null && !runsDriven)
        {
            var found = db.Runs.FromSqlRaw(SearchSql(db), new SqliteParameter("query", MatchQuery(search)));
            // The trigram phrase for a type key also matches longer keys that contain it: the exact set decides.
            return search.Types.Count == 0 ? found : Like(found, text, search.Types);
        }

        var runs = search.ActiveOnly ? ActiveRuns(db) : db.Runs;
        return text is null ? runs : Like(runs, text, search.Types);
    }

    /// <summary>
    /// Target or initiator's name containing the text, or one of the named types (an empty set adds nothing: EF
    /// Core drops an empty IN).
    /// </summary>
    private static IQueryable<OperationRun> Like(IQueryable<OperationRun> runs, string text, IReadOnlyList<string> types)
    {
        var pattern = RunSearch.ContainsPattern(text);
        var typeList = types.ToList();
        return runs.Where(r => (r.Target != null && EF.Functions.Like(r.Target, pattern, "\\"))
            || (r.InitiatorName != null && EF.Functions.Like(r.InitiatorName, pattern, "\\"))
            || EF.Constant(typeList).Contains(r.Type));
    }

    /// <summary>
    /// Whether the search matches many runs (of all tenants). A probe of the trigram index that stops at
    /// <see cref="CommonTermThreshold"/>: the one case where a page load costs a second, cheap statement.
    /// </summary>
    private async Task<bool> IsCommonTermAsync(HubDbContext db, RunSearch search, CancellationToken cancellationToken)
    {
        var query = MatchQuery(search);
        var threshold = CommonTermThreshold;
        var matches = await db.Database
            .SqlQuery<int>($"SELECT COUNT(*) AS \"Value\" FROM (SELECT 1 FROM run_search WHERE run_search MATCH {query} LIMIT {threshold})")
            .ToListAsync(cancellationToken);
        return matches.Single() >= threshold;
    }

    /// <summary>
    /// The FTS5 query: the text as a phrase in the target and initiator columns, or a matched type key in the type
    /// column. Phrases have their quotes doubled, so text is searched for literally, never parsed as query syntax.
    /// </summary>
    internal static string MatchQuery(RunSearch search) =>
        string.Join(" OR ", search.Types.Select(t => "type : " + Phrase(t)).Prepend("{target initiator_name} : " + Phrase(search.Text!)));

    private static string Phrase(string text) => "\"" + text.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>
    /// Queued and running runs through the small partial index that holds only them. SQLite's planner, knowing only
    /// that a status covers a third of the rows on average, would otherwise walk the whole tenant in id order.
    /// </summary>
    private static IQueryable<OperationRun> ActiveRuns(HubDbContext db) =>
        db.Runs.FromSqlRaw("SELECT * FROM operation_runs INDEXED BY ux_operation_runs_active_identity WHERE " + HubDbContext.ActiveRunFilter);

    private string SearchSql(HubDbContext db) => _searchSql ??= BuildSearchSql(db);

    private static string BuildSearchSql(HubDbContext db)
    {
        var entity = db.Model.FindEntityType(typeof(OperationRun))!;
        var columns = entity.GetProperties().Select(p => p.GetColumnName()).Select(c =>
            c == "id" ? "s.rowid AS \"id\"" : $"r.\"{c}\"");
        return $"SELECT {string.Join(", ", columns)} FROM run_search s JOIN operation_runs r ON r.id = s.rowid WHERE run_search MATCH @query";
    }
}
