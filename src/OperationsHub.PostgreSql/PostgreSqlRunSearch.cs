using Microsoft.EntityFrameworkCore;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Storage;

namespace OperationsHub.PostgreSql;

/// <summary>
/// Grid reads on PostgreSQL: a search is a LIKE over the generated, lower-cased search_text (target and initiator's
/// name) with its pg_trgm GIN index, or the operation types it names; the planner, with real statistics, chooses
/// between that index and the grid's other indexes.
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
            // search_text is lower-cased by the database; the text is lower-cased here, so LIKE is case-insensitive.
            var pattern = RunSearch.ContainsPattern(text.ToLowerInvariant());
            // The named types as constants (an empty set adds nothing: EF Core drops an empty IN).
            var types = search.Types.ToList();
            runs = runs.Where(r => EF.Functions.Like(EF.Property<string>(r, PostgreSqlModelCustomizer.SearchTextProperty), pattern, "\\")
                || EF.Constant(types).Contains(r.Type));
        }

        return Task.FromResult(runs);
    }
}
