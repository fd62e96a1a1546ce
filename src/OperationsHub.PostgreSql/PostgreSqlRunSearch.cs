using Microsoft.EntityFrameworkCore;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Storage;

namespace OperationsHub.PostgreSql;

/// <summary>
/// Grid reads on PostgreSQL: a target search is an ILIKE over the pg_trgm GIN index; the planner, with real statistics,
/// chooses between it and the grid's other indexes itself.
/// </summary>
internal sealed class PostgreSqlRunSearch : IRunSearch
{
    public Task<IQueryable<OperationRun>> RunsAsync(HubDbContext db, RunSearch search, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(search);
        IQueryable<OperationRun> runs = db.Runs;
        if (search.Text is { } text)
        {
            var pattern = RunSearch.ContainsPattern(text);
            runs = runs.Where(r => r.Target != null && EF.Functions.ILike(r.Target, pattern, "\\"));
        }

        return Task.FromResult(runs);
    }
}
