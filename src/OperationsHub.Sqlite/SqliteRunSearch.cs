using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Storage;

namespace OperationsHub.Sqlite;

/// <summary>
/// Grid reads on SQLite. Target search runs on the FTS5 trigram table <c>run_search</c> (kept by triggers), whose
/// rowid is the run's id, so "newest first" is read straight off the index in order. Active-only views go through
/// the small partial index that holds only queued and running runs.
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
        // few active runs are wanted) and the text is common, the runs index finds the candidates and a LIKE checks
        // each; otherwise the trigram index leads, read in the grid's order. Both match case-insensitive substrings.
        var runsDriven = search.ActiveOnly
            || (text is not null && search.SelectiveFilters && await IsCommonTermAsync(db, text, cancellationToken));
        if (text is not null && !runsDriven)
        {
            return db.Runs.FromSqlRaw(SearchSql(db), new SqliteParameter("phrase", Phrase(text)));
        }

        var runs = search.ActiveOnly ? ActiveRuns(db) : db.Runs;
        return text is null ? runs : runs.Where(r => r.Target != null && EF.Functions.Like(r.Target, RunSearch.ContainsPattern(text), "\\"));
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

    /// <summary>An FTS5 phrase: quotes doubled, so the text is searched for literally, never parsed as query syntax.</summary>
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
        return $"SELECT {string.Join(", ", columns)} FROM run_search s JOIN operation_runs r ON r.id = s.rowid WHERE run_search MATCH @phrase";
    }
}
