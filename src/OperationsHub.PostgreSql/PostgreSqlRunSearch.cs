using Microsoft.EntityFrameworkCore;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Storage;

namespace OperationsHub.PostgreSql;

/// <summary>
/// Grid reads on PostgreSQL: a search is an ILIKE over the target's and the initiator name's pg_trgm GIN indexes (or the
/// operation types it names); the planner, with real statistics, chooses between them and the grid's other indexes.
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
            var types = search.Types.ToList();
            runs = types.Count == 0
                ? runs.Where(r => (r.Target != null && EF.Functions.ILike(r.Target, pattern, "\\"))
                    || (r.InitiatorName != null && EF.Functions.ILike(r.InitiatorName, pattern, "\\")))
                : runs.Where(r => (r.Target != null && EF.Functions.ILike(r.Target, pattern, "\\"))
                    || (r.InitiatorName != null && EF.Functions.ILike(r.InitiatorName, pattern, "\\"))
                    || types.Contains(r.Type));
        }

        return Task.FromResult(runs);
    }
}
