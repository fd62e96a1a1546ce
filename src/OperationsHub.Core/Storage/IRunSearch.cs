using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;

namespace OperationsHub.Core.Storage;

/// <summary>
/// Where a runs-grid read starts, per provider: the text search over targets (SQLite: an FTS5 trigram index; PostgreSQL:
/// a pg_trgm GIN index with ILIKE) and the path to the few active runs. The grid adds its other filters and its order.
/// </summary>
public interface IRunSearch
{
    /// <summary>
    /// Runs of every tenant, narrowed to those whose target contains <see cref="RunSearch.Text"/> (a case-insensitive
    /// substring, never parsed as query syntax) when it is set. <see cref="RunSearch.ActiveOnly"/> says only queued
    /// and running runs are wanted; <see cref="RunSearch.SelectiveFilters"/> that the other filters have an index of
    /// their own. Both are hints for choosing the driving index; the grid still filters on everything.
    /// </summary>
    Task<IQueryable<OperationRun>> RunsAsync(HubDbContext db, RunSearch search, CancellationToken cancellationToken);
}

/// <summary>What a grid read searches for.</summary>
public sealed record RunSearch(string? Text, bool ActiveOnly, bool SelectiveFilters)
{
    /// <summary>A LIKE pattern matching <paramref name="text"/> anywhere, with <c>\</c> escaping its wildcards.</summary>
    public static string ContainsPattern(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return "%" + text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal)
            .Replace("_", "\\_", StringComparison.Ordinal) + "%";
    }
}
